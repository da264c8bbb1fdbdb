/**
 * Audit appends held in memory for the length of one group-commit transaction. A group of N pieces
 * would otherwise read and write the audit state row (and insert its entries) once per append; with
 * the group's transaction registered here, the state is read once (under the PostgreSQL row lock, as a
 * plain append would), every append computes its entries (seq, leaf hash, frontier) at once, in call
 * order, and the rows and the new state are written by one multi-row insert and one update just before
 * the group commits. A piece that fails is returned to its mark, so its entries vanish with its change.
 * Nothing here outlives the transaction: the record is dropped when the group ends, commit or not.
 */
import type { Executor } from '../store/database.ts';
import type { DialectName } from '../store/dialect.ts';
import { insertEntryRows, writeState } from './rows.ts';

/** What a deferring transaction holds: the state as of its last write plus the rows not yet inserted. */
export interface DeferredAppends {
  /** Audit state (size, frontier) after the buffered rows; undefined until the first append reads it. */
  state: { size: number; frontier: Uint8Array[] } | undefined;
  /** Flattened insert parameters of the buffered rows (the log's column order). */
  params: unknown[];
  /** Buffered rows. */
  rows: number;
  /** The dialect of the log that buffered them (the flush's SQL). */
  dialect: DialectName | undefined;
}

/** A piece's starting point: the state and row count to return to if the piece fails. */
export interface DeferredMark {
  readonly state: { size: number; frontier: Uint8Array[] } | undefined;
  readonly rows: number;
  readonly paramsLength: number;
}

const open = new WeakMap<Executor, DeferredAppends>();

/** The deferral record of `tx`, if its appends are being held. */
export function deferredOf(tx: Executor): DeferredAppends | undefined {
  return open.get(tx);
}

/**
 * The group-commit buffer of the audit log: pass it to `new GroupCommit(store, { buffers: [...] })` so
 * the audit entries of one group are written together (see the module comment).
 */
export const auditGroupBuffer = {
  /** Starts holding the appends made with `tx`. */
  begin(tx: Executor): void {
    open.set(tx, { state: undefined, params: [], rows: 0, dialect: undefined });
  },
  /** Where the next piece starts. */
  mark(tx: Executor): DeferredMark {
    const d = open.get(tx);
    const s = d?.state;
    return {
      state: s === undefined ? undefined : { size: s.size, frontier: s.frontier.slice() },
      rows: d?.rows ?? 0,
      paramsLength: d?.params.length ?? 0,
    };
  },
  /** Forgets the appends of a piece that was rolled back to its savepoint. */
  rollback(tx: Executor, mark: unknown): void {
    const d = open.get(tx);
    if (d === undefined) return;
    const m = mark as DeferredMark;
    d.state = m.state;
    d.rows = m.rows;
    d.params.length = m.paramsLength;
  },
  /** Writes the held rows and the new state inside `tx`, before its commit. Throws the store's errors. */
  async flush(tx: Executor): Promise<void> {
    const d = open.get(tx);
    if (d === undefined || d.rows === 0 || d.state === undefined || d.dialect === undefined) return;
    await insertEntryRows(tx, d.dialect, d.params, d.rows);
    await writeState(tx, d.state.size, d.state.frontier);
  },
  /** Drops the record (after commit or rollback): nothing is held past the transaction. */
  end(tx: Executor): void {
    open.delete(tx);
  },
};
