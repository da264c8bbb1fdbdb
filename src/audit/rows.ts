/** The audit log's writes: entry rows by precompiled multi-row inserts, and the state row. */
import { toHex } from '../core/encoding.ts';
import type { DialectName } from '../store/dialect.ts';
import type { Executor } from '../store/database.ts';
import { multiRowInsert } from '../store/multi-row-insert.ts';
import type { AuditEntriesTable } from '../store/tables/audit.ts';

/**
 * Rows per INSERT: 8 parameters a row, so 8,000 per statement, below SQLite's 32,766 and PostgreSQL's
 * 65,535; one statement per usual batch of 1,000 keeps the per-statement cost off the hot path.
 */
const INSERT_CHUNK = 1000;

/** Columns of audit_entries in the order the flattened parameters use. */
export const INSERT_COLUMNS = [
  'seq',
  'time',
  'actor',
  'action',
  'subject',
  'tenant_id',
  'details',
  'leaf_hash',
] as const satisfies readonly (keyof AuditEntriesTable)[];
const ENTRY_INSERT = multiRowInsert('audit_entries', INSERT_COLUMNS, INSERT_CHUNK);

/** Inserts `rows` entries given as parameters flattened in INSERT_COLUMNS order. Throws the store's errors. */
export async function insertEntryRows(
  tx: Executor,
  dialect: DialectName,
  params: readonly unknown[],
  rows: number,
): Promise<void> {
  await ENTRY_INSERT.run(tx, dialect, params, rows);
}

/** Writes the log's state row (size and frontier). Throws the store's errors. */
export async function writeState(tx: Executor, size: number, frontier: readonly Uint8Array[]): Promise<void> {
  await tx
    .updateTable('audit_state')
    .set({ size, frontier: JSON.stringify(frontier.map(toHex)) })
    .where('id', '=', 1)
    .execute();
}
