import { createHash } from 'node:crypto';

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Buffer.of(0)).update(entry).digest());
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest());
}

/** The hash of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT = new Uint8Array(createHash('sha256').digest());

/**
 * Appends a leaf to a compact frontier (the perfect-subtree roots on the right edge, largest first)
 * of a tree with `size` leaves, returning the new frontier. O(log n).
 */
export function frontierAppend(
  frontier: readonly Uint8Array[],
  size: number,
  leaf: Uint8Array,
): Uint8Array[] {
  const next = [...frontier, leaf];
  for (let k = size; k % 2 === 1; k = Math.floor(k / 2)) {
    const right = next.pop();
    const left = next.pop();
    if (left === undefined || right === undefined) throw new Error('audit frontier does not match its size');
    next.push(nodeHash(left, right));
  }
  return next;
}

/** The Merkle tree hash (RFC 9162 MTH) of a tree given by its frontier. */
export function frontierRoot(frontier: readonly Uint8Array[]): Uint8Array {
  let root = frontier.at(-1);
  if (root === undefined) return EMPTY_ROOT;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i] as Uint8Array, root);
  return root;
}
