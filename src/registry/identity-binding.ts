/**
 * Binding the identity keys of several devices at once. The PKI's issuance group commit binds every
 * IDevID of a group in the same transaction; one `updateDevice` per device cost six statements and an
 * audit append each, which the issuance profile showed as a large share of the main thread. Here a group
 * costs one read, one UPDATE per 100 devices and one batched audit append, with the same audit entries
 * (`device.identity_bound`, the same details) that `updateDevice` writes; the caller may hand over its own
 * entries for the same change so that one append serves both.
 */
import { CompiledQuery } from 'kysely';
import type { AuditEvent, AuditLog } from '../audit/types.ts';
import { NotFoundError } from '../core/errors.ts';
import type { Executor } from '../store/database.ts';
import type { DialectName } from '../store/dialect.ts';

/** One device's new identity key fingerprint, and who binds it (for its audit entry). */
export interface IdentityBinding {
  readonly by: { readonly actor: string };
  readonly deviceId: string;
  readonly fingerprint: string;
}

/** Devices per UPDATE statement (two placeholders each, plus the WHERE list: well under every limit). */
const CHUNK = 100;

/**
 * Sets `identity_key_fingerprint` of each device inside the caller's transaction and audits each binding
 * as `device.identity_bound`, in the order given, followed by `alsoAppend` (the caller's own entries for
 * the same change) in the same batched append. A device named twice ends with its last fingerprint.
 * Throws ERR_DEVICE_NOT_FOUND (the caller's transaction then rolls back: nothing is bound).
 */
export async function bindIdentityKeys(
  tx: Executor,
  deps: { readonly audit: AuditLog; readonly dialect: DialectName; readonly now: string },
  bindings: readonly IdentityBinding[],
  alsoAppend: readonly AuditEvent[] = [],
): Promise<void> {
  if (bindings.length === 0) {
    await deps.audit.appendMany(tx, alsoAppend);
    return;
  }
  const ids = [...new Set(bindings.map((b) => b.deviceId))];
  const before = new Map<string, { serial: string; state: string; tenantId: string }>();
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await tx
      .selectFrom('devices')
      .select(['id', 'serial', 'state', 'tenant_id'])
      .where('id', 'in', ids.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) before.set(r.id, { serial: r.serial, state: r.state, tenantId: r.tenant_id });
  }
  const missing = ids.find((id) => !before.has(id));
  if (missing !== undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${missing}`);
  const last = new Map<string, string>();
  for (const b of bindings) last.set(b.deviceId, b.fingerprint);
  const pairs = [...last];
  for (let i = 0; i < pairs.length; i += CHUNK) {
    const chunk = pairs.slice(i, i + CHUNK);
    const params: unknown[] = [];
    for (const [id, fp] of chunk) params.push(id, fp);
    params.push(deps.now, ...chunk.map(([id]) => id));
    await tx.executeQuery(CompiledQuery.raw(updateSql(deps.dialect, chunk.length), params));
  }
  const events: AuditEvent[] = bindings.map((b) => {
    const d = before.get(b.deviceId)!;
    return {
      ...b.by,
      action: 'device.identity_bound',
      subject: b.deviceId,
      tenantId: d.tenantId,
      details: { serial: d.serial, from: d.state, identityKeyFingerprint: b.fingerprint },
    };
  });
  await deps.audit.appendMany(tx, [...events, ...alsoAppend]);
}

const sqlCache = new Map<string, string>();

/** `UPDATE devices SET identity_key_fingerprint = CASE id WHEN … END, updated_at = … WHERE id IN (…)`. */
function updateSql(dialect: DialectName, n: number): string {
  const key = `${dialect}:${n}`;
  let text = sqlCache.get(key);
  if (text === undefined) {
    let p = 0;
    const ph = (): string => (dialect === 'postgres' ? `$${++p}` : '?');
    const cases = Array.from({ length: n }, () => `when ${ph()} then ${ph()}`).join(' ');
    const updated = ph();
    const list = Array.from({ length: n }, ph).join(', ');
    text = `update "devices" set "identity_key_fingerprint" = case "id" ${cases} end, "updated_at" = ${updated} where "id" in (${list})`;
    // Group sizes vary; the cache holds at most one text per size up to CHUNK: bounded.
    sqlCache.set(key, text);
  }
  return text;
}
