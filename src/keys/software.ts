import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign as nodeSign,
  constants,
  privateEncrypt,
  type KeyObject,
} from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { pssEncode } from './pss.ts';
import { fromBase64Url } from '../core/encoding.ts';
import { ForbiddenError, ImprintError, NotFoundError, ValidationError } from '../core/errors.ts';
import { concatBytes } from '../core/encoding.ts';
import { newId } from '../core/ids.ts';
import type { Clock } from '../core/clock.ts';
import type { Db, Executor } from '../store/database.ts';
import { checkNewKey, insertKeyRow, keyByLabel, keyInfo, keyRow, listKeys } from './key-rows.ts';
import type { KeysTable } from '../store/tables/foundation.ts';
import { derToRawEcdsa } from './ecdsa-signature.ts';
import type { SigningHandle } from './signing-handle.ts';
import {
  defaultHash,
  hashLength,
  type HashAlgorithm,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyStore,
  type SignOptions,
} from './types.ts';

/** Label prefix of keys that Node's TLS stack may load (see tlsPrivateKeyPem). */
export const TLS_LABEL_PREFIX = 'tls:';

/**
 * The embedded key store: private keys live in the database as PKCS#8 sealed with AES-256-GCM under
 * the key-encryption key (KEK); the AAD binds each ciphertext to its key id and label so rows cannot
 * be swapped. Decrypted keys are held only as opaque KeyObjects in this process.
 */
export class SoftwareKeyStore implements KeyStore {
  readonly backend = 'software' as const;
  readonly #db: Db;
  readonly #kek: Uint8Array;
  readonly #clock: Clock;
  readonly #cache = new Map<string, KeyObject>();

  constructor(db: Db, kek: Uint8Array, clock: Clock) {
    if (kek.length !== 32)
      throw new ValidationError('ERR_KEK_MALFORMED', 'key-encryption key must be 32 bytes');
    this.#db = db;
    this.#kek = Uint8Array.from(kek);
    this.#clock = clock;
  }

  /** See KeyStore.generate. */
  async generate(label: string, algorithm: KeyAlgorithm, db: Executor = this.#db): Promise<KeyInfo> {
    await checkNewKey(db, label, algorithm);
    return this.#insert(db, label, algorithm, generateSoftwareKeyPair(algorithm).privateKey);
  }

