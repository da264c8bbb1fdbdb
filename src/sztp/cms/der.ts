/**
 * A minimal DER reader for the few certificate fields the bootstrap hot path needs (TBS, names, serial,
 * validity, public key, signature algorithm), read as slices of the original bytes. Parsing a certificate
 * with the ASN.1 schema library and re-serialising its parts cost ~4 ms per first contact in the bench;
 * slicing costs microseconds. Only definite lengths (DER) are accepted.
 */

/** One TLV: its tag byte, where its header starts, where its content starts and ends. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** Reads the TLV at `at`. Throws RangeError on anything but a well-formed definite-length TLV within `b`. */
export function tlvAt(b: Uint8Array, at: number, limit = b.length): Tlv {
  const tag = b[at];
  const first = b[at + 1];
  if (tag === undefined || first === undefined || (tag & 0x1f) === 0x1f) throw new RangeError('bad DER tag');
  let len = first;
  let i = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new RangeError('bad DER length');
    len = 0;
    for (let k = 0; k < n; k++) len = len * 256 + (b[i + k] ?? NaN);
    i += n;
  }
  const end = i + len;
  if (!Number.isFinite(end) || end > limit) throw new RangeError('DER length past the end');
  return { tag, start: at, contentStart: i, end };
}

/** The TLVs inside a constructed TLV, in order. */
export function childrenOf(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end;) {
    const t = tlvAt(b, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

/** The whole TLV's bytes (header and content), a view into `b`. */
export const whole = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.start, t.end);
/** The content bytes of a TLV, a view into `b`. */
export const content = (b: Uint8Array, t: Tlv): Uint8Array => b.subarray(t.contentStart, t.end);

/** Dotted text of a DER OBJECT IDENTIFIER's content bytes. */
export function oidText(c: Uint8Array): string {
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

/** A UTCTime (0x17) or GeneralizedTime (0x18) in the `Z` forms certificates use; undefined otherwise. */
export function timeOf(b: Uint8Array, t: Tlv): Date | undefined {
  const s = Buffer.from(content(b, t)).toString('latin1');
  const m =
    t.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : t.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
        : null;
  if (m === null) return undefined;
  let year = Number(m[1]);
  if (t.tag === 0x17) year += year < 50 ? 2000 : 1900; // RFC 5280 §4.1.2.5.1
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** Text of a directory string (UTF8String, PrintableString, IA5String, TeletexString, BMPString); undefined otherwise. */
export function directoryString(b: Uint8Array, t: Tlv): string | undefined {
  const c = Buffer.from(content(b, t));
  switch (t.tag) {
    case 0x0c:
      return c.toString('utf8');
    case 0x13:
    case 0x16:
    case 0x14:
      return c.toString('latin1');
    case 0x1e:
      return c.length % 2 === 0 ? c.swap16().toString('utf16le') : undefined;
    default:
      return undefined;
  }
}

/** DER header (tag and length) followed by `parts`. */
export function derTlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const lenBytes: number[] = [];
  if (len < 0x80) lenBytes.push(len);
  else {
    for (let v = len; v > 0; v = Math.floor(v / 256)) lenBytes.unshift(v & 0xff);
    lenBytes.unshift(0x80 | lenBytes.length);
  }
  const out = new Uint8Array(1 + lenBytes.length + len);
  out[0] = tag;
  out.set(lenBytes, 1);
  let at = 1 + lenBytes.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
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
  return derTlv(0x06, new Uint8Array(bytes));
}
