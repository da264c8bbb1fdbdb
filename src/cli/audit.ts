import { readFileSync, writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { exportAudit } from '../audit/export.ts';
import type { StoredAuditEntry } from '../audit/reader.ts';
import type { AuditService } from '../audit/service.ts';
import { verifyExport } from '../audit/verify.ts';
import type { VerifyOptions, VerifyReport } from '../audit/verify-types.ts';
import { toHex } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import type { KeyStore } from '../keys/types.ts';
import type { Store } from '../store/database.ts';

/** What the audit commands need from an opened installation. */
export interface AuditCliContext {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditService;
  close(): Promise<void>;
}

/** Where the commands write; replaceable in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/**
 * `imprint audit tail|export|verify`. `verify` works offline (it never opens the installation).
 * Throws ERR_AUDIT_VERIFY_FAILED (after printing the problems), ERR_AUDIT_FILE_UNREADABLE,
 * ERR_AUDIT_EXPORT_MALFORMED, ERR_AUDIT_PUBLIC_KEY_MALFORMED.
 */
export function auditCommand(open: () => Promise<AuditCliContext>, io: CliIo = processIo): Command {
  const cmd = new Command('audit').description('the tamper-evident audit log');
  cmd
    .command('tail')
    .description('print the latest audit entries')
    .option('-n <count>', 'how many entries (1-1000)', positiveInt, 20)
    .option('--json', 'print JSON')
    .action(async (opts: { n: number }, self: Command) => {
      const ctx = await open();
      try {
        const entries = await ctx.audit.tail(opts.n);
        if (json(self)) io.out(`${JSON.stringify(entries.map(plain), null, 2)}\n`);
        else for (const e of entries) io.out(`${line(e)}\n`);
      } finally {
        await ctx.close();
      }
    });
  cmd
    .command('export')
    .description('sign a tree head for the current size, then write the log and its tree heads as JSON')
    .requiredOption('--out <file>', 'where to write the export')
    .action(async (opts: { out: string }) => {
      const ctx = await open();
      try {
        await ctx.audit.signTreeHead();
        const doc = await exportAudit(ctx.store.db, ctx.keys);
        writeFileSync(opts.out, `${JSON.stringify(doc, null, 2)}\n`);
        io.out(
          `wrote ${doc.entries.length} entries and ${doc.treeHeads.length} tree heads of ${doc.origin} to ${opts.out}\n`,
        );
      } finally {
        await ctx.close();
      }
    });
  cmd
    .command('verify <file>')
    .description('verify an export offline with the audit public key; prove an entry or two heads consistent')
    .requiredOption('--public-key <pemfile>', 'the audit public key (SPKI PEM)')
    .option('--entry <seq>', 'prove this entry is included in the latest (or --to) tree head', nonNegativeInt)
    .option('--from <size>', 'prove the --to tree head consistent with this one', nonNegativeInt)
    .option('--to <size>', 'a later tree head', nonNegativeInt)
    .option('--json', 'print the report as JSON')
    .action(
      (
        file: string,
        opts: { publicKey: string; entry?: number; from?: number; to?: number },
        self: Command,
      ) => {
        const doc = readJson(file);
        const pem = readText(opts.publicKey);
        const options: VerifyOptions = {
          ...(opts.entry === undefined ? {} : { entrySeq: opts.entry }),
          ...(opts.from === undefined ? {} : { fromSize: opts.from }),
          ...(opts.to === undefined ? {} : { toSize: opts.to }),
        };
        const report = verifyExport(doc, pem, options);
        if (json(self)) io.out(`${JSON.stringify(report, null, 2)}\n`);
        else printReport(report, io);
        if (!report.ok) {
          throw new ValidationError(
            'ERR_AUDIT_VERIFY_FAILED',
            `the audit export failed verification: ${report.problems.length} problem(s)`,
            { details: { problems: report.problems.map((p) => p.kind) } },
          );
        }
      },
    );
  return cmd;
}

function json(self: Command): boolean {
  return self.optsWithGlobals<{ json?: boolean }>().json === true;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ValidationError('ERR_AUDIT_FILE_UNREADABLE', `cannot read ${file}`, { cause });
  }
}

function readJson(file: string): unknown {
  const text = readText(file);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError('ERR_AUDIT_EXPORT_MALFORMED', `${file} is not JSON`, { cause });
  }
}

function plain(e: StoredAuditEntry) {
  return { ...e, leafHash: toHex(e.leafHash) };
}

function line(e: StoredAuditEntry): string {
  const details = Object.keys(e.details).length === 0 ? '' : ` ${JSON.stringify(e.details)}`;
  return `${e.seq}  ${e.time}  ${e.actor}  ${e.action}  ${e.subject}${e.tenantId === null ? '' : `  tenant=${e.tenantId}`}${details}`;
}

function printReport(r: VerifyReport, io: CliIo): void {
  const summary = `${r.entries} entries, ${r.verifiedTreeHeads}/${r.treeHeads} tree heads verified, latest tree size ${r.latestTreeSize ?? '-'}`;
  if (r.ok) io.out(`OK: ${r.origin}: ${summary}\n`);
  else io.err(`FAILED: ${r.origin}: ${summary}\n`);
  for (const p of r.problems) io.err(`  - ${p.message}\n`);
  if (r.unsignedEntries > 0)
    io.out(`note: ${r.unsignedEntries} entries after the latest tree head are not yet signed\n`);
  if (r.inclusion?.verified === true) {
    io.out(
      `entry ${r.inclusion.seq} is included in the tree head for size ${r.inclusion.treeSize} (proof of ${r.inclusion.proof.length} hashes)\n`,
    );
  }
  if (r.consistency?.verified === true) {
    io.out(
      `the tree head for size ${r.consistency.toSize} is consistent with the one for size ${r.consistency.fromSize} (proof of ${r.consistency.proof.length} hashes)\n`,
    );
  }
}
