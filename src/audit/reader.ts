import { InternalError, ValidationError } from '../core/errors.ts';
import type { Executor } from '../store/database.ts';
import type { AuditEntriesTable } from '../store/tables/audit.ts';
import type { AuditEntry } from './types.ts';

/** An entry as read back from the store, with the leaf hash recorded when it was appended. */
export interface StoredAuditEntry extends AuditEntry {
  readonly leafHash: Uint8Array;
}

/** Filters for reading the log. */
export interface EntryQuery {
  /** Only entries with seq greater than this. */
  readonly after?: number;
  /** At most this many (1..1000, default 100). */
  readonly limit?: number;
  readonly subject?: string;
  readonly tenantId?: string;
}

/** Largest page a single read returns. */
export const MAX_PAGE = 1000;

/** A stored row as an entry. */
export function rowToEntry(row: AuditEntriesTable): StoredAuditEntry {
  return {
    seq: Number(row.seq),
    time: row.time,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    tenantId: row.tenant_id,
    details: JSON.parse(row.details) as Record<string, unknown>,
    leafHash: new Uint8Array(row.leaf_hash),
  };
}

/** Entries in seq order matching `query`. Throws ERR_AUDIT_QUERY_INVALID. */
export async function readEntries(db: Executor, query: EntryQuery = {}): Promise<StoredAuditEntry[]> {
  const limit = query.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new ValidationError('ERR_AUDIT_QUERY_INVALID', `limit must be between 1 and ${MAX_PAGE}`);
  }
  if (query.after !== undefined && (!Number.isSafeInteger(query.after) || query.after < -1)) {
    throw new ValidationError('ERR_AUDIT_QUERY_INVALID', 'after must be an integer ≥ -1');
  }
  let q = db.selectFrom('audit_entries').selectAll();
  if (query.after !== undefined) q = q.where('seq', '>', query.after);
  if (query.subject !== undefined) q = q.where('subject', '=', query.subject);
  if (query.tenantId !== undefined) q = q.where('tenant_id', '=', query.tenantId);
  const rows = await q.orderBy('seq', 'asc').limit(limit).execute();
  return rows.map(rowToEntry);
}

/** The last `n` entries, oldest first. Throws ERR_AUDIT_QUERY_INVALID. */
export async function tailEntries(db: Executor, n: number): Promise<StoredAuditEntry[]> {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_PAGE) {
    throw new ValidationError('ERR_AUDIT_QUERY_INVALID', `n must be between 1 and ${MAX_PAGE}`);
  }
  const rows = await db.selectFrom('audit_entries').selectAll().orderBy('seq', 'desc').limit(n).execute();
  return rows.map(rowToEntry).reverse();
}

/** Every entry in seq order (for export), read in pages. */
export async function allEntries(db: Executor): Promise<StoredAuditEntry[]> {
  const out: StoredAuditEntry[] = [];
  // Page on the last seq read, not on the count: a tampered store may have gaps the export must show.
  let after = -1;
  for (;;) {
    const rows = await db
      .selectFrom('audit_entries')
      .selectAll()
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(10_000)
      .execute();
    for (const row of rows) out.push(rowToEntry(row));
    const last = out.at(-1);
    if (rows.length < 10_000 || last === undefined) return out;
    after = last.seq;
  }
}

/** The stored leaf hashes of the first `size` entries. Throws ERR_AUDIT_STATE_CORRUPT if any is missing. */
export async function readLeaves(db: Executor, size: number): Promise<Uint8Array[]> {
  const rows = await db
    .selectFrom('audit_entries')
    .select(['seq', 'leaf_hash'])
    .where('seq', '<', size)
    .orderBy('seq', 'asc')
    .execute();
  if (rows.length !== size || rows.some((r, i) => Number(r.seq) !== i)) {
    throw new InternalError('ERR_AUDIT_STATE_CORRUPT', 'audit entries are missing from the store');
  }
  return rows.map((r) => new Uint8Array(r.leaf_hash));
}
