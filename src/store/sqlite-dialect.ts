import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';

/**
 * SQLite with `BEGIN IMMEDIATE` transactions. Kysely's plain `BEGIN` is deferred: a transaction that
 * reads before it writes (every duplicate check, every audit append) holds a read lock and then fails
 * at once with SQLITE_BUSY when another process (`imprint serve` next to a CLI command) is writing,
 * because waiting could deadlock. Taking the write lock up front makes the second writer wait its
 * turn under busy_timeout instead.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
