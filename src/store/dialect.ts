import type { ColumnDataType } from 'kysely';

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
