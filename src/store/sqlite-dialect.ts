import { CompiledQuery, SqliteDialect, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import type Database from 'better-sqlite3';
import { InternalError } from '../core/errors.ts';

/** Prepared statements kept per connection: the SQL texts a running platform uses are a few hundred. */
const STATEMENT_CACHE = 1000;

/**
 * SQLite through better-sqlite3 with two departures from Kysely's own driver:
 * - `BEGIN IMMEDIATE` transactions. Kysely's plain `BEGIN` is deferred: a transaction that reads before
 *   it writes (every duplicate check, every audit append) holds a read lock and then fails at once with
 *   SQLITE_BUSY when another process (`imprint serve` next to a CLI command) is writing, because waiting
 *   could deadlock. Taking the write lock up front makes the second writer wait under busy_timeout.
 * - Prepared statements are cached by SQL text. Kysely's driver prepares every statement on every call,
 *   which the factory profile showed as the largest single SQLite cost (~60 statements per device).
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #database: Database.Database;
  #driver: CachingSqliteDriver | undefined;

  constructor(database: Database.Database) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    this.#driver = new CachingSqliteDriver(this.#database);
    return this.#driver;
  }

  /**
   * Runs a read through the cached prepared statement now, or returns undefined when the connection is held
   * (a transaction in progress: its uncommitted writes must not be seen) or the statement writes.
   */
  readNow(sql: string, params: readonly unknown[]): unknown[] | undefined {
    return this.#driver?.readNow(sql, params);
  }
}

class CachingSqliteDriver implements Driver {
  readonly #connection: CachingSqliteConnection;
  readonly #database: Database.Database;
  // SQLite has one connection; callers queue for it in order.
  #busy = false;
  readonly #waiting: (() => void)[] = [];

  constructor(database: Database.Database) {
    this.#database = database;
    this.#connection = new CachingSqliteConnection(database);
  }

  async init(): Promise<void> {}

  /** A read on the idle connection (see ImmediateSqliteDialect.readNow). */
  readNow(sql: string, params: readonly unknown[]): unknown[] | undefined {
    if (this.#busy) return undefined;
    return this.#connection.readNow(sql, params);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#busy) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#busy = true;
    return this.#connection;
  }

  async releaseConnection(): Promise<void> {
    const next = this.#waiting.shift();
    if (next === undefined) this.#busy = false;
    else next(); // handed over: stays busy
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint ${ident(name)}`));
  }

  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to ${ident(name)}`));
  }

  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release ${ident(name)}`));
  }

  async destroy(): Promise<void> {
    this.#connection.clear();
    this.#database.close();
  }
}

class CachingSqliteConnection implements DatabaseConnection {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.#db = db;
  }

  executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.#statement(compiled.sql);
    const params = compiled.parameters as unknown[];
    if (stmt.reader) return Promise.resolve({ rows: stmt.all(params) as R[] });
    const { changes, lastInsertRowid } = stmt.run(params);
    return Promise.resolve({ numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] });
  }

  async *streamQuery<R>(compiled: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    // A fresh statement: a cached one would be busy for as long as the caller iterates.
    const stmt = this.#db.prepare(compiled.sql);
    if (!stmt.reader)
      throw new InternalError('ERR_STORE_STREAM_UNSUPPORTED', 'SQLite streams only queries that return rows');
    for (const row of stmt.iterate(compiled.parameters)) yield { rows: [row as R] };
  }

  /** Rows of a read-only statement, or undefined when the statement writes. */
  readNow(sql: string, params: readonly unknown[]): unknown[] | undefined {
    const stmt = this.#statement(sql);
    return stmt.reader && stmt.readonly ? stmt.all(params) : undefined;
  }

  clear(): void {
    this.#statements.clear();
  }

  #statement(sql: string): Database.Statement {
    let stmt = this.#statements.get(sql);
    if (stmt === undefined) {
      stmt = this.#db.prepare(sql);
      if (this.#statements.size >= STATEMENT_CACHE) {
        // Drop the oldest entry (Map keeps insertion order).
        const oldest = this.#statements.keys().next().value;
        if (oldest !== undefined) this.#statements.delete(oldest);
      }
      this.#statements.set(sql, stmt);
    }
    return stmt;
  }
}

/** A savepoint name as a quoted SQL identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
