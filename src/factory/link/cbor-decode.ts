/**
 * A strict CBOR decoder for the link's message subset (the counterpart of cbor-encode.ts): definite
 * lengths only, text-keyed maps without duplicates, no tags or floats, nesting ≤ 16, no trailing bytes.
 * Anything else is refused, which is what the factory port needs from a hostile or noisy device.
 */
import type { CborValue } from './cbor-encode.ts';

const td = new TextDecoder('utf-8', { fatal: true });

/** Decodes `b`; undefined when it is not exactly one value of the subset. */
export function decodeCbor(b: Uint8Array): CborValue | undefined {
  let p = 0;
  const fail = (): never => {
    throw new RangeError('bad CBOR');
  };
  const byte = (): number => (p < b.length ? b[p++]! : fail());
  const arg = (info: number): number => {
    if (info < 24) return info;
    const n = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : fail();
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + byte();
    if (!Number.isSafeInteger(v)) fail();
    return v;
  };
  const take = (n: number): Uint8Array => (p + n <= b.length ? b.subarray(p, (p += n)) : fail());
  const item = (depth: number): CborValue => {
    if (depth > 16) fail();
    const ib = byte();
    const major = ib >> 5;
    const info = ib & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1:
        return -1 - arg(info);
      case 2:
        return take(arg(info)).slice();
      case 3:
        return td.decode(take(arg(info)));
      case 4: {
        const n = arg(info);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = arg(info);
        const out: Record<string, CborValue> = Object.create(null) as Record<string, CborValue>;
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== 'string' || Object.hasOwn(out, k)) fail();
          out[k as string] = item(depth + 1);
        }
        return { ...out };
      }
      case 7:
        return ib === 0xf4 ? false : ib === 0xf5 ? true : ib === 0xf6 ? null : fail();
      default:
        return fail();
    }
  };
  try {
    const v = item(0);
    return p === b.length ? v : undefined;
  } catch {
    return undefined;
  }
}
