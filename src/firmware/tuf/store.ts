import { ConflictError, NotFoundError } from '../../core/errors.ts';
import type { AuditEvent } from '../../audit/types.ts';
import { isUniqueViolation } from '../../store/constraint.ts';
import type { Db, Tx } from '../../store/database.ts';
import type { FirmwareActor, FirmwareDeps } from '../types.ts';
import { tufKeyOf } from './keys.ts';
import type { Envelope, TufKey } from './types.ts';

/** A TUF role key: KeyStore id, TUF key id and public form. */
export interface KeyRow {
  readonly role: string;
  readonly keyId: string;
  readonly tufKeyId: string;
  readonly key: TufKey;
}

/** One metadata document ready to store. */
export interface Doc {
  readonly role: string;
  readonly version: number;
  readonly body: string;
  readonly expires: string;
}

/** The repository as last written. */
export interface State {
  readonly keys: KeyRow[];
  readonly latest: Map<string, { version: number; signed: unknown }>;
}

/** Splits a TUF key into the KeyRow fields. */
export function splitKey(k: { keyid: string; key: TufKey }): { tufKeyId: string; key: TufKey } {
  return { tufKeyId: k.keyid, key: k.key };
}

/** A metadata file as served: `N.role.json` or `role.json` (latest). Throws ERR_TUF_METADATA_NOT_FOUND. */
export async function readMetadata(db: Db, tenantId: string, name: string): Promise<string> {
  const m = /^(?:(\d{1,9})\.)?([A-Za-z0-9_.-]+)\.json$/.exec(name);
  let q = db
    .selectFrom('tuf_metadata')
    .select(['body', 'version'])
    .where('tenant_id', '=', tenantId)
    .where('role', '=', m?.[2] ?? '');
  if (m?.[1] !== undefined) q = q.where('version', '=', Number(m[1]));
  const row = m === null ? undefined : await q.orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (row === undefined) throw new NotFoundError('ERR_TUF_METADATA_NOT_FOUND', `no metadata ${name}`);
  return row.body;
}

/** A target file by path, optionally with the consistent-snapshot hash prefix. Throws ERR_TUF_TARGET_NOT_FOUND. */
export async function readTarget(db: Db, tenantId: string, path: string): Promise<Uint8Array> {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const hashed = /^([0-9a-f]{64})\.(.+)$/.exec(base);
  const logical = hashed === null ? path : `${dir}${hashed[2]}`;
  const row = await db
    .selectFrom('tuf_targets')
    .innerJoin('firmware_images', 'firmware_images.digest', 'tuf_targets.image_digest')
    .select(['firmware_images.image', 'tuf_targets.sha256'])
    .where('tuf_targets.tenant_id', '=', tenantId)
    .where('tuf_targets.path', '=', logical)
    .executeTakeFirst();
  if (row === undefined || (hashed !== null && hashed[1] !== row.sha256)) {
    throw new NotFoundError('ERR_TUF_TARGET_NOT_FOUND', `no target ${path}`);
  }
  return new Uint8Array(row.image);
}

/** Active keys and the latest version of every role. */
export async function loadState(deps: FirmwareDeps, tenantId: string): Promise<State> {
  const db = deps.store.db;
  const keyRows = await db
    .selectFrom('tuf_keys')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('state', '=', 'active')
    .orderBy('created_at')
    .execute();
  const keys: KeyRow[] = [];
  for (const r of keyRows)
    keys.push({ role: r.role, keyId: r.key_id, ...splitKey(tufKeyOf(await deps.keys.get(r.key_id))) });
  const tops = await db
    .selectFrom('tuf_metadata')
    .select(['role'])
    .select((eb) => eb.fn.max('version').as('v'))
    .where('tenant_id', '=', tenantId)
    .groupBy('role')
    .execute();
  const latest = new Map<string, { version: number; signed: unknown }>();
  for (const t of tops) {
    const row = await db
      .selectFrom('tuf_metadata')
      .select('body')
      .where('tenant_id', '=', tenantId)
      .where('role', '=', t.role)
      .where('version', '=', Number(t.v))
      .executeTakeFirstOrThrow();
    latest.set(t.role, {
      version: Number(t.v),
      signed: (JSON.parse(row.body) as Envelope<unknown>).signed,
    });
  }
  return { keys, latest };
}

/** Writes new keys, metadata and the audit entry in one transaction. Throws ERR_TUF_CONCURRENT_UPDATE. */
export async function commitDocs(
  deps: FirmwareDeps,
  by: FirmwareActor,
  docs: readonly Doc[],
  newKeys: readonly KeyRow[],
  event: Omit<AuditEvent, 'actor' | 'tenantId'>,
  extra?: (tx: Tx) => Promise<void>,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  try {
    await deps.store.transaction(async (tx) => {
      for (const k of newKeys) {
        await tx
          .insertInto('tuf_keys')
          .values({
            tenant_id: by.tenantId,
            role: k.role,
            key_id: k.keyId,
            tuf_key_id: k.tufKeyId,
            state: 'active',
            created_at: now,
          })
          .execute();
      }
      // The (tenant, role, version) key makes a concurrent publisher fail here instead of forking versions.
      for (const d of docs) {
        await tx
          .insertInto('tuf_metadata')
          .values({
            tenant_id: by.tenantId,
            role: d.role,
            version: d.version,
            body: d.body,
            expires: d.expires,
            created_at: now,
          })
          .execute();
      }
      if (extra !== undefined) await extra(tx);
      await deps.audit.append(tx, {
        ...event,
        actor: by.actor,
        tenantId: by.tenantId,
        details: { ...event.details, versions: Object.fromEntries(docs.map((d) => [d.role, d.version])) },
      });
    });
  } catch (e) {
    // The (tenant, role, version) key makes a concurrent publisher fail instead of forking versions.
    if (isUniqueViolation(e))
      throw new ConflictError('ERR_TUF_CONCURRENT_UPDATE', 'another change to the repository won; retry');
    throw e;
  }
}