  /** See KeyStore.get. */
  async get(id: string): Promise<KeyInfo> {
    return keyInfo(await this.#row(id));
  }

  /** See KeyStore.findByLabel. */
  async findByLabel(label: string): Promise<KeyInfo | undefined> {
    return keyByLabel(this.#db, 'software', label);
  }

  /** See KeyStore.list. */
  async list(): Promise<KeyInfo[]> {
    return listKeys(this.#db, 'software');
  }

  /** See KeyStore.sign. */
  async sign(id: string, data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const row = await this.#row(id);
    const key = this.#private(row);
    const algorithm = row.algorithm as KeyAlgorithm;
    if (algorithm === 'ed25519') return new Uint8Array(nodeSign(null, data, key));
    const hash = options.hash ?? defaultHash(algorithm);
    return this.#finish(algorithm, nodeSign(hash, data, signKey(key, algorithm, hash, options)), options);
  }

  /**
   * See KeyStore.signingHandle. The handle holds the decrypted KeyObject (as this store's cache already
   * does) and signs on libuv's thread pool (the callback form of crypto.sign), off the calling thread.
   * It refuses once the key is destroyed or the store closed through this object. Throws ERR_KEY_NOT_FOUND.
   */
  async signingHandle(id: string): Promise<SigningHandle> {
    const row = await this.#row(id);
    const key = this.#private(row);
    const algorithm = row.algorithm as KeyAlgorithm;
    return {
      keyId: id,
      algorithm,
      sign: (data, options = {}) =>
        new Promise<Uint8Array>((resolve, reject) => {
          if (this.#cache.get(id) !== key) {
            reject(new NotFoundError('ERR_KEY_NOT_FOUND', `key ${id} was destroyed`));
            return;
          }
          const hash = algorithm === 'ed25519' ? null : (options.hash ?? defaultHash(algorithm));
          const signWith = hash === null ? key : signKey(key, algorithm, hash, options);
          nodeSign(hash, data, signWith, (err, sig) => {
            if (err === null) resolve(this.#finish(algorithm, sig, options));
            else
              reject(
                new ImprintError('ERR_KEY_SIGN_FAILED', 500, `key ${id} could not sign`, { cause: err }),
              );
          });
        }),
    };
  }

  /** See KeyStore.signDigest. */
  async signDigest(
    id: string,
    digest: Uint8Array,
    options: SignOptions & { hash: HashAlgorithm },
  ): Promise<Uint8Array> {
    const row = await this.#row(id);
    const algorithm = row.algorithm as KeyAlgorithm;
    if (algorithm === 'ed25519') {
      throw new ValidationError('ERR_KEY_UNSUPPORTED_OPERATION', 'Ed25519 signs messages, not digests');
    }
    if (digest.length !== hashLength(options.hash)) {
      throw new ValidationError('ERR_KEY_BAD_DIGEST', `digest must be ${hashLength(options.hash)} bytes`);
    }
    const key = this.#private(row);
    const sig = signPrehashed(key, algorithm, digest, options);
    return this.#finish(algorithm, sig, options);
  }

  /**
   * The PEM private key of a TLS server key, for Node's TLS stack, which cannot sign through a key store.
   * Only keys labelled `tls:*` are released this way; CA, audit and signing keys never are.
   * Throws ERR_KEY_NOT_FOUND, ERR_KEY_NOT_EXPORTABLE.
   */
  async tlsPrivateKeyPem(id: string): Promise<string> {
    const row = await this.#row(id);
    if (!row.label.startsWith(TLS_LABEL_PREFIX)) {
      throw new ForbiddenError(
        'ERR_KEY_NOT_EXPORTABLE',
        `key ${id} is not a TLS key and cannot leave the key store`,
      );
    }
    return this.#private(row).export({ format: 'pem', type: 'pkcs8' }).toString();
  }

  /**
   * Stores a TLS server key generated by the PKI (for Node's TLS stack), replacing an older one under the
   * same `tls:*` label. Throws ERR_KEY_NOT_EXPORTABLE for any other label.
   */
  async importTlsKey(label: string, pkcs8Pem: string): Promise<KeyInfo> {
    if (!label.startsWith(TLS_LABEL_PREFIX)) {
      throw new ForbiddenError('ERR_KEY_NOT_EXPORTABLE', 'only tls:* keys may be imported');
    }
    const privateKey = createPrivateKey(pkcs8Pem);
    const old = await this.findByLabel(label);
    if (old !== undefined) await this.#db.deleteFrom('keys').where('id', '=', old.id).execute();
    return this.#insert(this.#db, label, algorithmOf(privateKey), privateKey);
  }

  /** Seals and records a private key held in this process. */
  async #insert(
    db: Executor,
    label: string,
    algorithm: KeyAlgorithm,
    privateKey: KeyObject,
  ): Promise<KeyInfo> {
    const id = newId('key');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const row: KeysTable = {
      id,
      label,
      algorithm,
      backend: 'software',
      public_key: new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' })),
      wrapped_private: this.#seal(pkcs8, id, label),
      pkcs11_id: null,
      created_at: this.#clock.now().toISOString(),
      destroyed_at: null,
    };
    pkcs8.fill(0);
    await insertKeyRow(db, row);
    this.#cache.set(id, privateKey);
    return keyInfo(row);
  }

  /** See KeyStore.exportForOffline. */
  async exportForOffline(id: string, passphrase: string): Promise<string> {
    return encryptedPkcs8Pem(this.#private(await this.#row(id)), passphrase);
  }

  /** See KeyStore.destroy. */
  async destroy(id: string): Promise<void> {
    await this.#row(id);
    await this.#db
      .updateTable('keys')
      .set({ wrapped_private: null, destroyed_at: this.#clock.now().toISOString() })
      .where('id', '=', id)
      .execute();
    this.#cache.delete(id);
  }

  /** See KeyStore.close. */
  close(): Promise<void> {
    this.#cache.clear();
    this.#kek.fill(0);
    return Promise.resolve();
  }

  #finish(algorithm: KeyAlgorithm, sig: Buffer, options: SignOptions): Uint8Array {
    if (algorithm.startsWith('ecdsa') && options.ecdsaFormat === 'raw') {
      return derToRawEcdsa(sig, algorithm === 'ecdsa-p384' ? 48 : 32);
    }
    return new Uint8Array(sig);
  }

  async #row(id: string): Promise<KeysTable> {
    return keyRow(this.#db, 'software', id);
  }

  #private(row: KeysTable): KeyObject {
    const cached = this.#cache.get(row.id);
    if (cached !== undefined) return cached;
    if (row.wrapped_private === null)
      throw new NotFoundError('ERR_KEY_NOT_FOUND', `key ${row.id} was destroyed`);
    const pkcs8 = this.#open(row.wrapped_private, row.id, row.label);
    const key = createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
    pkcs8.fill(0);
    this.#cache.set(row.id, key);
    return key;
  }

  #seal(plain: Uint8Array, id: string, label: string): Uint8Array {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#kek, nonce);
    cipher.setAAD(Buffer.from(`imprint-key:${id}:${label}`));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    return concatBytes(nonce, ct, cipher.getAuthTag());
  }

  #open(sealed: Uint8Array, id: string, label: string): Uint8Array {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#kek, sealed.subarray(0, 12));
      decipher.setAAD(Buffer.from(`imprint-key:${id}:${label}`));
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      return new Uint8Array(
        Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]),
      );
    } catch (cause) {
      throw new ImprintError('ERR_KEY_UNWRAP_FAILED', 500, `key ${id} cannot be decrypted with this KEK`, {
        cause,
      });
    }
  }
}

