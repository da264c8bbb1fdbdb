import { toBase64 } from '../core/encoding.ts';
import { bytesEqual } from '../core/encoding.ts';
import { parseCheckpoint, parseNote, verifyNote, type NoteVerifier } from './note.ts';
import type { AuditProblem } from './verify-types.ts';

/** A tree head whose note verified under the audit key. */
export interface VerifiedHead {
  readonly size: number;
  readonly root: Uint8Array;
}

/**
 * Checks every exported tree head: its note must carry a valid signature by the audit key, its body must
 * be a checkpoint for this log, and its convenience fields must agree with the note. Returns the verified
 * heads by size (one per size) and the problems found.
 */
export function verifyHeads(
  heads: readonly unknown[],
  verifier: NoteVerifier,
): { valid: VerifiedHead[]; problems: AuditProblem[] } {
  const problems: AuditProblem[] = [];
  const bySize = new Map<number, VerifiedHead>();
  heads.forEach((raw, index) => {
    const h = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const claimed = typeof h.treeSize === 'number' ? h.treeSize : undefined;
    const label = claimed === undefined ? `tree head #${index}` : `tree head for size ${claimed}`;
    const note = typeof h.note === 'string' ? parseNote(h.note) : undefined;
    if (note === undefined) {
      problems.push(headProblem('tree_head_malformed', `${label} is not a signed note`, claimed));
      return;
    }
    if (!verifyNote(note, verifier)) {
      problems.push(
        headProblem('tree_head_bad_signature', `${label} has a bad signature (forged or altered)`, claimed),
      );
      return;
    }
    const cp = parseCheckpoint(note.text);
    if (cp === undefined || cp.origin !== verifier.name) {
      problems.push(headProblem('tree_head_malformed', `${label} is not a checkpoint of this log`, claimed));
      return;
    }
    if (claimed !== cp.size || h.rootHash !== toBase64(cp.root)) {
      problems.push(
        headProblem(
          'tree_head_malformed',
          `tree head for size ${cp.size}: its fields disagree with its signed note`,
          cp.size,
        ),
      );
    }
    const seen = bySize.get(cp.size);
    if (seen === undefined) bySize.set(cp.size, { size: cp.size, root: cp.root });
    else if (!bytesEqual(seen.root, cp.root)) {
      problems.push(
        headProblem(
          'tree_heads_inconsistent',
          `two validly signed tree heads for size ${cp.size} have different roots: the log forked`,
          cp.size,
        ),
      );
    }
  });
  return { valid: [...bySize.values()].sort((a, b) => a.size - b.size), problems };
}

function headProblem(
  kind: AuditProblem['kind'],
  message: string,
  treeSize: number | undefined,
): AuditProblem {
  return treeSize === undefined ? { kind, message } : { kind, message, treeSize };
}
