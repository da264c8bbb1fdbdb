import { createPublicKey, type KeyObject } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';

/**
 * The SPKI DER inside a PKCS#10 CSR (signature checked later by the PKI). Throws ERR_CSR_MALFORMED.
 * A strict DER walk to the third field of CertificationRequestInfo, not a schema parse: this runs on
 * every device and the full parse (asn1js) cost ~0.7 ms; the PKI parses and verifies the whole CSR anyway.
 */
export function csrPublicKey(csr: Uint8Array): Uint8Array {
  const outer = tlv(csr, 0, 0x30);
  if (outer.end !== csr.length) throw malformed();
  const info = tlv(csr, outer.body, 0x30);
  const version = tlv(csr, info.body, 0x02);
  const subject = tlv(csr, version.end, 0x30);
  const spki = tlv(csr, subject.end, 0x30);
  if (spki.end > info.end) throw malformed();
  return csr.slice(spki.start, spki.end);
}

// DER of SubjectPublicKeyInfo up to the uncompressed point, for the curves devices use.
const EC_SPKI_PREFIX: readonly (readonly [string, number, Buffer])[] = [
  ['P-256', 32, Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')],
  ['P-384', 48, Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex')],
];

/**
 * A public KeyObject for an SPKI. EC keys go through JWK because OpenSSL 3's DER decoder costs
 * ~0.2 ms per import here, twice the signature check itself; anything else is imported as DER.
 * Throws Node's error for a key it cannot import.
 */
export function spkiKeyObject(spki: Uint8Array): KeyObject {
  const der = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  for (const [crv, n, prefix] of EC_SPKI_PREFIX) {
    const at = prefix.length + 1;
    if (
      der.length === at + 2 * n &&
      der[prefix.length] === 4 &&
      der.subarray(0, prefix.length).equals(prefix)
    ) {
      const x = der.subarray(at, at + n).toString('base64url');
      const y = der.subarray(at + n).toString('base64url');
      return createPublicKey({ key: { kty: 'EC', crv, x, y }, format: 'jwk' });
    }
  }
  return createPublicKey({ key: der, format: 'der', type: 'spki' });
}

interface Tlv {
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

/** The element at `at` with the expected tag; DER lengths only (definite, minimal). */
function tlv(b: Uint8Array, at: number, tag: number): Tlv {
  if (b[at] !== tag) throw malformed();
  const first = b[at + 1];
  if (first === undefined) throw malformed();
  let len = first;
  let body = at + 2;
  if (first & 0x80) {
    const n = first & 0x7f;
    if (n === 0 || n > 3) throw malformed();
    len = 0;
    for (let i = 0; i < n; i++) {
      const x = b[body + i];
      if (x === undefined || (i === 0 && x === 0)) throw malformed();
      len = len * 256 + x;
    }
    if (len < 0x80) throw malformed();
    body += n;
  }
  const end = body + len;
  if (end > b.length) throw malformed();
  return { start: at, body, end };
}

function malformed(): ValidationError {
  return new ValidationError('ERR_CSR_MALFORMED', 'the CSR is not a DER PKCS#10 request');
}
