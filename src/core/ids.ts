import { randomBytes } from 'node:crypto';

/** Kinds of record id; the prefix makes ids self-describing in logs and URLs. */
export type IdKind =
  | 'ten'
  | 'mdl'
  | 'dev'
  | 'bat'
  | 'tok'
  | 'key'
  | 'crt'
  | 'ca'
  | 'stn'
  | 'rel'
  | 'own'
  | 'evt'
  | 'vch'
  | 'job'
  | 'grp'
  | 'hook'
  | 'apr'
  | 'lnk'
  | 'mft';

/** A new random id such as `dev_5f3a…` (96 bits of randomness, base32hex lower case). */
export function newId(kind: IdKind): string {
  return `${kind}_${base32(randomBytes(12))}`;
}

const ALPHABET = '0123456789abcdefghijklmnopqrstuv';

function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
