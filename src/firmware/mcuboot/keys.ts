import {
  createHash,
  createPublicKey,
  createVerify,
  publicDecrypt,
  constants,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { ValidationError } from '../../core/errors.ts';
import { TLV } from './constants.ts';

/** Signature schemes MCUboot verifies. */
export type McubootKeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa-2048' | 'rsa-3072';

/** A public key as MCUboot embeds it: the bytes hashed into KEYHASH (SPKI DER; PKCS#1 DER for RSA). */
export interface McubootPublicKey {
  readonly type: McubootKeyType;
  readonly key: KeyObject;
  /** Bytes as embedded in the bootloader / PUBKEY TLV. */
  readonly bytes: Uint8Array;
  /** Hash of `bytes` (SHA-256; SHA-384 for P-384): the KEYHASH TLV value and the fuse value. */
  readonly hash: Uint8Array;
}

/** The signature TLV and hash a key type uses. */
export function schemeOf(type: McubootKeyType): { sigTlv: number; hash: 'sha256' | 'sha384' } {
  switch (type) {
    case 'ecdsa-p256':
      return { sigTlv: TLV.ECDSA_SIG, hash: 'sha256' };
    case 'ecdsa-p384':
      return { sigTlv: TLV.ECDSA_SIG, hash: 'sha384' };
    case 'ed25519':
      return { sigTlv: TLV.ED25519, hash: 'sha256' };
    case 'rsa-2048':
      return { sigTlv: TLV.RSA2048_PSS, hash: 'sha256' };
    case 'rsa-3072':
      return { sigTlv: TLV.RSA3072_PSS, hash: 'sha256' };
  }
}

/** Wraps a public key (KeyObject, SPKI DER, PKCS#1 RSA DER or PEM). Throws ERR_FIRMWARE_KEY_UNSUPPORTED. */
export function mcubootKey(input: KeyObject | Uint8Array | string): McubootPublicKey {
  if (input instanceof Uint8Array) {
    const fast = p256SpkiKey(input);
    if (fast !== undefined) return fast;
  }
  const key = toKeyObject(input);
  const d = key.asymmetricKeyDetails ?? {};
  let type: McubootKeyType;
  if (key.asymmetricKeyType === 'ed25519') type = 'ed25519';
  else if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') type = 'ecdsa-p256';
  else if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'secp384r1') type = 'ecdsa-p384';
  else if (key.asymmetricKeyType === 'rsa' && d.modulusLength === 2048) type = 'rsa-2048';
  else if (key.asymmetricKeyType === 'rsa' && d.modulusLength === 3072) type = 'rsa-3072';
  else {
    throw new ValidationError('ERR_FIRMWARE_KEY_UNSUPPORTED', 'MCUboot cannot verify this key type', {
      details: { type: key.asymmetricKeyType, curve: d.namedCurve, bits: d.modulusLength },
    });
  }
  const bytes = new Uint8Array(
    type.startsWith('rsa')
      ? key.export({ format: 'der', type: 'pkcs1' })
      : key.export({ format: 'der', type: 'spki' }),
  );
  const hash = new Uint8Array(createHash(schemeOf(type).hash).update(bytes).digest());
  return { type, key, bytes, hash };
}

// SubjectPublicKeyInfo { id-ecPublicKey, prime256v1 } up to the uncompressed point: the canonical DER.
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

/**
 * A canonical P-256 SPKI (what export() would write back, byte for byte) imported through JWK: OpenSSL 3's
 * DER decoder and encoder cost ~0.25 ms per key, and a device checks the image's PUBKEY on every write.
 * Undefined for any other input (the general path handles it).
 */
