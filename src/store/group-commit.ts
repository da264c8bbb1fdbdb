/**
 * Group commit with a savepoint per caller. Concurrent writers queue their work; one transaction runs
 * the whole queue, each piece inside its own savepoint, so a piece that throws is rolled back alone
 * (its change and its audit entry together) and only its caller sees the error, while the others
 * commit together. Callers are answered after the commit, so a resolved call is durable as before.
 * Fewer commits is the point: on SQLite each commit writes the touched pages to the WAL again
 * (the audit state and the hottest index pages every time), and on PostgreSQL each is a round trip.
 */
import { sql } from 'kysely';
import type { Store, Tx } from './database.ts';

interface Pending {
  readonly work: (tx: Tx) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Something that holds writes of a group in memory and writes them once, just before the commit (the
 * audit log's entries: src/audit/deferred.ts). `mark`/`rollback` follow each piece's savepoint, so a
 * refused piece's held writes are dropped with its change; `end` runs after every group, committed or not.
 */
export interface GroupBuffer {
  /** Starts holding writes made with `tx`. */
  begin(tx: Tx): void;
  /** The point to return to if the next piece fails. */
  mark(tx: Tx): unknown;
  /** Drops what a failed piece held since `mark`. */
  rollback(tx: Tx, mark: unknown): void;
  /** Writes what is held, inside `tx`. */
  flush(tx: Tx): Promise<void>;
  /** Forgets `tx`. */
  end(tx: Tx): void;
}

/** How long one group with company keeps later groups lingering. */
const COMPANY_MS = 200;

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Queues transactional work and commits it in groups of at most `maxGroup`.
 * Work must use only the `tx` it is given (never open another transaction: on SQLite's single
 * connection that would wait for the group forever) and must be safe to run again: if the shared
 * commit itself fails, each piece is retried alone in its own transaction.
 */
export class GroupCommit {
  readonly #store: Store;
  readonly #maxGroup: number;
  readonly #lingerMs: number;
  readonly #buffers: readonly GroupBuffer[];
  #queue: Pending[] = [];
  #running = false;
  /** When a group last had more than one piece (performance.now()). */
  #lastCompany = -Infinity;

  /**
   * `lingerMs`: while writers are evidently concurrent (a group had company in the last 200 ms), a
   * group waits this long for more work before it begins; a lone writer never waits.
   * `buffers`: held writes of a group of several pieces (GroupBuffer); a lone piece writes as usual.
   */
  constructor(
    store: Store,
    options: { maxGroup?: number; lingerMs?: number; buffers?: readonly GroupBuffer[] } = {},
  ) {
    this.#store = store;
    this.#maxGroup = options.maxGroup ?? 64;
    this.#lingerMs = options.lingerMs ?? 2;
    this.#buffers = options.buffers ?? [];
  }

  /** Runs `work` in a transaction shared with other queued work; resolves with its result once committed. */
  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#running) {
        this.#running = true;
        // Start after the I/O callbacks of this loop turn (or a little later when writers are
        // concurrent), so work they queue meanwhile joins the same group.
        if (this.#lingerMs > 0 && performance.now() - this.#lastCompany < COMPANY_MS)
          setTimeout(() => void this.#drain(), this.#lingerMs);
        else setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue.splice(0, this.#maxGroup);
        if (group.length > 1) this.#lastCompany = performance.now();
        if (group.length === 1) await this.#alone(group[0]!);
        else await this.#together(group);
      }
    } finally {
      this.#running = false;
    }
  }

  async #alone(p: Pending): Promise<void> {
    await this.#store.transaction((tx) => p.work(tx)).then(p.resolve, p.reject);
  }

  async #together(group: Pending[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      await this.#store.transaction(async (tx) => {
        const buffers = this.#buffers;
        for (const b of buffers) b.begin(tx);
        try {
          for (const p of group) {
            const marks = buffers.map((b) => b.mark(tx));
            await sql`savepoint group_commit`.execute(tx);
            try {
              const value = await p.work(tx);
              await sql`release savepoint group_commit`.execute(tx);
              outcomes.push({ ok: true, value });
            } catch (error) {
              await sql`rollback to savepoint group_commit`.execute(tx);
              await sql`release savepoint group_commit`.execute(tx);
              buffers.forEach((b, i) => b.rollback(tx, marks[i]));
              outcomes.push({ ok: false, error });
            }
          }
          for (const b of buffers) await b.flush(tx);
        } finally {
          for (const b of buffers) b.end(tx);
        }
      });
    } catch {
      // The shared transaction failed (commit, or the savepoint machinery): nothing of it is stored.
      // Refused pieces keep their own error; the others get their own transaction each.
      for (const [i, p] of group.entries()) {
        const o = outcomes[i];
        if (o !== undefined && !o.ok) p.reject(o.error);
        else await this.#alone(p);
      }
      return;
    }
    for (const [i, p] of group.entries()) {
      const o = outcomes[i]!;
      if (o.ok) p.resolve(o.value);
      else p.reject(o.error);
    }
  }
}
