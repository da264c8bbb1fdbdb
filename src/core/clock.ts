/** The time source, injected so tests can move time without mocking. */
export interface Clock {
  /** The current time. */
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told; for tests and deterministic tools. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.#t = typeof start === 'number' ? start : start.getTime();
  }
  /** The current (frozen) time. */
  now(): Date {
    return new Date(this.#t);
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#t += ms;
  }
  /** Sets the clock to an absolute time. */
  set(t: Date): void {
    this.#t = t.getTime();
  }
}
