import type { Duplex } from 'node:stream';

/** Faults a lossy line injects, as probabilities per chunk. */
export interface LossyOptions {
  readonly drop?: number;
  readonly corrupt?: number;
  /** A deterministic PRNG seed so failures are reproducible. */
  readonly seed?: number;
}

/**
 * Sits between two byte streams and drops or corrupts chunks in both directions: the small proxy
 * standing in for a noisy UART cable.
 */
export function lossyBridge(x: Duplex, y: Duplex, options: LossyOptions): { faults: number } {
  let s = options.seed ?? 1;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const stats = { faults: 0 };
  const pipe = (from: Duplex, to: Duplex) =>
    from.on('data', (chunk: Buffer) => {
      const r = rnd();
      if (r < (options.drop ?? 0)) {
        stats.faults++;
        return;
      }
      if (r < (options.drop ?? 0) + (options.corrupt ?? 0)) {
        stats.faults++;
        const c = Buffer.from(chunk);
        const i = Math.floor(rnd() * c.length);
        c[i] = (c[i] ?? 0) ^ 0x5a;
        to.write(c);
        return;
      }
      to.write(chunk);
    });
  pipe(x, y);
  pipe(y, x);
  return stats;
}
