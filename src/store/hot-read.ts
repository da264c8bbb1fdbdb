/**
 * Reads that run on every request of a hot path (the SZTP device lookup), through a prepared statement the
 * driver keeps, without Kysely's executor (connection acquire/release promises, plugin and result plumbing).
 * SQLite runs the statement synchronously, but only while no one holds the single connection: a caller
 * inside a transaction (awaiting between its statements) would otherwise let this read see its uncommitted
 * writes; when the connection is busy the read queues through Kysely as before. PostgreSQL runs it as a
 * named prepared statement on a pool connection (parsed and planned once per connection). Rows are the
 * driver's rows, exactly what `db.executeQuery` returns for the same query (no result plugins are installed).
 */
import type { CompiledQuery } from 'kysely';
import type { Store } from './database.ts';

/** Runs a read now and returns its rows, or undefined when it cannot run now (the caller falls back). */
export type HotReader = (
  sql: string,
  params: readonly unknown[],
) => readonly unknown[] | Promise<readonly unknown[]> | undefined;

const readers = new WeakMap<object, HotReader>();

/** Installs the hot reader of a database handle (called once by openStore's connect). */
export function registerHotReader(db: object, reader: HotReader): void {
  readers.set(db, reader);
}

/**
 * Runs a compiled read-only query (in the store's placeholder style) through the hot reader of `store.db`,
 * or through Kysely when there is none or it cannot run now. Errors are the driver's, as with executeQuery.
 */
export async function hotRead<R>(store: Pick<Store, 'db'>, query: CompiledQuery): Promise<readonly R[]> {
  const rows = readers.get(store.db)?.(query.sql, query.parameters);
  if (rows !== undefined) return (await rows) as readonly R[];
  return (await store.db.executeQuery<R>(query)).rows;
}

const MAX_NAMED = 100;

/** A PostgreSQL reader: a named prepared statement per distinct SQL text. */
export function postgresHotReader(pool: {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[] }>;
}): HotReader {
  const names = new Map<string, string>();
  return (sql, params) => {
    let name = names.get(sql);
    if (name === undefined) {
      // The hot queries are a few constants; past a bound, reads go through Kysely (a name is never reused).
      if (names.size >= MAX_NAMED) return undefined;
      name = `imprint_hot_${names.size + 1}`;
      names.set(sql, name);
    }
    return pool.query({ name, text: sql, values: [...params] }).then((r) => r.rows);
  };
}
