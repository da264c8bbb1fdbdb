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
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
  };
  const head = (major: number, n: number) => {
    if (n < 24) push(Uint8Array.of((major << 5) | n));
    else if (n < 0x100) push(Uint8Array.of((major << 5) | 24, n));
    else if (n < 0x10000) push(Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff));
    else if (n < 0x100000000)
      push(Uint8Array.of((major << 5) | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff));
    else {
      const b = new Uint8Array(9);
      b[0] = (major << 5) | 27;
      new DataView(b.buffer).setBigUint64(1, BigInt(n));
      push(b);
    }
  };
  const item = (x: CborValue): void => {
    if (x === null) push(Uint8Array.of(0xf6));
    else if (x === true) push(Uint8Array.of(0xf5));
    else if (x === false) push(Uint8Array.of(0xf4));
    else if (typeof x === 'number') {
      if (!Number.isSafeInteger(x)) throw new TypeError('only safe integers are encoded');
      if (x >= 0) head(0, x);
      else head(1, -1 - x);
    } else if (typeof x === 'string') {
      const b = te.encode(x);
      head(3, b.length);
      push(b);
    } else if (x instanceof Uint8Array) {
      head(2, x.length);
      push(x);
    } else if (Array.isArray(x)) {
      head(4, x.length);
      for (const e of x as readonly CborValue[]) item(e);
    } else {
      const entries = Object.entries(x).filter((e): e is [string, CborValue] => e[1] !== undefined);
      head(5, entries.length);
      for (const [k, e] of entries) {
        item(k);
        item(e);
      }
    }
  };
  item(v);
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
