/**
 * Group commit for the bootstrapping log: concurrent requests queue their entries and one transaction
 * stores the whole queue through a batch writer (one audit `appendMany` instead of one audit append per
 * entry), so every entry stays synchronous (a request is answered after its entry commits) without one
 * SQLite write transaction per request. A failing batch is retried entry by entry, each in its own
 * transaction, so one bad entry only fails its own caller.
 *
 * The first entry does not start a transaction at once: the drain waits for the rest of the current event
 * loop turn (setImmediate), so that entries of requests whose bytes arrived in the same turn join the
 * batch. With SQLite's synchronous driver a transaction otherwise completes within microtasks, before the
 * next request is even read, and every batch would hold exactly one entry (the bench measured 1201 batches
 * of one for 1201 requests). While entries keep arriving it waits up to two more turns (see #gather), which
 * doubled the batches of the keep-alive bench (14 → 29 entries per commit at 32 clients).
 */
import type { Store, Tx } from '../store/database.ts';

/** Writes a batch of items inside the given transaction (all or nothing). */
export type BatchWriter<T> = (tx: Tx, items: readonly T[]) => Promise<void>;

interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** Queues items and commits them in batches of at most `maxBatch` through `write`. */
export class GroupCommit<T> {
  readonly #store: Store;
  readonly #write: BatchWriter<T>;
  readonly #maxBatch: number;
  readonly #lingerTurns: number;
  #queue: Pending<T>[] = [];
  #scheduled = false;
  /** Queue length at the previous turn while gathering. */
  #seen = 0;
  #batches = 0;
  #entries = 0;

  constructor(store: Store, write: BatchWriter<T>, maxBatch = 256, lingerTurns = 2) {
    this.#store = store;
    this.#write = write;
    this.#maxBatch = maxBatch;
    this.#lingerTurns = lingerTurns;
  }

  /** Batches committed and the entries they held (for the bench and tests). */
  get stats(): { batches: number; entries: number } {
    return { batches: this.#batches, entries: this.#entries };
  }

  /** Stores `item` in a transaction shared with other queued items; resolves once it has committed. */
  run(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        this.#seen = 0;
        setImmediate(() => this.#gather(0));
      }
    });
  }

  /**
   * While entries are still arriving (the queue grew during the last turn), waits another event-loop turn, at
   * most `lingerTurns` times: with keep-alive clients the next requests arrive a turn or two after the answers
   * to the last batch left, and one commit for all of them costs about a third less per entry than two
   * (SQLite writes the touched index pages once per commit). A lone entry waits one turn.
   */
  #gather(turn: number): void {
    const n = this.#queue.length;
    if (turn < this.#lingerTurns && n > this.#seen && n < this.#maxBatch) {
      this.#seen = n;
      setImmediate(() => this.#gather(turn + 1));
      return;
    }
    void this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          await this.#store.transaction((tx) =>
            this.#write(
              tx,
              batch.map((p) => p.item),
            ),
          );
          this.#batches++;
          this.#entries += batch.length;
          for (const p of batch) p.resolve();
        } catch (e) {
          if (batch.length === 1) {
            batch[0]?.reject(e);
            continue;
          }
          for (const p of batch) {
            await this.#store.transaction((tx) => this.#write(tx, [p.item])).then(p.resolve, p.reject);
          }
        }
      }
    } finally {
      this.#scheduled = false;
    }
  }
}
