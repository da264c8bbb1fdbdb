import type { Clock } from '../core/clock.ts';
import { ValidationError } from '../core/errors.ts';
import { fromHex } from '../core/encoding.ts';
import type { DialectName } from '../store/dialect.ts';
import type { Executor } from '../store/database.ts';
import { deferredOf } from './deferred.ts';
import { entryBytes } from './entry.ts';
import { frontierPush, leafHash } from './merkle.ts';
import { insertEntryRows, writeState } from './rows.ts';
import type { AuditEntry, AuditEvent, AuditLog } from './types.ts';

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
   * one state update. Returns the entries. Inside a group commit with the audit buffer (deferred.ts) the
   * state is read once per group and the rows are written at its end. Throws ERR_AUDIT_EVENT_INVALID
   * (nothing written).
   */
  async appendMany(tx: Executor, events: readonly AuditEvent[]): Promise<AuditEntry[]> {
    if (events.length === 0) return [];
    const normalised = events.map(normaliseEvent);
    const held = deferredOf(tx);
    const state = held?.state ?? (await this.#readState(tx));
    const time = this.#clock.now().toISOString();
    const entries: AuditEntry[] = [];
    // Row values flattened in INSERT_COLUMNS order: the insert is the hot path of batched appends, so it
    // is sent as one precompiled statement per chunk instead of through the query builder.
    // Held appends work on copies, so one that throws half-way leaves the held record as it was.
    const params: unknown[] = [];
    const frontier = held === undefined ? state.frontier : state.frontier.slice();
    let size = state.size;
    for (const { detailsJson, ...event } of normalised) {
      const entry: AuditEntry = { seq: size, time, ...event };
      const leaf = leafHash(entryBytes(entry));
      frontierPush(frontier, size, leaf);
      size += 1;
      entries.push(entry);
      params.push(
        entry.seq,
        time,
        entry.actor,
        entry.action,
        entry.subject,
        entry.tenantId,
        detailsJson,
        leaf,
      );
    }
    if (held !== undefined) {
      for (const v of params) held.params.push(v);
      held.state = { size, frontier };
      held.rows += entries.length;
      held.dialect = this.#dialect;
      return entries;
    }
    await insertEntryRows(tx, this.#dialect, params, entries.length);
    await writeState(tx, size, frontier);
    return entries;
  }

  /** The state row, locked on PostgreSQL. */
  async #readState(tx: Executor): Promise<{ size: number; frontier: Uint8Array[] }> {
    let q = tx.selectFrom('audit_state').selectAll().where('id', '=', 1);
    // PostgreSQL: the row lock orders appends from every server process; SQLite serialises writers itself.
    if (this.#dialect === 'postgres') q = q.forUpdate();
    const state = await q.executeTakeFirstOrThrow();
    return { size: state.size, frontier: (JSON.parse(state.frontier) as string[]).map(fromHex) };
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
  const raw: unknown = event.details ?? {};
  let details: unknown;
  let detailsJson: string;
  try {
    detailsJson = JSON.stringify(raw);
    // A flat object of JSON primitives canonicalises the same as its parsed JSON text, so the parse (the
    // costliest step of a batched append) is only needed for nested or non-plain values (Dates, Maps…).
    // JSON.stringify output parses back to a value that stringifies to the same text, so this text is
    // what is stored and what a verifier later re-canonicalises.
    details = isFlatJsonObject(raw) ? { ...raw } : JSON.parse(detailsJson);
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

function isFlatJsonObject(v: unknown): v is Record<string, string | number | boolean | null> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  if ((proto !== Object.prototype && proto !== null) || 'toJSON' in v) return false;
  for (const x of Object.values(v)) {
    const t = typeof x;
    if (!(x === null || t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(x))))
      return false;
  }
  return true;
}
