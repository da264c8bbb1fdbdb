/** Each device's bootstrapping log: every request and progress report, stored and audited together. */
import { randomUUID } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../audit/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store, Tx } from '../store/database.ts';
import type { DialectName } from '../store/dialect.ts';
import { multiRowInsert } from '../store/multi-row-insert.ts';
import type { SztpLogTable } from '../store/tables/sztp.ts';

/** One entry as the owner sees it. */
export interface LogEntry {
  kind: string;
  progressType: string | null;
  message: string | null;
  details: Record<string, unknown>;
  createdAt: string;
}

/** One entry to write. */
export interface NewLogEntry {
  readonly device: Device;
  readonly ownerId: string | null;
  readonly kind: 'request' | 'progress';
  readonly progressType: string | null;
  readonly message: string | null;
  readonly details: Record<string, unknown>;
  readonly now: Date;
}

let seq = 0;
/** Log ids sort in insertion order within a process (time, then a counter), with a random tail across processes. */
function logId(now: Date): string {
  seq = (seq + 1) % 0xffffff;
  return `evt_${now.getTime().toString(16).padStart(12, '0')}${seq.toString(16).padStart(6, '0')}${randomUUID().slice(0, 8)}`;
}

/** Columns of sztp_log in the order the flattened insert parameters use. */
const LOG_COLUMNS = [
  'id',
  'device_id',
  'owner_id',
  'kind',
  'progress_type',
  'message',
  'details',
  'created_at',
] as const satisfies readonly (keyof SztpLogTable)[];
/** Rows per INSERT: 8 parameters a row stays far below SQLite's and PostgreSQL's parameter limits. */
const INSERT_CHUNK = 256;
const LOG_INSERT = multiRowInsert('sztp_log', LOG_COLUMNS, INSERT_CHUNK);

/**
 * Writes log entries and their audit entries in the caller's transaction, in order: the rows as multi-row
 * inserts, the audit entries with one `appendMany` per run of entries; `bootstrap-complete` also moves the
 * device to `onboarded` (its audit entry follows the progress report's, as with single writes).
 */
export async function writeLogEntries(
  tx: Tx,
  deps: { audit: AuditLog; registry: RegistryService; dialect: DialectName },
  entries: readonly NewLogEntry[],
): Promise<void> {
  const params: unknown[] = [];
  for (const e of entries) {
    params.push(
      logId(e.now),
      e.device.id,
      e.ownerId,
      e.kind,
      e.progressType,
      e.message,
      JSON.stringify(e.details),
      e.now.toISOString(),
    );
  }
  await LOG_INSERT.run(tx, deps.dialect, params, entries.length);
  let events: AuditEvent[] = [];
  const onboarded = new Set<string>();
  for (const e of entries) {
    const { device } = e;
    events.push({
      actor: `device:${device.serial}`,
      action: e.kind === 'request' ? 'sztp.bootstrap.requested' : 'sztp.progress.reported',
      subject: device.id,
      tenantId: device.tenantId,
      details: {
        ...e.details,
        ...(e.progressType !== null ? { progressType: e.progressType } : {}),
        ...(e.message !== null ? { message: e.message } : {}),
      },
    });
    if (
      e.progressType === 'bootstrap-complete' &&
      device.state !== 'onboarded' &&
      !onboarded.has(device.id)
    ) {
      onboarded.add(device.id);
      await deps.audit.appendMany(tx, events);
      events = [];
      await deps.registry.updateDevice(
        tx,
        { actor: `device:${device.serial}` },
        device.id,
        { state: 'onboarded' },
        'sztp.device.onboarded',
      );
    }
  }
  await deps.audit.appendMany(tx, events);
}

/** A device's bootstrapping log, oldest first. Throws ERR_DEVICE_NOT_FOUND when the tenant cannot see it. */
export async function readLog(
  deps: { store: Store; registry: RegistryService },
  tenantId: string,
  deviceId: string,
): Promise<LogEntry[]> {
  await deps.registry.getDevice(deviceId, tenantId);
  const rows = await deps.store.db
    .selectFrom('sztp_log')
    .selectAll()
    .where('device_id', '=', deviceId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    kind: r.kind,
    progressType: r.progress_type,
    message: r.message,
    details: JSON.parse(r.details) as Record<string, unknown>,
    createdAt: r.created_at,
  }));
}
