/**
 * P-256 key encodings built from a key's JWK coordinates: OpenSSL 3's DER encoders and decoders cost
 * 60–400 µs per call on these machines, the JWK path about 5–70 µs. The bytes are the standard
 * encodings (the same OpenSSL writes), so anything that reads SPKI or PKCS#8 reads them.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { concatBytes } from '../core/encoding.ts';

// SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } up to the uncompressed point.
const SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
// PrivateKeyInfo { v0, { id-ecPublicKey, prime256v1 }, ECPrivateKey { v1, d, [1] public key } }.
const PKCS8_HEAD = Buffer.from(
  '308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420',
  'hex',
);
const PKCS8_PUB = Buffer.from('a144034200', 'hex');

/** A fresh P-256 key pair: the private KeyObject, its PKCS#8 DER and its SPKI DER. */
export function generateP256(): { key: KeyObject; pkcs8: Uint8Array; spki: Uint8Array } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const d = Buffer.from(jwk.d ?? '', 'base64url');
  const point = concatBytes(
    Uint8Array.of(4),
    Buffer.from(jwk.x ?? '', 'base64url'),
    Buffer.from(jwk.y ?? '', 'base64url'),
  );
  if (d.length !== 32 || point.length !== 65) throw new Error('unexpected P-256 JWK');
  const pkcs8 = concatBytes(PKCS8_HEAD, d, PKCS8_PUB, point);
  d.fill(0);
  return { key: privateKey, pkcs8, spki: concatBytes(SPKI_PREFIX, point) };
}

/**
 * The private KeyObject of a PKCS#8 DER key. A P-256 key in the layout above goes through JWK (about 6×
 * cheaper than OpenSSL's decoder); anything else through the DER decoder. Throws Node's error.
 */
export function p256PrivateKey(pkcs8: Uint8Array): KeyObject {
  const b = Buffer.from(pkcs8.buffer, pkcs8.byteOffset, pkcs8.byteLength);
  const pubAt = PKCS8_HEAD.length + 32;
  if (
    b.length === pubAt + PKCS8_PUB.length + 65 &&
    b.subarray(0, PKCS8_HEAD.length).equals(PKCS8_HEAD) &&
    b.subarray(pubAt, pubAt + PKCS8_PUB.length).equals(PKCS8_PUB) &&
    b[pubAt + PKCS8_PUB.length] === 4
  ) {
    const x = pubAt + PKCS8_PUB.length + 1;
    return createPrivateKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        d: b.subarray(PKCS8_HEAD.length, pubAt).toString('base64url'),
        x: b.subarray(x, x + 32).toString('base64url'),
        y: b.subarray(x + 32, x + 64).toString('base64url'),
      },
      format: 'jwk',
    });
  }
  return createPrivateKey({ key: b, format: 'der', type: 'pkcs8' });
}