function p256SpkiKey(input: Uint8Array): McubootPublicKey | undefined {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const at = P256_SPKI_PREFIX.length;
  if (b.length !== at + 65 || b[at] !== 4 || !b.subarray(0, at).equals(P256_SPKI_PREFIX)) return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: b.subarray(at + 1, at + 33).toString('base64url'),
        y: b.subarray(at + 33).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    return undefined; // not a point on the curve: the general path reports it
  }
  const bytes = new Uint8Array(input);
  return {
    type: 'ecdsa-p256',
    key,
    bytes,
    hash: new Uint8Array(createHash('sha256').update(bytes).digest()),
  };
}

function toKeyObject(input: KeyObject | Uint8Array | string): KeyObject {
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
    return input.type === 'private' ? createPublicKey(input) : input;
  }
  try {
    if (typeof input === 'string') return createPublicKey(input);
    try {
      return createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
    } catch {
      return createPublicKey({ key: Buffer.from(input), format: 'der', type: 'pkcs1' });
    }
  } catch (cause) {
    throw new ValidationError('ERR_FIRMWARE_KEY_UNSUPPORTED', 'not a public key', { cause });
  }
}

/** Below this many hashed bytes, hashing the region again is cheaper than a pure-JS ECDSA verification (~2 ms). */
const REHASH_LIMIT = 1 << 20;

/**
 * True when `sig` (in the TLV's encoding) is a valid signature by `pub` over the image digest. ECDSA
 * signs the hash of the region, so for a small image OpenSSL verifies it over `region` (the parts the
 * digest was computed from) at native speed; Node has no call that takes the digest itself.
 */
export function verifyDigestSignature(
  pub: McubootPublicKey,
  digest: Uint8Array,
  sig: Uint8Array,
  region?: readonly Uint8Array[],
): boolean {
  try {
    switch (pub.type) {
      case 'ed25519':
        return nodeVerify(null, digest, pub.key, sig);
      case 'ecdsa-p256':
      case 'ecdsa-p384': {
        if (region !== undefined && region.reduce((n, p) => n + p.length, 0) <= REHASH_LIMIT) {
          const v = createVerify(pub.type === 'ecdsa-p256' ? 'sha256' : 'sha384');
          for (const part of region) v.update(part);
          return v.verify({ key: pub.key, dsaEncoding: 'der' }, sig);
        }
        const curve = pub.type === 'ecdsa-p256' ? p256 : p384;
        const point = new Uint8Array(pub.key.export({ format: 'der', type: 'spki' })).subarray(
          -(curve === p256 ? 65 : 97),
        );
        return curve.verify(sig, digest, point, { prehash: false, format: 'der', lowS: false });
      }
      case 'rsa-2048':
      case 'rsa-3072':
        return pssVerify(pub.key, digest, sig, pub.type === 'rsa-2048' ? 2048 : 3072);
    }
  } catch {
    return false;
  }
}

/** EMSA-PSS-VERIFY (RFC 8017 §9.1.2), SHA-256, MGF1-SHA-256, salt length 32 as MCUboot requires. */
function pssVerify(key: KeyObject, mHash: Uint8Array, sig: Uint8Array, bits: number): boolean {
  if (sig.length !== bits / 8 || mHash.length !== 32) return false;
  const em = publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, sig);
  const emBits = bits - 1;
  const emLen = Math.ceil(emBits / 8);
  const e = em.subarray(em.length - emLen);
  if (em.length > emLen && em.subarray(0, em.length - emLen).some((b) => b !== 0)) return false;
  if (e[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(e.subarray(0, emLen - 33));
  const h = e.subarray(emLen - 33, emLen - 1);
  const topMask = 0xff >>> (8 * emLen - emBits);
  if (((db[0] ?? 0) & ~topMask) !== 0) return false;
  const mask = mgf1(h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & topMask;
  const saltLen = 32;
  const psLen = emLen - 32 - saltLen - 2;
  if (db.subarray(0, psLen).some((b) => b !== 0) || db[psLen] !== 0x01) return false;
  const salt = db.subarray(psLen + 1);
  const h2 = createHash('sha256').update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return h2.equals(h);
}

function mgf1(seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  for (let counter = 0; out.length * 32 < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHash('sha256').update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}
