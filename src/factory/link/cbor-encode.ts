/**
 * A small CBOR (RFC 8949) encoder for the link's messages: maps with text keys, arrays, text and byte
 * strings, safe integers, booleans and null, in preferred (shortest) form. cbor2 decodes (strictly);
 * this encoder exists because cbor2's general encoder costs about a millisecond per small message,
 * which dominated a busy line.
 */

/** Values the link carries. */
export type CborValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | readonly CborValue[]
  | { readonly [k: string]: CborValue | undefined };

const te = new TextEncoder();

/** CBOR bytes of `v`. Throws TypeError on values outside CborValue (non-integers, undefined in arrays). */
export function encodeCbor(v: CborValue): Uint8Array {
  const w = new Writer();
  w.item(v);
  return w.bytes();
}

/** One growing output buffer (one allocation per message instead of one per CBOR head). */
class Writer {
  #buf = new Uint8Array(256);
  #at = 0;

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
    next.set(this.#buf.subarray(0, this.#at));
    this.#buf = next;
  }

  #head(major: number, n: number): void {
    this.#room(9);
    const b = this.#buf;
    const m = major << 5;
    if (n < 24) b[this.#at++] = m | n;
    else if (n < 0x100) {
      b[this.#at++] = m | 24;
      b[this.#at++] = n;
    } else if (n < 0x10000) {
      b[this.#at++] = m | 25;
      b[this.#at++] = n >> 8;
      b[this.#at++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[this.#at++] = m | 26;
      b[this.#at++] = n >>> 24;
      b[this.#at++] = (n >> 16) & 0xff;
      b[this.#at++] = (n >> 8) & 0xff;
      b[this.#at++] = n & 0xff;
    } else {
      b[this.#at++] = m | 27;
      new DataView(b.buffer, b.byteOffset).setBigUint64(this.#at, BigInt(n));
      this.#at += 8;
    }
  }

  #text(x: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: encode in place, then fix the head if it was short.
    const max = x.length * 3;
    this.#room(9 + max);
    const headAt = this.#at;
    const wide = max < 24 ? 1 : max < 0x100 ? 2 : max < 0x10000 ? 3 : 5;
    const { written } = te.encodeInto(x, this.#buf.subarray(headAt + wide));
    const exact = written < 24 ? 1 : written < 0x100 ? 2 : written < 0x10000 ? 3 : 5;
    if (exact !== wide) this.#buf.copyWithin(headAt + exact, headAt + wide, headAt + wide + written);
    this.#head(3, written);
    this.#at = headAt + exact + written;
  }

  item(x: CborValue): void {
    if (x === null) this.#byte(0xf6);
    else if (x === true) this.#byte(0xf5);
    else if (x === false) this.#byte(0xf4);
    else if (typeof x === 'number') {
      if (!Number.isSafeInteger(x)) throw new TypeError('only safe integers are encoded');
      if (x >= 0) this.#head(0, x);
      else this.#head(1, -1 - x);
    } else if (typeof x === 'string') this.#text(x);
    else if (x instanceof Uint8Array) {
      this.#head(2, x.length);
      this.#room(x.length);
      this.#buf.set(x, this.#at);
      this.#at += x.length;
    } else if (Array.isArray(x)) {
      this.#head(4, x.length);
      for (const e of x as readonly CborValue[]) this.item(e);
    } else {
      const entries = Object.entries(x).filter((e): e is [string, CborValue] => e[1] !== undefined);
      this.#head(5, entries.length);
      for (const [k, e] of entries) {
        this.#text(k);
        this.item(e);
      }
    }
  }

  #byte(b: number): void {
    this.#room(1);
    this.#buf[this.#at++] = b;
  }
}
