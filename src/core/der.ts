/**
 * A minimal, strict DER reader and writer for the hot paths that cannot afford a schema library per
 * structure (CSR fields and TBSCertificate assembly in the PKI, certificate slicing and SignedData in SZTP,
 * the simulated device's CSR and stored chain). The ASN.1 schema libraries stay in charge everywhere else.
 * Only definite, minimal lengths and single-byte tags are accepted: everything here is DER.
 */

/** One TLV: its tag byte, where its header starts, where its content starts, where it ends (exclusive). */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/**
 * Reads the TLV at `at` within `limit`, with tag `tag` when given. Throws RangeError on truncation,
 * indefinite or non-minimal lengths, multi-byte tags or another tag (callers map it to their own code).
 */
export function readTlv(b: Uint8Array, at: number, limit = b.length, tag?: number): Tlv {
  const t = b[at];
  if (t === undefined || at + 2 > limit) throw new RangeError('truncated DER');
  if ((t & 0x1f) === 0x1f) throw new RangeError('multi-byte DER tags are not used here');
  if (tag !== undefined && t !== tag) throw new RangeError('unexpected DER tag');
  let len = b[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    if (len < 0x80 || b[p] === 0) throw new RangeError('non-minimal DER length');
    p += n;
  }
  if (p + len > limit) throw new RangeError('truncated DER');
  return { tag: t, start: at, contentStart: p, end: p + len };
}

/** The TLVs inside a constructed TLV, in order. Throws RangeError. */
export function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const c = readTlv(b, at, parent.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

/** The content bytes of a TLV, a view into `b`. */
export const content = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.contentStart, t.end);

/** The whole TLV's bytes (header and content), a view into `b`. */
export const whole = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.start, t.end);

/** Tag + minimal length + the parts, written once into one buffer. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const part of parts) n += part.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : n < 0x1000000
            ? [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
            : [0x84, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  let at = 1 + len.length;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A SEQUENCE of already encoded elements. */
export function seq(...items: readonly Uint8Array[]): Uint8Array {
  return tlv(0x30, ...items);
}

/** Dotted text of an OBJECT IDENTIFIER's content bytes. Throws RangeError on an empty or truncated OID. */
export function oidText(c: Uint8Array): string {
  if (c.length === 0 || (c[c.length - 1]! & 0x80) !== 0) throw new RangeError('bad OID');
  const parts: number[] = [];
  let v = 0;
  for (const byte of c) {
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** DER of an OBJECT IDENTIFIER from its dotted text. */
export function oidDer(text: string): Uint8Array {
  const [a = 0, b = 0, ...rest] = text.split('.').map(Number);
  const bytes: number[] = [];
  for (const v of [a * 40 + b, ...rest]) {
    const chunk = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, new Uint8Array(bytes));
}
