import { bytesEqual } from '../core/encoding.ts';
import { entryBytes } from './entry.ts';
import { leafHash } from './merkle.ts';
import type { CheckedEntry } from './verify-entries.ts';
import type { AuditProblem } from './verify-types.ts';

/** How far a renumbered entry is searched for around its current seq. */
const NEAR = 4;
/** Up to this many mismatched entries, each is also tried at every other mismatched seq (swaps). */
const PAIRWISE = 64;

/**
 * Explains entries whose fields no longer give their recorded leaf hash because their `seq` was
 * rewritten: entries renumbered after an insertion or a deletion in the store, or two entries whose
 * positions were exchanged. An entry counts as moved when its recorded leaf hash is the hash of its
 * fields at another seq. Returns the problems and the entries they explain (not to be called edited).
 */
export function explainRenumbering(
  mismatched: readonly CheckedEntry[],
  lastSeq: number,
): { problems: AuditProblem[]; explained: Set<number> } {
  const moved = new Map<number, number>();
  const pairwise = mismatched.length <= PAIRWISE ? mismatched.map((m) => m.seq) : [];
  for (const m of mismatched) {
    // -1, +1, -2, +2, …: renumbering after one insertion (or deletion) is found on the first try or two.
    const near = Array.from(
      { length: 2 * NEAR },
      (_, i) => m.seq + (i % 2 === 0 ? -(i / 2 + 1) : (i + 1) / 2),
    );
    for (const seq of new Set([...near, ...pairwise])) {
      if (seq < 0 || seq === m.seq) continue;
      if (bytesEqual(leafHash(entryBytes({ ...m.entry, seq })), m.stored)) {
        moved.set(m.seq, seq);
        break;
      }
    }
  }
  const problems: AuditProblem[] = [];
  const explained = new Set(moved.keys());
  const seqs = [...moved.keys()].sort((a, b) => a - b);
  // A renumbering after an insertion or deletion shifts every later entry by the same amount, so it
  // shows as one run of equal shifts reaching the last entry; anything else is a reordering.
  const shift = (s: number) => s - (moved.get(s) as number);
  let runStart = seqs.length;
  while (runStart > 0) {
    const s = seqs[runStart - 1] as number;
    const next = seqs[runStart];
    if (next === undefined ? s !== lastSeq : next !== s + 1 || shift(next) !== shift(s)) break;
    runStart--;
  }
  const first = seqs[runStart];
  if (first !== undefined) {
    const d = shift(first);
    if (d > 0) {
      for (let s = first - d; s < first; s++) {
        explained.add(s);
        problems.push({
          kind: 'entry_inserted',
          message: `an entry was inserted at ${s} (the entries after it were renumbered)`,
          seq: s,
        });
      }
    } else {
      problems.push({
        kind: 'entry_deleted',
        message:
          d === -1
            ? `entry ${first} was deleted (the entries after it were renumbered)`
            : `entries ${first} to ${first - d - 1} were deleted (the entries after them were renumbered)`,
        seq: first,
        ...(d === -1 ? {} : { toSeq: first - d - 1 }),
      });
    }
  }
  for (const s of seqs.slice(0, runStart)) {
    problems.push({
      kind: 'entries_reordered',
      message: `entries reordered at ${s}: entry ${moved.get(s)} was renumbered to ${s}`,
      seq: s,
    });
  }
  return { problems, explained };
}
