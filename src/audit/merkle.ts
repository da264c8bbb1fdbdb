import { createHash, hash } from 'node:crypto';
import { InternalError } from '../core/errors.ts';

/** RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  // One-shot hashing of one buffer: appends hash thousands of leaves a second, and a Hash object each costs more.
  const input = Buffer.allocUnsafe(entry.length + 1);
  input[0] = 0;
  input.set(entry, 1);
  return view(hash('sha256', input, 'buffer'));
}

/** A plain Uint8Array over a Buffer's bytes, without copying (callers compare with deepEqual). */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = 1;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return view(hash('sha256', input, 'buffer'));
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
  const next = [...frontier];
  frontierPush(next, size, leaf);
  return next;
}

/**
 * frontierAppend in place, for batches: mutates `frontier` (of a tree with `size` leaves).
 * Throws ERR_AUDIT_STATE_CORRUPT when the frontier cannot belong to a tree of that size.
 */
export function frontierPush(frontier: Uint8Array[], size: number, leaf: Uint8Array): void {
  frontier.push(leaf);
  for (let k = size; k % 2 === 1; k = Math.floor(k / 2)) {
    const right = frontier.pop();
    const left = frontier.pop();
    if (left === undefined || right === undefined) {
      throw new InternalError('ERR_AUDIT_STATE_CORRUPT', 'the audit log state does not match its size');
    }
    frontier.push(nodeHash(left, right));
  }
}

/** The Merkle tree hash (RFC 9162 MTH) of a tree given by its frontier. */
export function frontierRoot(frontier: readonly Uint8Array[]): Uint8Array {
  let root = frontier.at(-1);
  if (root === undefined) return EMPTY_ROOT;
  for (let i = frontier.length - 2; i >= 0; i--) root = nodeHash(frontier[i] as Uint8Array, root);
  return root;
}
