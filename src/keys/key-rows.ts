import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { isUniqueViolation } from '../store/constraint.ts';
import type { Db, Executor } from '../store/database.ts';
import type { KeysTable } from '../store/tables/foundation.ts';
import { isKeyAlgorithm, type KeyAlgorithm, type KeyBackend, type KeyInfo } from './types.ts';

/** The live key row of a backend by id. Throws ERR_KEY_NOT_FOUND. */
export async function keyRow(db: Db, backend: KeyBackend, id: string): Promise<KeysTable> {
  const row = await db
    .selectFrom('keys')
    .selectAll()
    .where('id', '=', id)
    .where('backend', '=', backend)
    .where('destroyed_at', 'is', null)
    .executeTakeFirst();
  if (row === undefined) throw new NotFoundError('ERR_KEY_NOT_FOUND', `no key ${id}`);
  return row;
}

/** The live key of a backend with this label, or undefined. */
export async function keyByLabel(db: Db, backend: KeyBackend, label: string): Promise<KeyInfo | undefined> {
  const row = await db
    .selectFrom('keys')
    .selectAll()
    .where('label', '=', label)
    .where('backend', '=', backend)
    .where('destroyed_at', 'is', null)
    .executeTakeFirst();
  return row === undefined ? undefined : keyInfo(row);
}

/** Every live key of a backend, oldest first. */
export async function listKeys(db: Db, backend: KeyBackend): Promise<KeyInfo[]> {
  const rows = await db
    .selectFrom('keys')
    .selectAll()
    .where('backend', '=', backend)
    .where('destroyed_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(keyInfo);
}

/** The public facts of a key row. */
export function keyInfo(row: KeysTable): KeyInfo {
  return {
    id: row.id,
    label: row.label,
    algorithm: row.algorithm as KeyAlgorithm,
    backend: row.backend,
    publicKeyDer: new Uint8Array(row.public_key),
    createdAt: row.created_at,
  };
}

/** Checks a generate request before any key material exists. Throws ERR_KEY_ALGORITHM_UNSUPPORTED, ERR_KEY_LABEL_TAKEN. */
export async function checkNewKey(db: Executor, label: string, algorithm: string): Promise<void> {
  if (!isKeyAlgorithm(algorithm)) {
    throw new ValidationError('ERR_KEY_ALGORITHM_UNSUPPORTED', `unsupported key algorithm ${algorithm}`);
  }
  const existing = await db.selectFrom('keys').select('id').where('label', '=', label).executeTakeFirst();
  if (existing !== undefined) throw labelTaken(label);
}

/**
 * Inserts a new key row. Two generates can pass checkNewKey at once; the unique index on the label decides,
 * and the loser gets ERR_KEY_LABEL_TAKEN.
 */
export async function insertKeyRow(db: Executor, row: KeysTable): Promise<void> {
  try {
    await db.insertInto('keys').values(row).execute();
  } catch (e) {
    throw isUniqueViolation(e) ? labelTaken(row.label) : e;
  }
}

function labelTaken(label: string): ConflictError {
  return new ConflictError('ERR_KEY_LABEL_TAKEN', `a key labelled ${label} exists`);
}
