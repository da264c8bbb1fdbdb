/** DER times for certificate assembly; the DER reader and writer themselves are in core/der.ts. */
import { tlv } from '../core/der.ts';

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5), whole seconds, Z. */
export function derTime(d: Date): Uint8Array {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z';
  const year = d.getUTCFullYear();
  return year >= 1950 && year <= 2049
    ? tlv(0x17, new TextEncoder().encode(digits.slice(2)))
    : tlv(0x18, new TextEncoder().encode(digits));
}
