import { ValidationError } from '../core/errors.ts';
import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { loadConfig, resolveDataDir } from '../core/config.ts';
import { createLogger } from '../core/logging.ts';
import { openPlatform, type Platform } from '../server/platform.ts';

/** Global options every command shares. */
export interface GlobalOptions {
  readonly dataDir?: string;
  readonly json?: boolean;
}

/** The global options of the root program, seen from a subcommand. */
export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** The audit actor for CLI invocations: the local OS user. */
export function cliActor(): { actor: string } {
  let name = 'unknown';
  try {
    name = userInfo().username;
  } catch {
    // containers without a passwd entry
  }
  return { actor: `cli:${name}` };
}

/** Opens the installation named by --data-dir / IMPRINT_DATA_DIR, runs `fn`, always closes it. */
export async function withPlatform<T>(cmd: Command, fn: (p: Platform) => Promise<T>): Promise<T> {
  const p = await openDataDir(globals(cmd).dataDir);
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

/** Prints `data` as JSON with --json, otherwise as aligned columns (arrays) or key: value lines (objects). */
export function output(cmd: Command, data: unknown, columns?: readonly string[]): void {
  if (globals(cmd).json === true) {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  if (Array.isArray(data)) {
    const rows = data as Record<string, unknown>[];
    const cols = columns ?? Object.keys(rows[0] ?? {});
    const cells = [cols, ...rows.map((r) => cols.map((c) => fmt(r[c])))];
    const widths = cols.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
    for (const row of cells)
      process.stdout.write(
        `${row
          .map((c, i) => c.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
      );
    if (rows.length === 0) process.stdout.write('(none)\n');
    return;
  }
  for (const [k, v] of Object.entries(data as Record<string, unknown>))
    process.stdout.write(`${k}: ${fmt(v)}\n`);
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Opens the installation named by the root program's --data-dir at call time (for command groups built before parsing). */
export function openFromProgram(program: Command): Promise<Platform> {
  return openDataDir(program.opts<GlobalOptions>().dataDir);
}

/** Opens the installation in a data dir given by flag, IMPRINT_DATA_DIR or the default. */
function openDataDir(flag: string | undefined): Promise<Platform> {
  // CLI commands log warnings only; their output is for the operator.
  return openPlatform(loadConfig(resolveDataDir(flag)), { logger: createLogger('warn', process.stderr) });
}

/** A tenant id from a name or id; the manufacturer when omitted. Throws ERR_TENANT_NOT_FOUND. */
export async function resolveTenant(
  p: { registry: { listTenants(): Promise<{ id: string; name: string; kind: string }[]> } },
  nameOrId: string | undefined,
): Promise<string> {
  const tenants = await p.registry.listTenants();
  const hit =
    nameOrId === undefined
      ? tenants.find((t) => t.kind === 'manufacturer')
      : tenants.find((t) => t.id === nameOrId || t.name === nameOrId);
  if (hit === undefined)
    throw new ValidationError('ERR_TENANT_NOT_FOUND', `no tenant ${nameOrId ?? '(manufacturer)'}`);
  return hit.id;
}
