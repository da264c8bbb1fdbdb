import { bytesEqual } from '../core/encoding.ts';
import { findDeletions, findReordering, matchesHead, rootsAt, type CheckedEntry } from './verify-entries.ts';
import type { VerifiedHead } from './verify-heads.ts';
import { explainRenumbering } from './verify-renumber.ts';
import type { AuditProblem } from './verify-types.ts';

/** How many duplicate candidates are tested against the signed roots (each costs O(n)). */
const MAX_RESOLVED_CANDIDATES = 256;

/**
 * Names structural and content problems. The log's order is the seq order (seq is hashed into each
 * leaf), so the roots are computed over entries sorted by seq; duplicates are resolved by which one the
 * signed roots accept.
 */
export function analyseEntries(all: readonly CheckedEntry[], heads: readonly VerifiedHead[]) {
  const problems: AuditProblem[] = [];
  // A seq can exceed the entry count only by as many entries as were deleted, which the latest head
  // bounds; anything larger is garbage (and would make the arrays below unbounded).
  const limit = all.length + (heads.at(-1)?.size ?? 0);
  const entries = all.filter((e) => e.seq < limit);
  for (const e of all.filter((x) => x.seq >= limit)) {
    problems.push({
      kind: 'entry_malformed',
      message: `the element at position ${e.index} has an impossible seq ${e.seq}`,
      index: e.index,
    });
  }
  const bySeq = new Map<number, CheckedEntry[]>();
  for (const e of entries) {
    const list = bySeq.get(e.seq);
    if (list === undefined) bySeq.set(e.seq, [e]);
    else list.push(e);
  }
  const end = entries.reduce((m, e) => Math.max(m, e.seq + 1), 0);
  const latestSize = heads.at(-1)?.size ?? 0;
  problems.push(...findDeletions(new Set(bySeq.keys()), end));
  if (end < latestSize) {
    problems.push({
      kind: 'truncated',
      message: `the export was truncated: it ends at entry ${end} but the tree head for size ${latestSize} covers ${latestSize} entries`,
      seq: end,
      treeSize: latestSize,
    });
  }
  problems.push(...findReordering(entries.filter((e) => bySeq.get(e.seq)?.length === 1)));
  const chosen = new Map<number, CheckedEntry>();
  for (const [seq, list] of bySeq) chosen.set(seq, list[0] as CheckedEntry);
  const leafAt = (override?: CheckedEntry) =>
    Array.from({ length: end }, (_, s) => (override?.seq === s ? override : chosen.get(s))?.content);
  let resolvable = MAX_RESOLVED_CANDIDATES;
  for (const [seq, list] of [...bySeq].sort((a, b) => a[0] - b[0])) {
    const [first, second] = list;
    if (first === undefined || second === undefined) continue;
    const head = firstHeadAbove(heads, seq);
    // Each candidate costs a root computation; past the budget the first one stands in (still reported).
    const genuine = (head && list.find((c) => resolvable-- > 0 && matchesHead(leafAt(c), head))) ?? first;
    chosen.set(seq, genuine);
    for (const c of list.filter((x) => x !== genuine)) {
      problems.push({
        kind: 'entry_inserted',
        message: `an entry was inserted at ${seq} (position ${c.index})`,
        seq,
        index: c.index,
      });
    }
  }
  const content = leafAt();
  const contentRoots = rootsAt(content, heads);
  const contentOk = (h: VerifiedHead) => {
    const r = contentRoots.get(h.size);
    return r === undefined ? undefined : bytesEqual(r, h.root);
  };
  const inOrder = [...chosen.values()].sort((a, b) => a.seq - b.seq);
  const mismatched = inOrder.filter((e) => !bytesEqual(e.content, e.stored));
  const renumbered = explainRenumbering(mismatched, end - 1);
  problems.push(...renumbered.problems);
  for (const e of mismatched) {
    if (renumbered.explained.has(e.seq)) continue;
    const head = firstHeadAbove(heads, e.seq);
    problems.push(
      head !== undefined && contentOk(head) === true
        ? {
            kind: 'leaf_hash_altered',
            message: `the leaf hash of entry ${e.seq} was altered`,
            seq: e.seq,
            index: e.index,
          }
        : { kind: 'entry_edited', message: `entry ${e.seq} was edited`, seq: e.seq, index: e.index },
    );
  }
  const named = problems
    .filter((p) => p.seq !== undefined && p.kind !== 'truncated')
    .map((p) => p.seq as number);
  let lastOk = 0;
  let explained = named.length === 0 ? Infinity : Math.min(...named);
  for (const h of heads) {
    const ok = contentOk(h);
    if (ok === true) lastOk = h.size;
    if (ok !== false || explained < h.size) continue;
    problems.push({
      kind: 'tree_head_mismatch',
      message: `tree head for size ${h.size} does not match the entries: entries ${lastOk} to ${h.size - 1} were altered`,
      seq: lastOk,
      treeSize: h.size,
    });
    explained = lastOk;
  }
  return { problems, leaves: content };
}

/** The smallest head that covers entry `seq` (heads sorted by size), by binary search. */
function firstHeadAbove(heads: readonly VerifiedHead[], seq: number): VerifiedHead | undefined {
  let lo = 0;
  let hi = heads.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((heads[mid] as VerifiedHead).size > seq) hi = mid;
    else lo = mid + 1;
  }
  return heads[lo];
}
