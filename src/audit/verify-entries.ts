import { bytesEqual, fromHex } from '../core/encoding.ts';
import { entryBytes } from './entry.ts';
import { frontierPush, frontierRoot, leafHash } from './merkle.ts';
import type { AuditEntry } from './types.ts';
import type { VerifiedHead } from './verify-heads.ts';
import type { AuditProblem } from './verify-types.ts';

/** An export element that has the shape of an entry, with its recomputed and its recorded leaf hash. */
export interface CheckedEntry {
  readonly index: number;
  readonly seq: number;
  readonly entry: AuditEntry;
  /** Leaf hash recomputed from the entry's canonical bytes. */
  readonly content: Uint8Array;
  /** Leaf hash as recorded in the export. */
  readonly stored: Uint8Array;
}

/** Parses export elements into checked entries; malformed ones become problems. */
export function checkEntries(raw: readonly unknown[]): { entries: CheckedEntry[]; problems: AuditProblem[] } {
  const entries: CheckedEntry[] = [];
  const problems: AuditProblem[] = [];
  raw.forEach((value, index) => {
    const e = asEntry(value);
    if (e === undefined) {
      problems.push({
        kind: 'entry_malformed',
        message: `the element at position ${index} is not an audit entry`,
        index,
      });
      return;
    }
    entries.push({
      index,
      seq: e.entry.seq,
      entry: e.entry,
      content: leafHash(entryBytes(e.entry)),
      stored: e.stored,
    });
  });
  return { entries, problems };
}

function asEntry(v: unknown): { entry: AuditEntry; stored: Uint8Array } | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const strings = ['time', 'actor', 'action', 'subject'].every((k) => typeof o[k] === 'string');
  const tenantOk = o.tenantId === null || typeof o.tenantId === 'string';
  const detailsOk = typeof o.details === 'object' && o.details !== null && !Array.isArray(o.details);
  const seqOk = typeof o.seq === 'number' && Number.isSafeInteger(o.seq) && o.seq >= 0;
  if (!strings || !tenantOk || !detailsOk || !seqOk) return undefined;
  if (typeof o.leafHash !== 'string' || !/^[0-9a-f]{64}$/.test(o.leafHash)) return undefined;
  try {
    const entry = {
      seq: o.seq,
      time: o.time,
      actor: o.actor,
      action: o.action,
      subject: o.subject,
      tenantId: o.tenantId,
      details: o.details,
    } as AuditEntry;
    // Rejects values canonical JSON cannot encode (never produced by the log).
    entryBytes(entry);
    return { entry, stored: fromHex(o.leafHash) };
  } catch {
    return undefined;
  }
}

/** Runs of missing seqs below `end` as entry_deleted problems. */
export function findDeletions(present: ReadonlySet<number>, end: number): AuditProblem[] {
  const out: AuditProblem[] = [];
  for (let s = 0; s < end; s++) {
    if (present.has(s)) continue;
    let t = s;
    while (t + 1 < end && !present.has(t + 1)) t++;
    out.push(
      t === s
        ? { kind: 'entry_deleted', message: `entry ${s} was deleted`, seq: s }
        : { kind: 'entry_deleted', message: `entries ${s} to ${t} were deleted`, seq: s, toSeq: t },
    );
    s = t;
  }
  return out;
}

/** Entries whose order in the export breaks the longest in-order run (by seq): each is reported once. */
export function findReordering(entries: readonly CheckedEntry[]): AuditProblem[] {
  // Patience-sorting LIS over seq values, O(n log n).
  const tails: number[] = [];
  const prev = new Array<number>(entries.length).fill(-1);
  entries.forEach((e, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((entries[tails[mid] as number] as CheckedEntry).seq < e.seq) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1] as number;
    tails[lo] = i;
  });
  const inOrder = new Set<number>();
  for (let i = tails.at(-1) ?? -1; i >= 0; i = prev[i] as number) inOrder.add(i);
  return entries
    .filter((_, i) => !inOrder.has(i))
    .map((e) => ({
      kind: 'entries_reordered' as const,
      message: `entries reordered at ${e.seq}: entry ${e.seq} appears at position ${e.index}`,
      seq: e.seq,
      index: e.index,
    }));
}

/**
 * The root of each head size computable from `leaves` (stops at the first undefined leaf, a gap).
 * Returns size → root for every head whose entries are all present.
 */
export function rootsAt(
  leaves: readonly (Uint8Array | undefined)[],
  heads: readonly VerifiedHead[],
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const frontier: Uint8Array[] = [];
  let size = 0;
  for (const head of heads) {
    while (size < head.size) {
      const leaf = leaves[size];
      if (leaf === undefined) return out;
      frontierPush(frontier, size, leaf);
      size++;
    }
    out.set(head.size, frontierRoot(frontier));
  }
  return out;
}

/** True when `leaves` (all present) give `head`'s root. */
export function matchesHead(leaves: readonly (Uint8Array | undefined)[], head: VerifiedHead): boolean {
  const root = rootsAt(leaves, [head]).get(head.size);
  return root !== undefined && bytesEqual(root, head.root);
}
