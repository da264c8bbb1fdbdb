/**
 * HPKE (RFC 9180) base mode, single shot, for the suites Imprint seals device secrets with:
 * DHKEM(X25519, HKDF-SHA256) or, for secure elements without Curve25519 (PKCS#11 tokens such as
 * SoftHSM), DHKEM(P-256, HKDF-SHA256); both with HKDF-SHA256 and AES-256-GCM. The KEM follows from the
 * device's transport key (32 raw bytes: X25519; a 65-byte uncompressed point: P-256). Written on
 * node:crypto (synchronous, about 30× faster than the WebCrypto path on a busy line); tests check it
 * both ways against @hpke/core.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { encodeCbor } from '../factory/link/cbor-encode.ts';
import { ImprintError, ValidationError } from '../core/errors.ts';
import { concatBytes } from '../core/encoding.ts';
import type { SealedMessage } from './secure-element.ts';

const te = new TextEncoder();
const KDF_ID = 0x0001;
const AEAD_ID = 0x0002;
const V1 = te.encode('HPKE-v1');

/** A KEM Imprint speaks: its RFC 9180 id and its raw public-key codec. */
interface Kem {
  readonly id: number;
  /** suite_id of the KEM's own labeled KDF calls, and of the key schedule. */
  readonly suiteKem: Uint8Array;
  readonly suite: Uint8Array;
  publicFromRaw(raw: Uint8Array): KeyObject;
  rawPublic(k: KeyObject): Uint8Array;
  generate(): { privateKey: KeyObject; publicKey: KeyObject };
}

function kem(id: number, codec: Pick<Kem, 'publicFromRaw' | 'rawPublic' | 'generate'>): Kem {
  return {
    id,
    suiteKem: concatBytes(te.encode('KEM'), i2osp(id, 2)),
    suite: concatBytes(te.encode('HPKE'), i2osp(id, 2), i2osp(KDF_ID, 2), i2osp(AEAD_ID, 2)),
    ...codec,
  };
}

const X25519 = kem(0x0020, {
  publicFromRaw,
  rawPublic,
  generate: () => generateKeyPairSync('x25519'),
});

/** DHKEM(P-256, HKDF-SHA256): public keys are uncompressed SEC1 points, the DH output is x. */
const P256 = kem(0x0010, {
  publicFromRaw: (raw) => {
    if (raw.length !== 65 || raw[0] !== 4) throw new Error('P-256 keys are 65-byte uncompressed points');
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: Buffer.from(raw.subarray(1, 33)).toString('base64url'),
        y: Buffer.from(raw.subarray(33)).toString('base64url'),
      },
      format: 'jwk',
    });
  },
  rawPublic: (k) => {
    const jwk = k.export({ format: 'jwk' });
    return concatBytes(
      new Uint8Array([4]),
      new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')),
      new Uint8Array(Buffer.from(jwk.y ?? '', 'base64url')),
    );
  },
  generate: () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
});

/** The KEM of a recipient's raw public key. */
function kemOf(recipientRaw: Uint8Array): Kem {
  return recipientRaw.length === 65 ? P256 : X25519;
}

/** The HPKE `info` for factory secrets: binds the ciphertext to one device serial. */
export function secretsInfo(serial: string): Uint8Array {
  return te.encode(`imprint/factory-secrets/v1/${serial}`);
}

/** The bytes a device signs with its identity key to vouch for its transport key. */
export function transportKeyStatement(serial: string, transportPublicKey: Uint8Array): Uint8Array {
  return encodeCbor(['imprint/transport-key/v1', serial, transportPublicKey]);
}

/** Seals `plaintext` to a raw X25519 or P-256 public key. Throws ERR_HPKE_BAD_PUBLIC_KEY. */
export function sealTo(
  recipientRaw: Uint8Array,
  plaintext: Uint8Array,
  info: Uint8Array,
  aad: Uint8Array,
): Promise<SealedMessage> {
  const k = kemOf(recipientRaw);
  let pkR: KeyObject;
  try {
    pkR = k.publicFromRaw(recipientRaw);
  } catch (cause) {
    return Promise.reject(
      new ValidationError(
        'ERR_HPKE_BAD_PUBLIC_KEY',
        'transport public key is neither an X25519 key nor a P-256 point',
        { cause },
      ),
    );
  }
  const { privateKey: skE, publicKey: pkE } = k.generate();
  const enc = k.rawPublic(pkE);
  const dh = new Uint8Array(diffieHellman({ privateKey: skE, publicKey: pkR }));
  const { key, nonce } = keySchedule(k, sharedSecret(k, dh, concatBytes(enc, recipientRaw)), info);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  const ciphertext = concatBytes(c.update(plaintext), c.final(), c.getAuthTag());
  key.fill(0);
  return Promise.resolve({ enc, ciphertext });
}

/** Opens a sealed message with a raw X25519 private key. Throws ERR_SE_OPEN_FAILED. */
export function openWith(
  privateRaw: Uint8Array,
  sealed: SealedMessage,
  info: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  let skR: KeyObject;
  try {
    skR = privateFromRaw(privateRaw);
  } catch (cause) {
    return Promise.reject(openFailed(cause));
  }
  return openWithKey(skR, sealed, info, aad);
}

/**
 * Opens a sealed message with an X25519 private KeyObject (an element that keeps its key loaded, as
 * a chip does, instead of importing the raw bytes per message). Throws ERR_SE_OPEN_FAILED.
 */
