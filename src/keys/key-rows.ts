import { NotFoundError } from '../core/errors.ts';
import type { Db } from '../store/database.ts';
import type { KeysTable } from '../store/tables/foundation.ts';
import type { KeyAlgorithm, KeyBackend, KeyInfo } from './types.ts';

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
