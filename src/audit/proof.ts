import { bytesEqual } from '../core/encoding.ts';
import { EMPTY_ROOT, nodeHash } from './merkle.ts';

/** A list of leaf hashes from which subtree hashes and proofs are computed (RFC 9162 §2.1). */
export type Leaves = readonly Uint8Array[];

/** MTH(D[lo:hi]): the Merkle tree hash of the leaves in [lo, hi), per RFC 9162 §2.1.1. */
export function subtreeHash(leaves: Leaves, lo: number, hi: number): Uint8Array {
  const n = hi - lo;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[lo] as Uint8Array;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(subtreeHash(leaves, lo, lo + k), subtreeHash(leaves, lo + k, hi));
}

/** The largest power of two strictly smaller than n (n ≥ 2). */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * PATH(m, D[n]) of RFC 9162 §2.1.3.1: the inclusion proof of leaf `index` in the tree of the first
 * `size` leaves. Throws RangeError when index ≥ size or size exceeds the leaves given.
 */
export function inclusionProof(leaves: Leaves, index: number, size: number): Uint8Array[] {
  if (
    !Number.isSafeInteger(index) ||
    !Number.isSafeInteger(size) ||
    index < 0 ||
    index >= size ||
    size > leaves.length
  ) {
    throw new RangeError(`no inclusion proof for leaf ${index} in a tree of ${size}`);
  }
  return path(leaves, index, 0, size);
}

function path(leaves: Leaves, m: number, lo: number, hi: number): Uint8Array[] {
  const n = hi - lo;
  if (n === 1) return [];
  const k = largestPowerOfTwoBelow(n);
  if (m < k) return [...path(leaves, m, lo, lo + k), subtreeHash(leaves, lo + k, hi)];
  return [...path(leaves, m - k, lo + k, hi), subtreeHash(leaves, lo, lo + k)];
}

/**
 * PROOF(m, D[n]) of RFC 9162 §2.1.4.1: the consistency proof from the tree of the first `first` leaves
 * to the tree of the first `second`. Empty when first is 0 or equals second. Throws RangeError on bad sizes.
 */
export function consistencyProof(leaves: Leaves, first: number, second: number): Uint8Array[] {
  if (
    !Number.isSafeInteger(first) ||
    !Number.isSafeInteger(second) ||
    first < 0 ||
    first > second ||
    second > leaves.length
  ) {
    throw new RangeError(`no consistency proof from size ${first} to ${second}`);
  }
  if (first === 0 || first === second) return [];
  return subproof(leaves, first, 0, second, true);
}

function subproof(leaves: Leaves, m: number, lo: number, hi: number, b: boolean): Uint8Array[] {
  const n = hi - lo;
  if (m === n) return b ? [] : [subtreeHash(leaves, lo, hi)];
  const k = largestPowerOfTwoBelow(n);
  if (m <= k) return [...subproof(leaves, m, lo, lo + k, b), subtreeHash(leaves, lo + k, hi)];
  return [...subproof(leaves, m - k, lo + k, hi, false), subtreeHash(leaves, lo, lo + k)];
}

/** RFC 9162 §2.1.3.2: true when `proof` proves leaf `leaf` at `index` in a tree of `size` with `root`. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  // Step 1. Sizes stay below 2^53, so plain arithmetic on numbers is exact; shifts use Math.floor.
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  // Step 2.
  let fn = index;
  let sn = size - 1;
  // Step 3.
  let r = leaf;
  // Step 4.
  for (const p of proof) {
    if (sn === 0) return false; // 4a
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r); // 4b i
      if (fn % 2 === 0) {
        // 4b ii
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    // 4c
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2: true when `proof` shows the tree of `first` leaves with `firstRoot` is a prefix of the
 * tree of `second` leaves with `secondRoot`. The RFC defines the algorithm for 0 < first < second; the
 * edge cases follow from the definitions: equal sizes need equal roots and an empty proof, and the
 * empty tree is a prefix of every tree (empty proof).
 */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second)
    return false;
  if (first === second) return proof.length === 0 && bytesEqual(firstRoot, secondRoot);
  if (first === 0) return proof.length === 0;
  // Step 1.
  if (proof.length === 0) return false;
  // Step 2.
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  // Step 3.
  let fn = first - 1;
  let sn = second - 1;
  // Step 4.
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 5.
  let fr = path[0] as Uint8Array;
  let sr = fr;
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) return false; // 6a
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr); // 6b i
      sr = nodeHash(c, sr); // 6b ii
      if (fn % 2 === 0) {
        // 6b iii
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    // 6c
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  // Step 7.
  return bytesEqual(fr, firstRoot) && bytesEqual(sr, secondRoot) && sn === 0;
}

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1 && m % 2 === 0) m /= 2;
  return m === 1;
}
