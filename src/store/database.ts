import { Kysely, Migrator, PostgresDialect, type Transaction } from 'kysely';
import Database from 'better-sqlite3';
import pg from 'pg';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { UnavailableError } from '../core/errors.ts';
import type { DialectName } from './dialect.ts';
import type { Schema } from './schema.ts';
import { migrationProvider } from './migrations/index.ts';
import { postgresHotReader, registerHotReader } from './hot-read.ts';
import { ImmediateSqliteDialect } from './sqlite-dialect.ts';

/** A Kysely handle over the whole schema; feature code receives this or a transaction of it. */
export type Db = Kysely<Schema>;
/** A transaction over the whole schema. */
export type Tx = Transaction<Schema>;
/** Either a database handle or a transaction: queries that may run inside or outside one take this. */
export type Executor = Db | Tx;

/** The opened store: the query handle plus what the rest of the platform needs to know about it. */
export interface Store {
  readonly db: Db;
  readonly dialect: DialectName;
  /** Runs `fn` in one transaction; the change and its audit entry commit together or not at all. */
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Closes the connection pool / file handle. */
  close(): Promise<void>;
}

/** Where the store lives: a SQLite file (or ':memory:') or a PostgreSQL URL. */
export type StoreLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

// PostgreSQL BIGINT (oid 20) and NUMERIC counts come back as strings by default; our values fit in 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

/** Opens the store and brings its schema up to date. Throws ERR_STORE_UNAVAILABLE if it cannot connect. */
export async function openStore(
  location: StoreLocation,
  options: { migrate?: boolean } = {},
): Promise<Store> {
  const { db, dialect } = connect(location);
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
  } catch (cause) {
    await db.destroy().catch(() => undefined);
    throw new UnavailableError('ERR_STORE_UNAVAILABLE', `cannot open the ${dialect} database`, { cause });
  }
  if (options.migrate !== false) await migrate(db, dialect);
  return {
    db,
    dialect,
    transaction: (fn) => db.transaction().execute(fn),
    close: () => db.destroy(),
  };
}

/** The location described by IMPRINT_DATABASE_URL, or the SQLite file under the data dir. */
export function storeLocationFrom(databaseUrl: string | undefined, dataDir: string): StoreLocation {
  if (databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(databaseUrl)) {
    return { kind: 'postgres', url: databaseUrl };
  }
  return { kind: 'sqlite', path: `${dataDir}/imprint.db` };
}

function connect(location: StoreLocation): { db: Db; dialect: DialectName } {
  if (location.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: location.url, max: 10 });
    const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
    registerHotReader(db, postgresHotReader(pool));
    return { db, dialect: 'postgres' };
  }
  if (location.path !== ':memory:') mkdirSync(dirname(location.path), { recursive: true });
  const sqlite = new Database(location.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const dialect = new ImmediateSqliteDialect(sqlite);
  const db = new Kysely<Schema>({ dialect });
  registerHotReader(db, (sql, params) => dialect.readNow(sql, params));
  return { db, dialect: 'sqlite' };
}

async function migrate(db: Db, dialect: DialectName): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) {
    throw new UnavailableError('ERR_STORE_MIGRATION_FAILED', 'database migration failed', { cause: error });
  }
}
