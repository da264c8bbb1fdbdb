import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
} from 'node:crypto';
import { decodeCbor } from '../factory/link/cbor-decode.ts';
import { ImprintError } from '../core/errors.ts';
import { generateTransportKey, openWith } from './hpke.ts';
import type { SealedMessage, SecureElement } from './secure-element.ts';

/** What the software element keeps in its non-volatile memory (the device state file). */
export interface SoftwareSeRecord {
  /** PKCS#8 DER of the identity key. */
  identityPkcs8?: Uint8Array;
  /** SPKI DER of the identity key (public; kept to avoid re-deriving it). */
  identitySpki?: Uint8Array;
  /** Raw X25519 private key. */
  transportPrivate?: Uint8Array;
  transportPublic?: Uint8Array;
  /** Secrets opened from sealed messages, by name. */
  secrets?: Record<string, Uint8Array>;
}

/** Where the element persists its record (the simulator passes its atomic state file). */
export interface SeStorage {
  load(): SoftwareSeRecord;
  save(record: SoftwareSeRecord): Promise<void>;
}

/**
 * A secure element in software: keys from the OS CSPRNG (node:crypto), kept in the storage it is
 * given and never returned by any method.
 */
export class SoftwareSecureElement implements SecureElement {
  readonly kind = 'software' as const;
  readonly #storage: SeStorage;
  #keyCache: { der: Uint8Array; key: KeyObject } | undefined;

  constructor(storage: SeStorage) {
    this.#storage = storage;
  }

  /** See SecureElement.generateIdentityKey. */
  async generateIdentityKey(): Promise<Uint8Array> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rec = this.#storage.load();
    rec.identityPkcs8 = new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }));
    rec.identitySpki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    await this.#storage.save(rec);
    return rec.identitySpki;
  }

  /** See SecureElement.identityPublicKey. */
  identityPublicKey(): Promise<Uint8Array | undefined> {
    const rec = this.#storage.load();
    if (rec.identitySpki !== undefined) return Promise.resolve(rec.identitySpki);
    const der = rec.identityPkcs8;
    if (der === undefined) return Promise.resolve(undefined);
    const pub = createPublicKey(createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }));
    return Promise.resolve(new Uint8Array(pub.export({ format: 'der', type: 'spki' })));
  }

  /** See SecureElement.sign. Throws ERR_SE_NO_IDENTITY_KEY. */
  sign(data: Uint8Array): Promise<Uint8Array> {
    const der = this.#storage.load().identityPkcs8;
    if (der === undefined) {
      return Promise.reject(
        new ImprintError('ERR_SE_NO_IDENTITY_KEY', 409, 'the secure element has no identity key'),
      );
    }
    if (this.#keyCache?.der !== der)
      this.#keyCache = {
        der,
        key: createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }),
      };
    return Promise.resolve(new Uint8Array(nodeSign('sha256', data, this.#keyCache.key)));
  }

  /** See SecureElement.transportPublicKey. */
  async transportPublicKey(): Promise<Uint8Array> {
    const rec = this.#storage.load();
    if (rec.transportPublic !== undefined) return rec.transportPublic;
    const kp = await generateTransportKey();
    rec.transportPrivate = kp.privateKey;
    rec.transportPublic = kp.publicKey;
    await this.#storage.save(rec);
    return kp.publicKey;
  }

  /** See SecureElement.openSealed. Throws ERR_SE_OPEN_FAILED. */
  async openSealed(sealed: SealedMessage, info: Uint8Array, aad: Uint8Array): Promise<string[]> {
    const rec = this.#storage.load();
    if (rec.transportPrivate === undefined) {
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'no transport key to open sealed secrets with');
    }
    const pt = await openWith(rec.transportPrivate, sealed, info, aad);
    const map: unknown = decodeCbor(pt);
    pt.fill(0);
    if (map === null || typeof map !== 'object' || map instanceof Uint8Array) {
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'sealed secrets are not a CBOR map');
    }
    const secrets: Record<string, Uint8Array> = {};
    for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
      if (!(v instanceof Uint8Array))
        throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'a sealed secret is not bytes');
      secrets[k] = v;
    }
    rec.secrets = { ...(rec.secrets ?? {}), ...secrets };
    await this.#storage.save(rec);
    return Object.keys(secrets).sort();
  }

  /** See SecureElement.secretNames. */
  secretNames(): Promise<string[]> {
    return Promise.resolve(Object.keys(this.#storage.load().secrets ?? {}).sort());
  }
}
