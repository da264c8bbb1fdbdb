import { sql, type ColumnDataType, type Expression, type RawBuilder } from 'kysely';

/** Which SQL engine a store runs on; the only place dialect differences are decided. */
export type DialectName = 'sqlite' | 'postgres';

/** Column types that differ between engines, for migrations. */
export interface DialectTypes {
  /** Binary data (BLOB / BYTEA). */
  readonly bytes: ColumnDataType;
  /** 64-bit integer returned as a JS number (BIGINT is parsed to number on PostgreSQL). */
  readonly bigint: ColumnDataType;
  /** Free text (TEXT on both). */
  readonly text: ColumnDataType;
}

/** Column types for the given dialect. */
export function typesFor(dialect: DialectName): DialectTypes {
  return dialect === 'postgres'
    ? { bytes: 'bytea', bigint: 'bigint', text: 'text' }
    : { bytes: 'blob', bigint: 'integer', text: 'text' };
}

/** A raw SQL expression, re-exported so feature code imports kysely from one place. */
export function raw<T>(e: Expression<T>): RawBuilder<T> {
  return sql<T>`${e}`;
}
