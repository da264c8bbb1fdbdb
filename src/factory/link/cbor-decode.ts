/**
 * A strict CBOR decoder for the link's message subset (the counterpart of cbor-encode.ts): definite
 * lengths only, text-keyed maps without duplicates, no tags or floats, nesting ≤ 16, no trailing bytes.
 * Anything else is refused, which is what the factory port needs from a hostile or noisy device.
 */
import type { CborValue } from './cbor-encode.ts';

const td = new TextDecoder('utf-8', { fatal: true });

/** Decodes `b`; undefined when it is not exactly one value of the subset. */
export function decodeCbor(b: Uint8Array): CborValue | undefined {
  const r = new Reader(b);
  try {
    const v = r.item(0);
    return r.done() ? v : undefined;
  } catch {
    return undefined;
  }
}

function fail(): never {
  throw new RangeError('bad CBOR');
}

/** A cursor over one message (a class, so no closures are allocated per decode). */
class Reader {
  readonly #b: Uint8Array;
  #p = 0;

  constructor(b: Uint8Array) {
    this.#b = b;
  }

  done(): boolean {
    return this.#p === this.#b.length;
  }

  #byte(): number {
    return this.#p < this.#b.length ? this.#b[this.#p++]! : fail();
  }

  #arg(info: number): number {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : fail();
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + this.#byte();
    if (!Number.isSafeInteger(v)) fail();
    return v;
  }

  #take(n: number): Uint8Array {
    if (this.#p + n > this.#b.length) fail();
    return this.#b.subarray(this.#p, (this.#p += n));
  }

  #text(n: number): string {
    const t = this.#take(n);
    // Short ASCII (every map key on the link) without the TextDecoder call.
    if (n <= 32) {
      let s = '';
      for (let i = 0; i < n; i++) {
        const c = t[i]!;
        if (c >= 0x80) return td.decode(t);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return td.decode(t);
  }

  item(depth: number): CborValue {
    if (depth > 16) fail();
    const ib = this.#byte();
    const info = ib & 31;
    switch (ib >> 5) {
      case 0:
        return this.#arg(info);
      case 1:
        return -1 - this.#arg(info);
      case 2:
        return this.#take(this.#arg(info)).slice();
      case 3:
        return this.#text(this.#arg(info));
      case 4: {
        const n = this.#arg(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5: {
        const n = this.#arg(info);
        const out: Record<string, CborValue> = {};
        for (let i = 0; i < n; i++) {
          const k = this.item(depth + 1);
          if (typeof k !== 'string' || Object.hasOwn(out, k)) fail();
          const v = this.item(depth + 1);
          // A "__proto__" key is data here, never the object's prototype.
          if (k === '__proto__')
            Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
          else out[k] = v;
        }
        return out;
      }
      case 7:
        return ib === 0xf4 ? false : ib === 0xf5 ? true : ib === 0xf6 ? null : fail();
      default:
        return fail();
    }
  }
}