export function openWithKey(
  skR: KeyObject,
  sealed: SealedMessage,
  info: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  try {
    if (skR.asymmetricKeyType !== 'x25519') throw new Error('not an X25519 key');
    const pkRm = rawPublic(createPublicKey(skR));
    const dh = new Uint8Array(diffieHellman({ privateKey: skR, publicKey: publicFromRaw(sealed.enc) }));
    return Promise.resolve(decrypt(X25519, dh, pkRm, sealed, info, aad));
  } catch (cause) {
    return Promise.reject(openFailed(cause));
  }
}

/**
 * Opens a message sealed to a P-256 transport key whose private half stays in a token: `dh` computes
 * ECDH(skR, enc) there (the x coordinate). Throws ERR_SE_OPEN_FAILED.
 */
export async function openWithP256Dh(
  dh: (enc: Uint8Array) => Promise<Uint8Array>,
  recipientRaw: Uint8Array,
  sealed: SealedMessage,
  info: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  try {
    P256.publicFromRaw(sealed.enc);
    return decrypt(P256, await dh(sealed.enc), recipientRaw, sealed, info, aad);
  } catch (cause) {
    throw openFailed(cause);
  }
}

function decrypt(
  k: Kem,
  dh: Uint8Array,
  pkRm: Uint8Array,
  sealed: SealedMessage,
  info: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const { key, nonce } = keySchedule(k, sharedSecret(k, dh, concatBytes(sealed.enc, pkRm)), info);
  const ct = sealed.ciphertext;
  if (ct.length < 16) throw new Error('short ciphertext');
  const d = createDecipheriv('aes-256-gcm', key, nonce);
  d.setAAD(aad);
  d.setAuthTag(ct.subarray(ct.length - 16));
  const pt = concatBytes(d.update(ct.subarray(0, ct.length - 16)), d.final());
  key.fill(0);
  return pt;
}

function openFailed(cause: unknown): ImprintError {
  return new ImprintError('ERR_SE_OPEN_FAILED', 400, 'sealed secrets could not be opened', { cause });
}

/** A fresh X25519 key pair as raw bytes (private, public). */
export function generateTransportKey(): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
  const { privateKey, publicKey } = generateTransportKeyObject();
  return Promise.resolve({ privateKey, publicKey });
}

/** A fresh X25519 key pair: raw private and public bytes, and the private KeyObject for openWithKey. */
export function generateTransportKeyObject(): {
  key: KeyObject;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
} {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d ?? '';
  return {
    key: privateKey,
    privateKey: new Uint8Array(Buffer.from(d, 'base64url')),
    publicKey: rawPublic(publicKey),
  };
}

/** The X25519 private KeyObject of raw key bytes. Throws Error for a key that is not 32 bytes. */
export function transportPrivateKey(raw: Uint8Array): KeyObject {
  return privateFromRaw(raw);
}

function sharedSecret(k: Kem, dh: Uint8Array, kemContext: Uint8Array): Uint8Array {
  const prk = labeledExtract(k.suiteKem, new Uint8Array(0), 'eae_prk', dh);
  dh.fill(0);
  // Nsecret is 32 for both DHKEM(X25519, HKDF-SHA256) and DHKEM(P-256, HKDF-SHA256).
  return labeledExpand(k.suiteKem, prk, 'shared_secret', kemContext, 32);
}

function keySchedule(k: Kem, shared: Uint8Array, info: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const empty = new Uint8Array(0);
  const pskIdHash = labeledExtract(k.suite, empty, 'psk_id_hash', empty);
  const infoHash = labeledExtract(k.suite, empty, 'info_hash', info);
  const ctx = concatBytes(new Uint8Array([0]), pskIdHash, infoHash);
  const secret = labeledExtract(k.suite, shared, 'secret', empty);
  shared.fill(0);
  return {
    key: labeledExpand(k.suite, secret, 'key', ctx, 32),
    nonce: labeledExpand(k.suite, secret, 'base_nonce', ctx, 12),
  };
}

function labeledExtract(suite: Uint8Array, salt: Uint8Array, label: string, ikm: Uint8Array): Uint8Array {
  // HMAC pads its key with zeros, so an empty salt is the RFC 5869 default of HashLen zero bytes.
  return new Uint8Array(
    createHmac('sha256', salt)
      .update(concatBytes(V1, suite, te.encode(label), ikm))
      .digest(),
  );
}

function labeledExpand(
  suite: Uint8Array,
  prk: Uint8Array,
  label: string,
  info: Uint8Array,
  length: number,
): Uint8Array {
  const labeled = concatBytes(i2osp(length, 2), V1, suite, te.encode(label), info);
  // One HKDF-Expand block covers every length used here (≤ 32).
  return new Uint8Array(
    createHmac('sha256', prk)
      .update(concatBytes(labeled, new Uint8Array([1])))
      .digest(),
  ).subarray(0, length);
}

function i2osp(n: number, w: number): Uint8Array {
  const out = new Uint8Array(w);
  for (let i = w - 1; i >= 0; i--) {
    out[i] = n & 0xff;
    n >>>= 8;
  }
  return out;
}

function publicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('X25519 keys are 32 bytes');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

function privateFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error('X25519 keys are 32 bytes');
  return createPrivateKey({
    key: Buffer.from(concatBytes(X25519_PKCS8_PREFIX, raw)),
    format: 'der',
    type: 'pkcs8',
  });
}

const X25519_PKCS8_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

function rawPublic(k: KeyObject): Uint8Array {
  return new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).x ?? '', 'base64url'));
}
