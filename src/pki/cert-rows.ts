/**
 * Multi-row INSERT of issued certificates as one precompiled statement per chunk. The group commit stores
 * up to a few hundred certificates at a time, and building that insert through the query builder (16
 * columns per row) cost more main-thread time than SQLite executing it.
 */
import type { Executor } from '../store/database.ts';
import type { DialectName } from '../store/dialect.ts';
import { multiRowInsert } from '../store/multi-row-insert.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';

/** Columns of `certificates` in the order the flattened parameters use. */
const COLUMNS = [
  'id',
  'tenant_id',
  'ca_id',
  'device_id',
  'profile',
  'serial_hex',
  'subject',
  'issuer',
  'not_before',
  'not_after',
  'spki_sha256',
  'der',
  'status',
  'revoked_at',
  'revocation_reason',
  'created_at',
] as const satisfies readonly (keyof CertificatesTable)[];

/** Rows per INSERT statement (16 columns each: 1,600 placeholders, well under every engine's limit). */
const CHUNK = 100;
const CERT_INSERT = multiRowInsert('certificates', COLUMNS, CHUNK);

/** Inserts the rows in the caller's transaction (a unique violation throws, as the builder's insert would). */
export async function insertCertificates(
  tx: Executor,
  dialect: DialectName,
  rows: readonly CertificatesTable[],
): Promise<void> {
  const params: unknown[] = [];
  for (const row of rows) for (const c of COLUMNS) params.push(row[c]);
  await CERT_INSERT.run(tx, dialect, params, rows.length);
}
