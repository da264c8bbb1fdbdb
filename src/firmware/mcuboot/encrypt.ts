import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { concatBytes, toBase64Url } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import { TLV } from './constants.ts';

/** The key that opens an encrypted image: an X25519, P-256 or RSA-2048 private key, or an AES-KW key. */
export type DecryptionKey = KeyObject | { readonly kek: Uint8Array };
/** The recipient an image is encrypted for. */
export type EncryptionRecipient = KeyObject | { readonly kek: Uint8Array };

const ECIES_INFO = Buffer.from('MCUBoot_ECIES_v1');
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

function bad(message: string, cause?: unknown): never {
  throw new ValidationError('ERR_FIRMWARE_DECRYPT_FAILED', message, cause === undefined ? {} : { cause });
}

/** AES-CTR with a zero nonce, as MCUboot encrypts payloads (the same call decrypts). */
export function aesCtr(key: Uint8Array, data: Uint8Array): Uint8Array {
  const c = createCipheriv(key.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', key, Buffer.alloc(16));
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** True when `key` can open an encryption TLV of this type. */
export function canOpen(type: number, key: DecryptionKey): boolean {
  if ('kek' in key) return type === TLV.ENC_KW;
  const t = key.asymmetricKeyType;
  return (
    (type === TLV.ENC_X25519 && t === 'x25519') ||
    (type === TLV.ENC_X25519_SHA512 && t === 'x25519') ||
    (type === TLV.ENC_EC256 && t === 'ec') ||
    (type === TLV.ENC_RSA2048 && t === 'rsa')
  );
}

/** Recovers the AES payload key from an encryption TLV. Throws ERR_FIRMWARE_DECRYPT_FAILED. */
export function unwrapImageKey(
  type: number,
  value: Uint8Array,
  key: DecryptionKey,
  keyLength: 16 | 32,
): Uint8Array {
  if ('kek' in key) {
    if (type !== TLV.ENC_KW) bad('an AES key-wrap key cannot open this TLV');
    try {
      const d = createDecipheriv(key.kek.length === 32 ? 'id-aes256-wrap' : 'id-aes128-wrap', key.kek, KW_IV);
      return new Uint8Array(Buffer.concat([d.update(value), d.final()]));
    } catch (cause) {
      return bad('AES key unwrap failed', cause);
    }
  }
  if (type === TLV.ENC_RSA2048) {
    try {
      return new Uint8Array(
        privateDecrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, value),
      );
    } catch (cause) {
      return bad('RSA-OAEP key decryption failed', cause);
    }
  }
  const x = type === TLV.ENC_X25519 || type === TLV.ENC_X25519_SHA512;
  if (!x && type !== TLV.ENC_EC256) bad(`unknown encryption TLV 0x${type.toString(16)}`);
  const pubLen = x ? 32 : 65;
  const hash = type === TLV.ENC_X25519_SHA512 ? 'sha512' : 'sha256';
  const macLen = hash === 'sha512' ? 64 : 32;
  const eph = value.subarray(0, pubLen);
  const mac = value.subarray(pubLen, pubLen + macLen);
  const cipherkey = value.subarray(pubLen + macLen);
  if (cipherkey.length !== keyLength) bad('wrapped key length does not match the header flag');
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey: key, publicKey: rawPublic(x ? 'x25519' : 'p256', eph) });
  } catch (cause) {
    return bad('ECDH with the image ephemeral key failed', cause);
  }
  const derived = Buffer.from(hkdfSync(hash, shared, Buffer.alloc(0), ECIES_INFO, keyLength + macLen));
  const expect = createHmac(hash, derived.subarray(keyLength)).update(cipherkey).digest();
  if (!timingSafeEqual(expect, mac)) bad('encryption key TLV MAC does not verify (wrong key?)');
  const plain = aesCtr(derived.subarray(0, keyLength), cipherkey);
  derived.fill(0);
  return plain;
}

/** Wraps a fresh payload key for `recipient`: returns the TLV type and value. */
export function wrapImageKey(
  recipient: EncryptionRecipient,
  plainKey: Uint8Array,
): { type: number; value: Uint8Array } {
  if ('kek' in recipient) {
    const c = createCipheriv(
      recipient.kek.length === 32 ? 'id-aes256-wrap' : 'id-aes128-wrap',
      recipient.kek,
      KW_IV,
    );
    return { type: TLV.ENC_KW, value: new Uint8Array(Buffer.concat([c.update(plainKey), c.final()])) };
  }
  const pub = recipient.type === 'private' ? createPublicKey(recipient) : recipient;
  if (pub.asymmetricKeyType === 'rsa') {
    const value = publicEncrypt(
      { key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      plainKey,
    );
    return { type: TLV.ENC_RSA2048, value: new Uint8Array(value) };
  }
  const x = pub.asymmetricKeyType === 'x25519';
  if (!x && pub.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ValidationError(
      'ERR_FIRMWARE_KEY_UNSUPPORTED',
      'encryption key must be X25519, P-256, RSA-2048 or a KW key',
    );
  }
  const eph = x ? generateKeyPairSync('x25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: pub });
  const n = plainKey.length;
  const derived = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), ECIES_INFO, n + 32));
  const cipherkey = aesCtr(derived.subarray(0, n), plainKey);
  const mac = createHmac('sha256', derived.subarray(n)).update(cipherkey).digest();
  derived.fill(0);
  const spki = new Uint8Array(eph.publicKey.export({ format: 'der', type: 'spki' }));
  const ephRaw = spki.subarray(spki.length - (x ? 32 : 65));
  return { type: x ? TLV.ENC_X25519 : TLV.ENC_EC256, value: concatBytes(ephRaw, mac, cipherkey) };
}

/** A fresh random AES key of the given length. */
export function newImageKey(length: 16 | 32): Uint8Array {
  return new Uint8Array(randomBytes(length));
}

function rawPublic(kind: 'x25519' | 'p256', raw: Uint8Array): KeyObject {
  if (kind === 'x25519') {
    if (raw.length !== 32) bad('X25519 ephemeral key has the wrong length');
    return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: toBase64Url(raw) }, format: 'jwk' });
  }
  if (raw.length !== 65 || raw[0] !== 0x04) bad('P-256 ephemeral key is not an uncompressed point');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: toBase64Url(raw.subarray(1, 33)), y: toBase64Url(raw.subarray(33)) },
    format: 'jwk',
  });
}
