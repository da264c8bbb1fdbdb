import type { Clock } from '../core/clock.ts';
import { fromHex, toHex } from '../core/encoding.ts';
import type { DialectName } from '../store/dialect.ts';
import type { Executor } from '../store/database.ts';
import { entryBytes } from './entry.ts';
import { frontierAppend, leafHash } from './merkle.ts';
import type { AuditEntry, AuditEvent, AuditLog } from './types.ts';

/** The store-backed audit log: appends inside the caller's transaction, serialised on the state row. */
export class StoreAuditLog implements AuditLog {
  readonly #clock: Clock;
  readonly #dialect: DialectName;

  constructor(dialect: DialectName, clock: Clock) {
    this.#dialect = dialect;
    this.#clock = clock;
  }

  /** See AuditLog.append. Must be called inside a transaction. */
  async append(tx: Executor, event: AuditEvent): Promise<AuditEntry> {
    let q = tx.selectFrom('audit_state').selectAll().where('id', '=', 1);
    // PostgreSQL: the row lock orders appends from every server process; SQLite serialises writers itself.
    if (this.#dialect === 'postgres') q = q.forUpdate();
    const state = await q.executeTakeFirstOrThrow();
    const entry: AuditEntry = {
      seq: state.size,
      time: this.#clock.now().toISOString(),
      actor: event.actor,
      action: event.action,
      subject: event.subject,
      tenantId: event.tenantId ?? null,
      details: event.details ?? {},
    };
    const leaf = leafHash(entryBytes(entry));
    const frontier = frontierAppend((JSON.parse(state.frontier) as string[]).map(fromHex), state.size, leaf);
    await tx
      .insertInto('audit_entries')
      .values({
        seq: entry.seq,
        time: entry.time,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject,
        tenant_id: entry.tenantId,
        details: JSON.stringify(entry.details),
        leaf_hash: leaf,
      })
      .execute();
    await tx
      .updateTable('audit_state')
      .set({ size: state.size + 1, frontier: JSON.stringify(frontier.map(toHex)) })
      .where('id', '=', 1)
      .execute();
    return entry;
  }
}
