import type { Clock } from '../core/clock.ts';
import { ValidationError } from '../core/errors.ts';
import { fromHex, toHex } from '../core/encoding.ts';
import type { DialectName } from '../store/dialect.ts';
import type { Executor } from '../store/database.ts';
import type { AuditEntriesTable } from '../store/tables/audit.ts';
import { entryBytes } from './entry.ts';
import { frontierPush, leafHash } from './merkle.ts';
import type { AuditEntry, AuditEvent, AuditLog } from './types.ts';

/** Rows per INSERT: 8 parameters a row keeps each statement far below every engine's parameter limit. */
const INSERT_CHUNK = 500;

/** The store-backed audit log: appends inside the caller's transaction, serialised on the state row. */
export class StoreAuditLog implements AuditLog {
  readonly #clock: Clock;
  readonly #dialect: DialectName;

  constructor(dialect: DialectName, clock: Clock) {
    this.#dialect = dialect;
    this.#clock = clock;
  }

  /** See AuditLog.append. Must be called inside a transaction. Throws ERR_AUDIT_EVENT_INVALID. */
  async append(tx: Executor, event: AuditEvent): Promise<AuditEntry> {
    const [entry] = await this.appendMany(tx, [event]);
    return entry as AuditEntry;
  }

  /**
   * Appends several events in order inside the caller's transaction: one state read, multi-row inserts,
   * one state update. Returns the entries. Throws ERR_AUDIT_EVENT_INVALID (nothing written).
   */
  async appendMany(tx: Executor, events: readonly AuditEvent[]): Promise<AuditEntry[]> {
    if (events.length === 0) return [];
    const normalised = events.map(normaliseEvent);
    let q = tx.selectFrom('audit_state').selectAll().where('id', '=', 1);
    // PostgreSQL: the row lock orders appends from every server process; SQLite serialises writers itself.
    if (this.#dialect === 'postgres') q = q.forUpdate();
    const state = await q.executeTakeFirstOrThrow();
    const frontier = (JSON.parse(state.frontier) as string[]).map(fromHex);
    const time = this.#clock.now().toISOString();
    const entries: AuditEntry[] = [];
    const rows: AuditEntriesTable[] = [];
    let size = state.size;
    for (const { detailsJson, ...event } of normalised) {
      const entry: AuditEntry = { seq: size, time, ...event };
      const leaf = leafHash(entryBytes(entry));
      frontierPush(frontier, size, leaf);
      size += 1;
      entries.push(entry);
      rows.push({
        seq: entry.seq,
        time,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject,
        tenant_id: entry.tenantId,
        details: detailsJson,
        leaf_hash: leaf,
      });
    }
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      await tx
        .insertInto('audit_entries')
        .values(rows.slice(i, i + INSERT_CHUNK))
        .execute();
    }
    await tx
      .updateTable('audit_state')
      .set({ size, frontier: JSON.stringify(frontier.map(toHex)) })
      .where('id', '=', 1)
      .execute();
    return entries;
  }
}

type NormalisedEvent = Omit<AuditEntry, 'seq' | 'time'> & { readonly detailsJson: string };

/**
 * Checks an event and brings its details to their JSON form, so the bytes hashed now are exactly the
 * bytes a verifier rebuilds from the stored (and exported) JSON later. Throws ERR_AUDIT_EVENT_INVALID.
 */
function normaliseEvent(event: AuditEvent): NormalisedEvent {
  for (const field of ['actor', 'action', 'subject'] as const) {
    const v: unknown = event[field];
    if (typeof v !== 'string' || v.length === 0) {
      throw new ValidationError('ERR_AUDIT_EVENT_INVALID', `audit event ${field} must be a non-empty string`);
    }
  }
  const tenantId: unknown = event.tenantId ?? null;
  if (tenantId !== null && typeof tenantId !== 'string') {
    throw new ValidationError('ERR_AUDIT_EVENT_INVALID', 'audit event tenantId must be a string or null');
  }
  let details: unknown;
  let detailsJson: string;
  try {
    // JSON.stringify output parses back to a value that stringifies to the same text, so this text
    // is what is stored and what a verifier later re-canonicalises.
    detailsJson = JSON.stringify(event.details ?? {});
    details = JSON.parse(detailsJson);
  } catch (cause) {
    throw new ValidationError('ERR_AUDIT_EVENT_INVALID', 'audit event details are not JSON', { cause });
  }
  if (typeof details !== 'object' || details === null || Array.isArray(details)) {
    throw new ValidationError('ERR_AUDIT_EVENT_INVALID', 'audit event details must be a JSON object');
  }
  return {
    actor: event.actor,
    action: event.action,
    subject: event.subject,
    tenantId,
    details: details as Record<string, unknown>,
    detailsJson,
  };
}
