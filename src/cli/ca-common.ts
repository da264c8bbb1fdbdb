/** What the `imprint ca` and `imprint cert` commands share: the opened installation and option parsing. */
import type { Command } from 'commander';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import { isKeyAlgorithm, type KeyAlgorithm } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { PkiService } from '../pki/service.ts';

/** What the CLI needs from an opened installation. */
export interface PkiCliHandle {
  readonly pki: PkiService;
  readonly registry: RegistryService;
  close(): Promise<void>;
}

/** Opens the installation for a command (the lead wires this to the platform). */
export type OpenPki = (cmd: Command) => Promise<PkiCliHandle>;

/** Opens the installation, runs `fn`, always closes it. */
export async function run(
  open: OpenPki,
  cmd: Command,
  fn: (h: PkiCliHandle) => Promise<void>,
): Promise<void> {
  const h = await open(cmd);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** Tenant id from a name or id; the first manufacturer tenant when omitted. Throws ERR_TENANT_NOT_FOUND. */
export async function tenantOf(registry: RegistryService, nameOrId: string | undefined): Promise<string> {
  const tenants = await registry.listTenants();
  const t =
    nameOrId === undefined
      ? tenants.find((x) => x.kind === 'manufacturer')
      : tenants.find((x) => x.id === nameOrId || x.name === nameOrId);
  if (t === undefined)
    throw new NotFoundError('ERR_TENANT_NOT_FOUND', `no tenant ${nameOrId ?? '(manufacturer)'}`);
  return t.id;
}

/** A key algorithm option, or the fallback. Throws ERR_KEY_ALGORITHM_UNSUPPORTED. */
export function algorithm(value: string | undefined, fallback: KeyAlgorithm): KeyAlgorithm {
  if (value === undefined) return fallback;
  if (!isKeyAlgorithm(value))
    throw new ValidationError('ERR_KEY_ALGORITHM_UNSUPPORTED', `unsupported key algorithm ${value}`);
  return value;
}
