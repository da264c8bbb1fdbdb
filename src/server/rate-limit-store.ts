import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';

/**
 * The rate-limit counters of one server, shared by @fastify/rate-limit (as its `store`) and the fast routes,
 * so that a caller has one budget per window whichever path answers it. Same semantics as the plugin's own
 * LocalStore with its defaults (fixed window per key, no ban, no backoff); at most `capacity` keys are kept,
 * the least recently used dropped first (as the plugin's LRU does), so memory stays bounded.
 */

/** One key's window as the plugin expects it. */
export interface RateWindow {
  current: number;
  ttl: number;
  iterationStartMs: number;
}

type Callback = (err: Error | null, res: { current: number; ttl: number }) => void;

/** Fixed-window request counters by key. */
export class RateLimitCounters {
  readonly #windows = new Map<string, RateWindow>();
  readonly #capacity: number;

  constructor(capacity = 5000) {
    this.#capacity = capacity;
  }

  /** Counts one request for `key`; returns the count in the current window and the ms until it ends. */
  hit(key: string, timeWindow: number, now = Date.now()): { current: number; ttl: number } {
    let w = this.#windows.get(key);
    if (w === undefined) w = { current: 1, ttl: timeWindow, iterationStartMs: now };
    else if (w.iterationStartMs + timeWindow <= now) {
      w.current = 1;
      w.ttl = timeWindow;
      w.iterationStartMs = now;
    } else {
      w.current++;
      w.ttl = timeWindow - (now - w.iterationStartMs);
    }
    this.#windows.delete(key);
    this.#windows.set(key, w);
    if (this.#windows.size > this.#capacity) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    return { current: w.current, ttl: w.ttl };
  }

  /** The count and remaining ms of `key`'s window without counting a request. */
  peek(key: string, timeWindow: number, now = Date.now()): { current: number; ttl: number } {
    const w = this.#windows.get(key);
    if (w === undefined || w.iterationStartMs + timeWindow <= now) return { current: 0, ttl: 0 };
    return { current: w.current, ttl: timeWindow - (now - w.iterationStartMs) };
  }

  /** These counters in the plugin's store interface (`incr`, `read`, `child`). */
  asStore(): FastifyRateLimitStore & { read: FastifyRateLimitStore['incr'] } {
    return {
      incr: (key: string, cb: Callback, timeWindow: number) => cb(null, this.hit(key, timeWindow)),
      read: (key: string, cb: Callback, timeWindow: number) => cb(null, this.peek(key, timeWindow)),
      // A route with its own limits counts separately, as with the plugin's LocalStore.
      child: () => new RateLimitCounters(this.#capacity).asStore(),
    };
  }

  /** A store class for @fastify/rate-limit's `store` option whose instances use these counters. */
  pluginStore(): FastifyRateLimitStoreCtor {
    const store = this.asStore();
    // The plugin instantiates the class it is given; a constructor returning an object yields that object.
    return function SharedStore() {
      return store;
    } as unknown as FastifyRateLimitStoreCtor;
  }
}
