/**
 * Multi-row INSERTs as precompiled statement texts, for the hot paths that write many rows per transaction
 * (audit entries, issued certificates, SZTP log rows): building such an insert through the query builder cost
 * more main-thread time than the engine executing it.
 */
import { CompiledQuery } from 'kysely';
import type { Executor } from './database.ts';
import type { DialectName } from './dialect.ts';

/** Texts kept per statement (each row count and dialect is one text): bounded memory. */
const MAX_TEXTS = 128;

/** An INSERT of any number of rows into one table, sent in chunks of at most `chunk` rows. */
export interface MultiRowInsert {
  /**
   * Inserts `rows` rows given as parameters flattened in column order, in the caller's transaction. Throws the
   * store's errors (a unique violation as the builder's insert would).
   */
  run(tx: Executor, dialect: DialectName, params: readonly unknown[], rows: number): Promise<void>;
}

/** A multi-row insert into `table` of `columns` (names from code only; values are always parameters). */
export function multiRowInsert(table: string, columns: readonly string[], chunk: number): MultiRowInsert {
  const texts = new Map<string, string>();
  const width = columns.length;
  const head = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values `;
  const text = (dialect: DialectName, n: number): string => {
    const key = `${dialect}:${n}`;
    let t = texts.get(key);
    if (t === undefined) {
      const tuple = (r: number): string =>
        `(${columns.map((_, c) => (dialect === 'postgres' ? `$${r * width + c + 1}` : '?')).join(', ')})`;
      t = head + Array.from({ length: n }, (_, r) => tuple(r)).join(', ');
      if (texts.size < MAX_TEXTS) texts.set(key, t);
    }
    return t;
  };
  return {
    async run(tx, dialect, params, rows) {
      for (let i = 0; i < rows; i += chunk) {
        const n = Math.min(chunk, rows - i);
        const slice = params.slice(i * width, (i + n) * width);
        await tx.executeQuery(CompiledQuery.raw(text(dialect, n), slice));
      }
    },
  };
}
