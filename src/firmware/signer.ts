import {
  constants,
  createPrivateKey,
  createPublicKey,
  privateEncrypt,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { fromBase64Url } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { pssEncode } from '../keys/pss.ts';
import type { KeyInfo, KeyStore } from '../keys/types.ts';
import { mcubootKey, schemeOf, type McubootPublicKey } from './mcuboot/keys.ts';
import { draftImage, type ImageSpec } from './mcuboot/write.ts';

/** Signs MCUboot image digests; the private key stays wherever the implementation keeps it. */
export interface ImageSigner {
  readonly publicKey: McubootPublicKey;
  /** Key store id when the key lives in the KeyStore. */
  readonly keyId: string | undefined;
  /** Signs the image digest, returning the signature TLV value. */
  signDigest(digest: Uint8Array): Promise<Uint8Array>;
}

/** MCUboot's RSA-PSS salt length (bootutil accepts only the digest length). */
const PSS_SALT = 32;

/**
 * A signer over a KeyStore key: ECDSA and RSA-PSS send only the digest (`signDigest`); Ed25519
 * signs the digest as its message, as imgtool does. Throws ERR_FIRMWARE_KEY_UNSUPPORTED (e.g. RSA-4096).
 */
export function keyStoreSigner(keys: KeyStore, info: KeyInfo): ImageSigner {
  const publicKey = mcubootKey(info.publicKeyDer);
  const hash = schemeOf(publicKey.type).hash;
  return {
    publicKey,
    keyId: info.id,
    signDigest(digest) {
      if (publicKey.type === 'ed25519') return keys.sign(info.id, digest);
      if (publicKey.type.startsWith('rsa')) {
        return keys.signDigest(info.id, digest, { hash, rsaPadding: 'pss', pssSaltLength: PSS_SALT });
      }
      return keys.signDigest(info.id, digest, { hash, ecdsaFormat: 'der' });
    },
  };
}

/** A signer over a PEM/PKCS#8 private key file, as imgtool uses (CLI and fixture re-creation). Throws ERR_FIRMWARE_KEY_UNSUPPORTED. */
export function privateKeySigner(pem: string | KeyObject): ImageSigner {
  let key: KeyObject;
  try {
    key = typeof pem === 'string' ? createPrivateKey(pem) : pem;
  } catch (cause) {
    throw new ValidationError('ERR_FIRMWARE_KEY_UNSUPPORTED', 'not a private key', { cause });
  }
  const publicKey = mcubootKey(createPublicKey(key));
  return {
    publicKey,
    keyId: undefined,
    signDigest(digest) {
      return Promise.resolve(signWith(key, publicKey, digest));
    },
  };
}

function signWith(key: KeyObject, pub: McubootPublicKey, digest: Uint8Array): Uint8Array {
  switch (pub.type) {
    case 'ed25519':
      return new Uint8Array(nodeSign(null, digest, key));
    case 'ecdsa-p256':
    case 'ecdsa-p384': {
      // Node cannot sign a precomputed EC digest, so the scalar goes to noble for this one operation.
      const d = fromBase64Url(key.export({ format: 'jwk' }).d ?? '');
      const curve = pub.type === 'ecdsa-p256' ? p256 : p384;
      const sig = curve.sign(digest, d, { prehash: false, format: 'der', lowS: false });
      d.fill(0);
      return sig;
    }
    case 'rsa-2048':
    case 'rsa-3072': {
      const bits = pub.type === 'rsa-2048' ? 2048 : 3072;
      const em = pssEncode(digest, 'sha256', PSS_SALT, bits - 1);
      return new Uint8Array(privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em));
    }
  }
}

/** Lays out, signs and completes an image in one step. Throws the draftImage and signer codes. */
export async function signImage(spec: ImageSpec, signer: ImageSigner): Promise<Uint8Array> {
  const draft = draftImage(spec, signer.publicKey);
  return draft.finish(await signer.signDigest(draft.digest));
}
