import { createPublicKey } from 'node:crypto';
import { concatBytes, fromHex } from '../core/encoding.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import type { KeyAlgorithm, KeyInfo, KeyStore } from '../keys/types.ts';
import type { Executor } from '../store/database.ts';
import type { AuditTreeHeadsTable } from '../store/tables/audit.ts';
import { frontierRoot } from './merkle.ts';
import {
  checkpointText,
  formatNote,
  noteSignatureType,
  noteVerifierFor,
  NOTE_SIG_ECDSA,
  originForKey,
} from './note.ts';

/** Key algorithms with a signed-note signature type (Ed25519: 0x01, ECDSA: 0x02). */
const NOTE_KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ed25519', 'ecdsa-p256', 'ecdsa-p384'];

/** The key store label of the audit signing key. */
export const AUDIT_KEY_LABEL = 'imprint-audit';

/** A signed tree head: a C2SP checkpoint as a signed note, with the time it was signed (kept alongside). */
export interface TreeHead {
  readonly treeSize: number;
  readonly rootHash: Uint8Array;
  /** When the head was signed (ISO-8601). Stored next to the note, not inside it. */
  readonly timestamp: string;
  /** Key store id of the signing key. */
  readonly keyId: string;
  /** The complete signed note. */
  readonly note: string;
}

/**
 * The audit key, created with `algorithm` (default Ed25519) if none exists yet.
 * Throws ERR_AUDIT_KEY_ALGORITHM when the existing or requested key cannot sign notes.
 */
export async function ensureAuditKey(keys: KeyStore, algorithm: KeyAlgorithm = 'ed25519'): Promise<KeyInfo> {
  let key = await keys.findByLabel(AUDIT_KEY_LABEL);
  if (key === undefined) {
    if (!NOTE_KEY_ALGORITHMS.includes(algorithm)) {
      throw new ValidationError('ERR_AUDIT_KEY_ALGORITHM', `an ${algorithm} key cannot sign C2SP notes`);
    }
    try {
      key = await keys.generate(AUDIT_KEY_LABEL, algorithm);
    } catch (e) {
      // Another process created it first.
      if (!(e instanceof ConflictError)) throw e;
      key = await keys.findByLabel(AUDIT_KEY_LABEL);
      if (key === undefined) throw e;
    }
  }
  publicKeyType(key);
  return key;
}

function publicKeyType(key: KeyInfo) {
  return noteSignatureType(
    createPublicKey({ key: Buffer.from(key.publicKeyDer), format: 'der', type: 'spki' }),
  );
}

/**
 * Signs a checkpoint for the log's current size if no head of that size exists yet; returns it, or
 * undefined when the log has not grown (or is empty). Safe to call from many processes at once.
 * Throws ERR_AUDIT_KEY_ALGORITHM, ERR_KEY_SIGN_FAILED.
 */
export async function signTreeHead(
  db: Executor,
  keys: KeyStore,
  key: KeyInfo,
  now: Date,
): Promise<TreeHead | undefined> {
  // Read without a lock and sign outside any transaction: the software key store may need the
  // connection itself, and a head for a given size is a fact (its root is fixed), so two processes
  // signing the same size race harmlessly on the primary key.
  const state = await db.selectFrom('audit_state').selectAll().where('id', '=', 1).executeTakeFirstOrThrow();
  const latest = await db
    .selectFrom('audit_tree_heads')
    .select('tree_size')
    .orderBy('tree_size', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (state.size === 0 || (latest !== undefined && Number(latest.tree_size) >= state.size)) return undefined;
  const root = frontierRoot((JSON.parse(state.frontier) as string[]).map(fromHex));
  const origin = originForKey(key.publicKeyDer);
  const verifier = noteVerifierFor(origin, key.publicKeyDer);
  const text = checkpointText(origin, state.size, root);
  const signature = await keys.sign(
    key.id,
    new TextEncoder().encode(text),
    verifier.type === NOTE_SIG_ECDSA ? { hash: 'sha256', ecdsaFormat: 'der' } : {},
  );
  const id = Buffer.alloc(4);
  id.writeUInt32BE(verifier.keyId);
  const row: AuditTreeHeadsTable = {
    tree_size: state.size,
    root_hash: root,
    timestamp: now.toISOString(),
    key_id: key.id,
    signature: concatBytes(id, signature),
  };
  await db
    .insertInto('audit_tree_heads')
    .values(row)
    .onConflict((oc) => oc.column('tree_size').doNothing())
    .execute();
  return headFromRow(row, key);
}

/** Rebuilds the signed note of a stored head with the key that signed it. */
export function headFromRow(row: AuditTreeHeadsTable, key: KeyInfo): TreeHead {
  const origin = originForKey(key.publicKeyDer);
  const blob = new Uint8Array(row.signature);
  const keyId = Buffer.from(blob.subarray(0, 4)).readUInt32BE(0);
  const root = new Uint8Array(row.root_hash);
  return {
    treeSize: Number(row.tree_size),
    rootHash: root,
    timestamp: row.timestamp,
    keyId: row.key_id,
    note: formatNote(checkpointText(origin, Number(row.tree_size), root), origin, keyId, blob.subarray(4)),
  };
}

/** Every stored head, smallest first; only `treeSize`'s when given, only the latest when `treeSize` is 'latest'. */
export async function readTreeHeads(
  db: Executor,
  keys: KeyStore,
  treeSize?: number | 'latest',
): Promise<TreeHead[]> {
  let q = db.selectFrom('audit_tree_heads').selectAll();
  if (typeof treeSize === 'number') q = q.where('tree_size', '=', treeSize);
  const rows =
    treeSize === 'latest'
      ? await q.orderBy('tree_size', 'desc').limit(1).execute()
      : await q.orderBy('tree_size', 'asc').execute();
  const cache = new Map<string, KeyInfo>();
  const out: TreeHead[] = [];
  for (const row of rows) {
    let key = cache.get(row.key_id);
    if (key === undefined) {
      key = await keys.get(row.key_id);
      cache.set(row.key_id, key);
    }
    out.push(headFromRow(row, key));
  }
  return out;
}

/** The head for `treeSize`, or the latest when omitted. Throws ERR_AUDIT_TREE_HEAD_NOT_FOUND. */
export async function findTreeHead(db: Executor, keys: KeyStore, treeSize?: number): Promise<TreeHead> {
  const [head] = await readTreeHeads(db, keys, treeSize ?? 'latest');
  if (head === undefined) {
    throw new NotFoundError(
      'ERR_AUDIT_TREE_HEAD_NOT_FOUND',
      treeSize === undefined ? 'no tree head has been signed yet' : `no tree head for size ${treeSize}`,
    );
  }
  return head;
}
