import { createPublicKey, type KeyObject } from 'node:crypto';
import { bytesEqual, toBase64 } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { EXPORT_FORMAT, EXPORT_VERSION } from './export.ts';
import { noteVerifierFor, originForKey, parseCheckpoint, parseNote } from './note.ts';
import { analyseEntries } from './verify-analyse.ts';
import { checkEntries } from './verify-entries.ts';
import { verifyHeads } from './verify-heads.ts';
import { proveConsistency, proveInclusion } from './verify-proofs.ts';
import type { AuditProblem, VerifyOptions, VerifyReport } from './verify-types.ts';

/**
 * Verifies an audit export offline with only the audit public key: tree head signatures, seq contiguity,
 * each entry's leaf hash from its canonical bytes, and every head's root against the entries; optionally
 * proves one entry's inclusion and two heads' consistency. Problems are reported, not thrown.
 * Throws ERR_AUDIT_EXPORT_MALFORMED, ERR_AUDIT_PUBLIC_KEY_MALFORMED, ERR_AUDIT_KEY_ALGORITHM, ERR_AUDIT_PROOF_RANGE.
 */
export function verifyExport(doc: unknown, publicKeyPem: string, options: VerifyOptions = {}): VerifyReport {
  const d = checkShape(doc);
  const spki = spkiOf(publicKeyPem);
  if ((options.fromSize === undefined) !== (options.toSize === undefined)) {
    throw new ValidationError('ERR_AUDIT_PROOF_RANGE', 'a consistency check needs both a from and a to size');
  }
  const origin = originForKey(spki);
  const verifier = noteVerifierFor(origin, spki);
  const problems: AuditProblem[] = [];
  if (d.origin !== origin) {
    problems.push({
      kind: 'origin_mismatch',
      message: `the export is for log ${String(d.origin)}, not ${origin}`,
    });
  }
  if (typeof d.publicKey !== 'string' || !samePublicKey(d.publicKey, spki)) {
    problems.push({
      kind: 'public_key_mismatch',
      message: 'the export carries a different public key than the one given',
    });
  }
  const known = (options.knownCheckpoints ?? []).map(asHead);
  const { valid: heads, problems: headProblems } = verifyHeads([...d.treeHeads, ...known], verifier);
  problems.push(...headProblems);
  const { entries, problems: entryProblems } = checkEntries(d.entries);
  problems.push(...entryProblems);
  const analysis = analyseEntries(entries, heads);
  problems.push(...analysis.problems);
  const latest = heads.at(-1);
  if (latest === undefined && entries.length > 0) {
    problems.push({
      kind: 'no_tree_head',
      message: 'no tree head signed by the audit key covers the entries',
    });
  }
  const report = {
    origin,
    entries: d.entries.length,
    treeHeads: d.treeHeads.length,
    verifiedTreeHeads: heads.length,
    latestTreeSize: latest?.size ?? null,
    unsignedEntries: entries.filter((e) => e.seq >= (latest?.size ?? 0)).length,
    problems,
  };
  const inclusion =
    options.entrySeq === undefined
      ? undefined
      : proveInclusion(options.entrySeq, options.toSize, heads, analysis.leaves, problems);
  const consistency =
    options.fromSize === undefined || options.toSize === undefined
      ? undefined
      : proveConsistency(options.fromSize, options.toSize, heads, analysis.leaves, problems);
  return {
    ok: problems.length === 0,
    ...report,
    ...(inclusion === undefined ? {} : { inclusion }),
    ...(consistency === undefined ? {} : { consistency }),
  };
}

/** A checkpoint note held outside the export, in the export's tree head shape. */
function asHead(note: string): unknown {
  const text = parseNote(note)?.text;
  const cp = text === undefined ? undefined : parseCheckpoint(text);
  return cp === undefined ? { note } : { treeSize: cp.size, rootHash: toBase64(cp.root), note };
}

interface ExportShape {
  readonly origin: unknown;
  readonly publicKey: unknown;
  readonly entries: unknown[];
  readonly treeHeads: unknown[];
}

function checkShape(doc: unknown): ExportShape {
  const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
  if (
    d.format !== EXPORT_FORMAT ||
    d.version !== EXPORT_VERSION ||
    !Array.isArray(d.entries) ||
    !Array.isArray(d.treeHeads)
  ) {
    throw new ValidationError(
      'ERR_AUDIT_EXPORT_MALFORMED',
      `not an ${EXPORT_FORMAT} version ${EXPORT_VERSION} document`,
    );
  }
  return {
    origin: d.origin,
    publicKey: d.publicKey,
    entries: d.entries as unknown[],
    treeHeads: d.treeHeads as unknown[],
  };
}

function spkiOf(pem: string): Uint8Array {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new ValidationError(
      'ERR_AUDIT_PUBLIC_KEY_MALFORMED',
      'the audit public key is not a PEM public key',
      { cause },
    );
  }
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
}

function samePublicKey(pem: string, spki: Uint8Array): boolean {
  try {
    return bytesEqual(spkiOf(pem), spki);
  } catch {
    return false;
  }
}
