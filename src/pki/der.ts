/**
 * A minimal, strict DER reader and writer for the issuance hot path (CSR fields, TBSCertificate
 * assembly). The schema libraries stay in charge everywhere else; they cost milliseconds per
 * structure, which dominates issuance at hundreds of certificates per second.
 */
import { concatBytes } from '../core/encoding.ts';

/** One TLV: tag byte, content bounds, end offset (exclusive). */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the TLV at `off`; throws RangeError on truncation or non-minimal/indefinite lengths. */
export function readTlv(b: Uint8Array, off: number, limit = b.length): Tlv {
  if (off + 2 > limit) throw new RangeError('truncated DER');
  const tag = b[off]!;
  if ((tag & 0x1f) === 0x1f) throw new RangeError('multi-byte tags are not used here');
  let len = b[off + 1]!;
  let p = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > limit) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    if (len < 0x80 || (n > 1 && b[p] === 0)) throw new RangeError('non-minimal DER length');
    p += n;
  }
  if (p + len > limit) throw new RangeError('truncated DER');
  return { tag, start: off, contentStart: p, end: p + len };
}

/** The children of a constructed TLV. */
export function children(b: Uint8Array, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = t.contentStart; off < t.end;) {
    const c = readTlv(b, off, t.end);
    out.push(c);
    off = c.end;
  }
  return out;
}

/** Content bytes of a TLV. */
export function content(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.contentStart, t.end);
}

/** Whole encoding of a TLV. */
export function raw(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function oidString(c: Uint8Array): string {
  if (c.length === 0) throw new RangeError('empty OID');
  const parts: number[] = [];
  let v = 0;
  for (const byte of c) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** Encodes tag + length + body. */
export function tlv(tag: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(Uint8Array.of(tag, ...len), body);
}

/** DER SEQUENCE of encoded elements. */
export function seq(...parts: readonly Uint8Array[]): Uint8Array {
  return tlv(0x30, concatBytes(...parts));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), whole seconds, Z. */
export function derTime(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year >= 1950 && year <= 2049
    ? tlv(0x17, new TextEncoder().encode(digits.slice(2)))
    : tlv(0x18, new TextEncoder().encode(digits));
}
