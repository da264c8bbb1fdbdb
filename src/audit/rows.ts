/** The audit log's writes: entry rows by precompiled multi-row inserts, and the state row. */
import { CompiledQuery } from 'kysely';
import { toHex } from '../core/encoding.ts';
import type { DialectName } from '../store/dialect.ts';
import type { Executor } from '../store/database.ts';
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

/** Inserts `rows` entries given as parameters flattened in INSERT_COLUMNS order. Throws the store's errors. */
export async function insertEntryRows(
  tx: Executor,
  dialect: DialectName,
  params: readonly unknown[],
  rows: number,
): Promise<void> {
  const width = INSERT_COLUMNS.length;
  for (let i = 0; i < rows; i += INSERT_CHUNK) {
    const n = Math.min(INSERT_CHUNK, rows - i);
    await tx.executeQuery(CompiledQuery.raw(insertSql(dialect, n), params.slice(i * width, (i + n) * width)));
  }
}

/** Writes the log's state row (size and frontier). Throws the store's errors. */
export async function writeState(tx: Executor, size: number, frontier: readonly Uint8Array[]): Promise<void> {
  await tx
    .updateTable('audit_state')
    .set({ size, frontier: JSON.stringify(frontier.map(toHex)) })
    .where('id', '=', 1)
    .execute();
}

const insertSqlCache = new Map<string, string>();

/** `INSERT … VALUES (…), …` for `rows` rows in the dialect's placeholder style, built once per size. */
function insertSql(dialect: DialectName, rows: number): string {
  const key = `${dialect}:${rows}`;
  let text = insertSqlCache.get(key);
  if (text === undefined) {
    const w = INSERT_COLUMNS.length;
    const tuple = (r: number) =>
      `(${INSERT_COLUMNS.map((_, c) => (dialect === 'postgres' ? `$${r * w + c + 1}` : '?')).join(', ')})`;
    text = `insert into "audit_entries" (${INSERT_COLUMNS.map((c) => `"${c}"`).join(', ')}) values ${Array.from({ length: rows }, (_, r) => tuple(r)).join(', ')}`;
    // Only the sizes that recur (single appends, small batches, full chunks) are kept: bounded memory.
    if (rows <= 16 || rows === INSERT_CHUNK) insertSqlCache.set(key, text);
  }
  return text;
}
