import type { Executor } from '../store/database.ts';

/** What a service records about one state change. Details must never contain secrets. */
export interface AuditEvent {
  /** Who: `token:<id>`, `station:<id>`, `device:<serial>`, `cli:<user>`, `system`. */
  readonly actor: string;
  /** What, as `feature.verb`, e.g. `device.created`, `cert.issued`, `auth.denied`. */
  readonly action: string;
  /** The record acted on, by id (or a name when there is no record yet). */
  readonly subject: string;
  /** The tenant the change belongs to, if any. */
  readonly tenantId?: string | null;
  readonly details?: Record<string, unknown>;
}

/** One entry as stored and exported. */
export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly tenantId: string | null;
  readonly details: Record<string, unknown>;
}

/** The audit log as the rest of the platform sees it. */
export interface AuditLog {
  /**
   * Appends an entry inside the caller's transaction, so the change and its record commit together.
   * Returns the entry's position.
   */
  append(tx: Executor, event: AuditEvent): Promise<AuditEntry>;
  /**
   * Appends several entries in order inside the caller's transaction (one state read, multi-row inserts):
   * use it when one change records many events, e.g. a batch. Throws ERR_AUDIT_EVENT_INVALID.
   */
  appendMany(tx: Executor, events: readonly AuditEvent[]): Promise<AuditEntry[]>;
}
