import { Duplex } from 'node:stream';

class End extends Duplex {
  other: End | undefined;
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.other?.push(chunk);
    cb();
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.other !== undefined && !this.other.destroyed) this.other.destroy();
    cb(err);
  }
}

/** Two connected in-memory stream ends; destroying one closes the other (a pulled cable). */
export function duplexPair(): [Duplex, Duplex] {
  const a = new End();
  const b = new End();
  a.other = b;
  b.other = a;
  return [a, b];
}
