import { createHash } from 'node:crypto';
import { bytesEqual } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import { ENCRYPTION_TLVS, IMAGE_F, TLV } from './constants.ts';
import { aesCtr, canOpen, unwrapImageKey, type DecryptionKey } from './encrypt.ts';
import { mcubootKey, schemeOf, verifyDigestSignature, type McubootPublicKey } from './keys.ts';
import { findTlv, imageFacts, parseImage } from './parse.ts';
import type { ImageFacts, ParsedImage } from './types.ts';

/** Who may have signed an image. */
export interface TrustOptions {
  /** Known public keys (a keyring, or the boot ROM's keys). */
  readonly keys?: readonly McubootPublicKey[];
  /**
   * When set, only keys whose SHA-256 is listed are trusted (fuses); keys embedded in the image as a
   * PUBKEY TLV are then acceptable too. When unset, exactly `keys` are trusted.
   */
  readonly keyHashes?: readonly Uint8Array[];
  /** Opens encrypted payloads. */
  readonly decryptionKey?: DecryptionKey;
}

/** An image whose hash and signature verified. */
export interface VerifiedImage {
  readonly image: ParsedImage;
  readonly facts: ImageFacts;
  /** The image hash (SHA-256 unless the key needs SHA-384) over header, plaintext payload and protected TLVs. */
  readonly digest: Uint8Array;
  /** SHA-256 of the signing key's MCUboot encoding. */
  readonly keyHash: Uint8Array;
  readonly keyType: McubootPublicKey['type'];
  /** The plaintext payload (decrypted when the image was encrypted). */
  readonly payload: Uint8Array;
  readonly decrypted: boolean;
}

const HASHES: ReadonlyMap<number, 'sha256' | 'sha384' | 'sha512'> = new Map([
  [TLV.SHA256, 'sha256'],
  [TLV.SHA384, 'sha384'],
  [TLV.SHA512, 'sha512'],
]);

function refuse(code: string, message: string, details?: Record<string, unknown>): never {
  throw new ValidationError(code, message, details === undefined ? {} : { details });
}

/**
 * Parses and verifies an image: hash over the (decrypted) hashed region, then a signature by a
 * trusted key. Throws the parse codes and ERR_FIRMWARE_NO_HASH, ERR_FIRMWARE_HASH_MISMATCH,
 * ERR_FIRMWARE_ENCRYPTED, ERR_FIRMWARE_DECRYPT_FAILED, ERR_FIRMWARE_NO_TRUSTED_SIGNATURE, ERR_FIRMWARE_BAD_SIGNATURE.
 */
export function verifyImage(bytes: Uint8Array, trust: TrustOptions): VerifiedImage {
  const image = parseImage(bytes);
  const hashTlv = image.tlvs.find((t) => HASHES.has(t.type));
  if (hashTlv === undefined) refuse('ERR_FIRMWARE_NO_HASH', 'image carries no hash TLV');
  const alg = HASHES.get(hashTlv.type) ?? 'sha256';
  let payload = image.payload;
  let decrypted = false;
  let digest = hashRegion(image, payload, alg);
  if (!bytesEqual(digest, hashTlv.value)) {
    const encrypted = (image.header.flags & (IMAGE_F.ENCRYPTED_AES128 | IMAGE_F.ENCRYPTED_AES256)) !== 0;
    if (!encrypted) refuse('ERR_FIRMWARE_HASH_MISMATCH', 'image hash does not match its contents');
    payload = decryptPayload(image, trust.decryptionKey);
    decrypted = true;
    digest = hashRegion(image, payload, alg);
    if (!bytesEqual(digest, hashTlv.value)) {
      refuse('ERR_FIRMWARE_HASH_MISMATCH', 'decrypted image hash does not match its contents');
    }
  }
  const signer = trustedSigner(image, trust);
  const { sigTlv, hash } = schemeOf(signer.type);
  if (hash !== alg) refuse('ERR_FIRMWARE_BAD_SIGNATURE', `a ${signer.type} key needs a ${hash} image hash`);
  const sigs = image.tlvs.filter((t) => t.type === sigTlv);
  if (!sigs.some((s) => verifyDigestSignature(signer, digest, s.value, hashedParts(image, payload)))) {
    refuse('ERR_FIRMWARE_BAD_SIGNATURE', 'image signature does not verify with the trusted key');
  }
  return {
    image,
    facts: imageFacts(image),
    digest,
    keyHash: signer.hash,
    keyType: signer.type,
    payload,
    decrypted,
  };
}

/** What the image hash covers: header, (plaintext) payload, protected TLVs. */
function hashedParts(image: ParsedImage, payload: Uint8Array): Uint8Array[] {
  const h = image.header;
  const end = h.hdrSize + h.imgSize;
  return [image.bytes.subarray(0, h.hdrSize), payload, image.bytes.subarray(end, end + h.protectedTlvSize)];
}

function hashRegion(
  image: ParsedImage,
  payload: Uint8Array,
  alg: 'sha256' | 'sha384' | 'sha512',
): Uint8Array {
  const hash = createHash(alg);
  for (const part of hashedParts(image, payload)) hash.update(part);
  return new Uint8Array(hash.digest());
}

function decryptPayload(image: ParsedImage, key: DecryptionKey | undefined): Uint8Array {
  const encTlvs = image.tlvs.filter((t) => ENCRYPTION_TLVS.has(t.type));
  if (key === undefined)
    refuse('ERR_FIRMWARE_ENCRYPTED', 'image is encrypted and no decryption key was given');
  const tlv = encTlvs.find((t) => canOpen(t.type, key));
  if (tlv === undefined)
    refuse('ERR_FIRMWARE_DECRYPT_FAILED', 'no encryption-key TLV matches the decryption key');
  const keyLength = (image.header.flags & IMAGE_F.ENCRYPTED_AES256) !== 0 ? 32 : 16;
  const aesKey = unwrapImageKey(tlv.type, tlv.value, key, keyLength);
  const plain = aesCtr(aesKey, image.payload);
  aesKey.fill(0);
  return plain;
}

function trustedSigner(image: ParsedImage, trust: TrustOptions): McubootPublicKey {
  const keys = trust.keys ?? [];
  const embedded = findTlv(image, TLV.PUBKEY);
  const keyHashTlv = findTlv(image, TLV.KEYHASH);
  const isTrusted = (k: McubootPublicKey): boolean =>
    trust.keyHashes === undefined
      ? keys.some((t) => bytesEqual(t.hash, k.hash))
      : trust.keyHashes.some((h) => bytesEqual(h, k.hash));
  let candidate: McubootPublicKey | undefined;
  if (embedded !== undefined) {
    try {
      candidate = mcubootKey(embedded.value);
    } catch {
      refuse('ERR_FIRMWARE_NO_TRUSTED_SIGNATURE', 'no signature by a trusted key (PUBKEY TLV is not a key)');
    }
  } else if (keyHashTlv !== undefined) {
    candidate = keys.find((k) => bytesEqual(k.hash, keyHashTlv.value));
  }
  // Like bootutil, a signature counts only when a KEYHASH or PUBKEY names its key.
  if (candidate === undefined || !isTrusted(candidate)) {
    refuse('ERR_FIRMWARE_NO_TRUSTED_SIGNATURE', 'no signature by a trusted key');
  }
  return candidate;
}
