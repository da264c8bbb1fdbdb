import { toHex } from '../core/encoding.ts';
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from './proof.ts';
import type { VerifiedHead } from './verify-heads.ts';
import type { AuditProblem, ConsistencyCheck, InclusionCheck } from './verify-types.ts';

/** Proves entry `seq` in the head of `toSize` (or the latest); failures become problems. */
export function proveInclusion(
  seq: number,
  toSize: number | undefined,
  heads: readonly VerifiedHead[],
  leaves: readonly (Uint8Array | undefined)[],
  problems: AuditProblem[],
): InclusionCheck | undefined {
  const head = toSize === undefined ? heads.at(-1) : heads.find((h) => h.size === toSize);
  if (head === undefined) {
    problems.push({
      kind: 'proof_failed',
      message: `no validly signed tree head ${toSize === undefined ? 'exists' : `for size ${toSize}`}`,
    });
    return undefined;
  }
  const prefix = leaves.slice(0, head.size);
  const leaf = leaves[seq];
  if (
    !Number.isSafeInteger(seq) ||
    seq < 0 ||
    seq >= head.size ||
    leaf === undefined ||
    prefix.length < head.size ||
    prefix.includes(undefined)
  ) {
    problems.push({
      kind: 'proof_failed',
      message: `entry ${seq} cannot be proven in the tree head for size ${head.size}`,
      seq,
      treeSize: head.size,
    });
    return undefined;
  }
  const proof = inclusionProof(prefix as Uint8Array[], seq, head.size);
  const verified = verifyInclusion(leaf, seq, head.size, proof, head.root);
  if (!verified) {
    problems.push({
      kind: 'proof_failed',
      message: `entry ${seq} is not included in the tree head for size ${head.size}`,
      seq,
      treeSize: head.size,
    });
  }
  return { seq, treeSize: head.size, leafHash: toHex(leaf), proof: proof.map(toHex), verified };
}

/** Proves the head of `toSize` consistent with the one of `fromSize` from the export's leaves. */
export function proveConsistency(
  fromSize: number,
  toSize: number,
  heads: readonly VerifiedHead[],
  leaves: readonly (Uint8Array | undefined)[],
  problems: AuditProblem[],
): ConsistencyCheck | undefined {
  const from = heads.find((h) => h.size === fromSize);
  const to = heads.find((h) => h.size === toSize);
  if (from === undefined || to === undefined) {
    const missing = from === undefined ? fromSize : toSize;
    problems.push({
      kind: 'proof_failed',
      message: `no validly signed tree head for size ${missing}`,
      treeSize: missing,
    });
    return undefined;
  }
  const prefix = leaves.slice(0, toSize);
  if (fromSize > toSize || prefix.length < toSize || prefix.includes(undefined)) {
    problems.push({
      kind: 'proof_failed',
      message: `no consistency proof from size ${fromSize} to ${toSize} can be computed from the export`,
      treeSize: toSize,
    });
    return undefined;
  }
  const proof = consistencyProof(prefix as Uint8Array[], fromSize, toSize);
  const verified = verifyConsistency(fromSize, toSize, proof, from.root, to.root);
  if (!verified) {
    problems.push({
      kind: 'proof_failed',
      message: `the tree head for size ${toSize} is not consistent with the one for size ${fromSize}`,
      treeSize: toSize,
    });
  }
  return { fromSize, toSize, proof: proof.map(toHex), verified };
}
