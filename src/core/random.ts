import { randomBytes as nodeRandomBytes } from 'node:crypto';

/** The random source, injected so tests can be reproducible where they need to be. */
export interface Random {
  /** `n` cryptographically strong random bytes. */
  bytes(n: number): Uint8Array;
}

/** The OS CSPRNG. */
export const systemRandom: Random = { bytes: (n) => new Uint8Array(nodeRandomBytes(n)) };
