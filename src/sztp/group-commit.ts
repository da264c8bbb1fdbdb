/**
 * Group commit: concurrent writers queue their work and one transaction commits the whole queue, so the
 * bootstrapping log and its audit entries stay synchronous (a request is answered after its entry commits)
 * without one transaction per request. A failing batch is retried entry by entry so one bad entry only
 * fails its own caller.
 */
import type { Store, Tx } from '../store/database.ts';

type Work = (tx: Tx) => Promise<void>;
interface Pending {
  readonly work: Work;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/** Queues transactional work and commits it in batches of at most `maxBatch`. */
export class GroupCommit {
  readonly #store: Store;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #running = false;

  constructor(store: Store, maxBatch = 256) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  /** Runs `work` in a transaction shared with other queued work; resolves once it has committed. */
  run(work: Work): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ work, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#maxBatch);
        try {
          await this.#store.transaction(async (tx) => {
            for (const p of batch) await p.work(tx);
          });
          for (const p of batch) p.resolve();
        } catch {
          for (const p of batch) {
            await this.#store.transaction((tx) => p.work(tx)).then(p.resolve, p.reject);
          }
        }
      }
    } finally {
      this.#running = false;
    }
  }
}
