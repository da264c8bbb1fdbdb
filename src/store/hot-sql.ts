/**
 * Hot-path statements as precompiled SQL (the factory's per-device statements, the SZTP bootstrap reads).
 * Building a statement with the query builder costs tens of microseconds each time (node tree, freeze,
 * compile), a measurable share of a device's CPU with ~15 such statements per device; here the SQL text of each shape (table + column names, all
 * from code, never from input) is built once and cached, and the values always go as parameters.
 * Rows come back as the driver returns them, exactly as through the query builder (no plugins).
 */
import { CompiledQuery } from 'kysely';
import type { Executor } from './database.ts';
import type { DialectName } from './dialect.ts';

/** At most this many distinct statement texts are kept (shapes are few; bounded anyway). */
const MAX_TEXTS = 256;

/** Precompiled INSERT/UPDATE/SELECT for one dialect. */
export class HotSql {
  readonly #dialect: DialectName;
  readonly #texts = new Map<string, string>();

  constructor(dialect: DialectName) {
    this.#dialect = dialect;
  }

  /** Inserts one row (undefined values left out, as the query builder does). Throws the store's errors. */
  async insert(db: Executor, table: string, row: Readonly<Record<string, unknown>>): Promise<void> {
    const cols = Object.keys(row).filter((k) => row[k] !== undefined);
    const text = this.#text(`i:${table}:${cols.join(',')}`, () => {
      const marks = cols.map(() => '?').join(', ');
      return `insert into ${q(table)} (${cols.map(q).join(', ')}) values (${marks})`;
    });
    await db.executeQuery(
      CompiledQuery.raw(
        text,
        cols.map((c) => row[c]),
      ),
    );
  }

  /**
   * `update table set … where k = v and …` (undefined values left out); returns the rows changed.
   * Throws the store's errors.
   */
  async update(
    db: Executor,
    table: string,
    set: Readonly<Record<string, unknown>>,
    where: Readonly<Record<string, unknown>>,
  ): Promise<number> {
    const cols = Object.keys(set).filter((k) => set[k] !== undefined);
    const keys = Object.keys(where);
    const text = this.#text(`u:${table}:${cols.join(',')}:${keys.join(',')}`, () => {
      const sets = cols.map((c) => `${q(c)} = ?`).join(', ');
      return `update ${q(table)} set ${sets} where ${keys.map((k) => `${q(k)} = ?`).join(' and ')}`;
    });
    const params = [...cols.map((c) => set[c]), ...keys.map((k) => where[k])];
    const res = await db.executeQuery(CompiledQuery.raw(text, params));
    return Number(res.numAffectedRows ?? 0n);
  }

  /** Runs a fixed statement written with `?` placeholders (cached by its text). Throws the store's errors. */
  async query<R>(db: Executor, sqlText: string, params: readonly unknown[]): Promise<R[]> {
    const res = await db.executeQuery<R>(this.compiled(sqlText, params));
    return res.rows;
  }

  /** A fixed statement written with `?` placeholders, in the dialect's form (text cached). */
  compiled(sqlText: string, params: readonly unknown[]): CompiledQuery {
    return CompiledQuery.raw(
      this.#text(sqlText, () => sqlText),
      [...params],
    );
  }

  /** The dialect's text for a shape: `?` placeholders numbered for PostgreSQL. */
  #text(key: string, build: () => string): string {
    let text = this.#texts.get(key);
    if (text === undefined) {
      let n = 0;
      const raw = build();
      text = this.#dialect === 'postgres' ? raw.replace(/\?/g, () => `$${++n}`) : raw;
      if (this.#texts.size < MAX_TEXTS) this.#texts.set(key, text);
    }
    return text;
  }
}

/** A quoted identifier (names come from code only). */
function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