/**
 * A private key as encrypted PKCS#8 PEM: PBES2 + PBKDF2-HMAC-SHA256 + AES-256-CBC, what `openssl pkcs8
 * -topk8 -v2 aes-256-cbc` writes. Throws ERR_CA_PASSPHRASE_WEAK under 12 characters.
 */
export function encryptedPkcs8Pem(key: KeyObject, passphrase: string): string {
  if (passphrase.length < 12)
    throw new ValidationError(
      'ERR_CA_PASSPHRASE_WEAK',
      'the export passphrase must be at least 12 characters',
    );
  return key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase }) as string;
}

/** A new key pair generated in this process (for the software store and for keys exported offline). */
export function generateSoftwareKeyPair(algorithm: KeyAlgorithm): {
  privateKey: KeyObject;
  publicKey: KeyObject;
} {
  switch (algorithm) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 0x10001 });
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 0x10001 });
  }
}

function signKey(key: KeyObject, algorithm: KeyAlgorithm, hash: HashAlgorithm, o: SignOptions) {
  if (algorithm.startsWith('rsa') && o.rsaPadding === 'pss') {
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: o.pssSaltLength ?? hashLength(hash) };
  }
  return key;
}

const DIGEST_INFO_PREFIX: Record<HashAlgorithm, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function signPrehashed(
  key: KeyObject,
  algorithm: KeyAlgorithm,
  digest: Uint8Array,
  o: SignOptions & { hash: HashAlgorithm },
): Buffer {
  if (algorithm.startsWith('ecdsa')) {
    // Node has no "sign this digest" call for EC keys, so the scalar goes to noble for this one operation.
    const d = fromBase64Url(key.export({ format: 'jwk' }).d ?? '');
    const curve = algorithm === 'ecdsa-p384' ? p384 : p256;
    const sig = curve.sign(digest, d, { prehash: false, format: 'der', lowS: false });
    d.fill(0);
    return Buffer.from(sig);
  }
  if (o.rsaPadding === 'pss') {
    return signPssDigest(key, digest, o.hash, o.pssSaltLength ?? hashLength(o.hash));
  }
  // PKCS#1 v1.5: sign DigestInfo with the raw private-key operation.
  const digestInfo = Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[o.hash], 'hex'), digest]);
  return privateEncryptPkcs1(key, digestInfo);
}

function privateEncryptPkcs1(key: KeyObject, digestInfo: Buffer): Buffer {
  return privateEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, digestInfo);
}

function signPssDigest(key: KeyObject, digest: Uint8Array, hash: HashAlgorithm, saltLength: number): Buffer {
  const modBits = createPublicKey(key).asymmetricKeyDetails?.modulusLength ?? 0;
  const em = pssEncode(digest, hash, saltLength, modBits - 1);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, em);
}

function algorithmOf(key: KeyObject): KeyAlgorithm {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec') return d?.namedCurve === 'secp384r1' ? 'ecdsa-p384' : 'ecdsa-p256';
  return (d?.modulusLength ?? 0) >= 4096 ? 'rsa-4096' : 'rsa-3072';
}
