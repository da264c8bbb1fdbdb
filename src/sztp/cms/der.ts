/**
 * The certificate field readers of the bootstrap hot path (times and directory strings), over core/der.ts.
 * Parsing a certificate with the ASN.1 schema library and re-serialising its parts cost ~4 ms per first
 * contact in the bench; slicing costs microseconds.
 */
import { content, type Tlv } from '../../core/der.ts';

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
