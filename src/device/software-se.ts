import { createPublicKey, diffieHellman, sign as nodeSign, type KeyObject } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { decodeCbor } from '../factory/link/cbor-decode.ts';
import { bytesEqual, toPem } from '../core/encoding.ts';
import { ImprintError } from '../core/errors.ts';
import { certificateSpki } from './der.ts';
import { generateTransportKeyObject, openWithKey, transportPrivateKey } from './hpke.ts';
import { generateP256, p256PrivateKey } from './p256.ts';
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
  /** The IDevID chain (DER, leaf first) the factory stored for the identity key. */
  identityChain?: Uint8Array[];
}

/** Where the element persists its record (the simulator passes its atomic state file). */
export interface SeStorage {
  load(): SoftwareSeRecord;
  save(record: SoftwareSeRecord): Promise<void>;
}

const noIdentityKey = () =>
  new ImprintError('ERR_SE_NO_IDENTITY_KEY', 409, 'the secure element has no identity key');

/**
 * A secure element in software: keys from the OS CSPRNG (node:crypto), kept in the storage it is
 * given and never returned by any method.
 *
 * TLS: Node's TLS stack cannot call out to a signing function during a handshake (no sign callback;
 * OpenSSL engines and providers are not reachable from JavaScript on Node 20), so a real chip would be
 * reached through an OpenSSL provider key. This simulation does the equivalent: `identityTlsContext`
 * loads the key straight into an OpenSSL `SecureContext` and returns only that native handle, which has no
 * way to read the key back. The key bytes are still in this process's memory (and in the state file),
 * as they are for any software element; no method returns them.
 */
export class SoftwareSecureElement implements SecureElement {
  readonly kind = 'software' as const;
  readonly #storage: SeStorage;
  // The keys as loaded KeyObjects, tied to the stored bytes they came from (a chip keeps its keys
  // loaded; importing DER costs ~0.4 ms per use). A record replaced under the element (another key
  // stored) no longer matches and is imported afresh.
  #keyCache: { der: Uint8Array; key: KeyObject } | undefined;
  #transportCache: { raw: Uint8Array; key: KeyObject } | undefined;

  constructor(storage: SeStorage) {
    this.#storage = storage;
  }

  /** See SecureElement.generateIdentityKey. */
  async generateIdentityKey(): Promise<Uint8Array> {
    const { key, pkcs8, spki } = generateP256();
    const rec = this.#storage.load();
    rec.identityPkcs8 = pkcs8;
    rec.identitySpki = spki;
    this.#keyCache = { der: pkcs8, key };
    // A certificate for the old key certifies nothing the element holds any more.
    delete rec.identityChain;
    await this.#storage.save(rec);
    return rec.identitySpki;
  }

  /** See SecureElement.identityPublicKey. */
  identityPublicKey(): Promise<Uint8Array | undefined> {
    const rec = this.#storage.load();
    if (rec.identitySpki !== undefined) return Promise.resolve(rec.identitySpki);
    const der = rec.identityPkcs8;
    if (der === undefined) return Promise.resolve(undefined);
    const pub = createPublicKey(p256PrivateKey(der));
    return Promise.resolve(new Uint8Array(pub.export({ format: 'der', type: 'spki' })));
  }

  /** See SecureElement.sign. Throws ERR_SE_NO_IDENTITY_KEY. */
  sign(data: Uint8Array): Promise<Uint8Array> {
    try {
      return Promise.resolve(new Uint8Array(nodeSign('sha256', data, this.#identityKey())));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** The identity key as a KeyObject, for operations inside this class only. Throws ERR_SE_NO_IDENTITY_KEY. */
  #identityKey(): KeyObject {
    const der = this.#storage.load().identityPkcs8;
    if (der === undefined) throw noIdentityKey();
    if (this.#keyCache?.der !== der) this.#keyCache = { der, key: p256PrivateKey(der) };
    return this.#keyCache.key;
  }

  /** The transport key as a KeyObject, loaded once per stored key. Throws ERR_SE_OPEN_FAILED. */
  #transportKey(raw: Uint8Array): KeyObject {
    if (this.#transportCache?.raw !== raw) {
      try {
        this.#transportCache = { raw, key: transportPrivateKey(raw) };
      } catch (cause) {
        throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'the transport key is unreadable', { cause });
      }
    }
    return this.#transportCache.key;
  }

  /** See SecureElement.storeIdentityChain. Throws ERR_SE_NO_IDENTITY_KEY, ERR_SE_CERT_KEY_MISMATCH. */
  async storeIdentityChain(chain: readonly Uint8Array[]): Promise<void> {
    const spki = await this.identityPublicKey();
    if (spki === undefined) throw noIdentityKey();
    const leaf = chain[0];
    let certified: Uint8Array | undefined;
    try {
      // As a chip does: every element must be a certificate in shape, and the leaf's SPKI must be the
      // key's own (a DER walk; validating the chain is the verifier's job when the device presents it).
      chain.forEach((c) => certificateSpki(c));
      certified = leaf === undefined ? undefined : certificateSpki(leaf);
    } catch {
      certified = undefined;
    }
    if (certified === undefined || !bytesEqual(certified, spki)) {
      throw new ImprintError(
        'ERR_SE_CERT_KEY_MISMATCH',
        409,
        'the certificate does not certify the identity key of this element',
      );
    }
    const rec = this.#storage.load();
    rec.identityChain = chain.map((c) => new Uint8Array(c));
    await this.#storage.save(rec);
  }

  /** See SecureElement.identityChain. */
  identityChain(): Promise<Uint8Array[]> {
    return Promise.resolve([...(this.#storage.load().identityChain ?? [])]);
  }

  /**
   * A TLS client context holding the identity key and `chain` (leaf first), trusting `ca` (or the default
   * roots when empty); see the class comment for why this is a context and not a key.
   * Throws ERR_SE_NO_IDENTITY_KEY.
   */
  identityTlsContext(options: {
    chain: readonly Uint8Array[];
    ca: readonly Uint8Array[];
  }): Promise<SecureContext> {
    const der = this.#storage.load().identityPkcs8;
    if (der === undefined) return Promise.reject(noIdentityKey());
    return Promise.resolve(
      createSecureContext({
        key: toPem('PRIVATE KEY', der),
        cert: options.chain.map((c) => toPem('CERTIFICATE', c)).join(''),
        ...(options.ca.length > 0 ? { ca: options.ca.map((c) => toPem('CERTIFICATE', c)) } : {}),
      }),
    );
  }

  /** ECDH (P-256) of the identity key with a peer's public key (SPKI DER): the shared secret Z. Throws ERR_SE_NO_IDENTITY_KEY. */
  ecdh(peerSpki: Uint8Array): Promise<Uint8Array> {
    try {
      const publicKey = createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' });
      return Promise.resolve(new Uint8Array(diffieHellman({ privateKey: this.#identityKey(), publicKey })));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** See SecureElement.transportPublicKey. */
  async transportPublicKey(): Promise<Uint8Array> {
    const rec = this.#storage.load();
    if (rec.transportPublic !== undefined) return rec.transportPublic;
    const kp = generateTransportKeyObject();
    rec.transportPrivate = kp.privateKey;
    rec.transportPublic = kp.publicKey;
    this.#transportCache = { raw: kp.privateKey, key: kp.key };
    await this.#storage.save(rec);
    return kp.publicKey;
  }

  /** See SecureElement.openSealed. Throws ERR_SE_OPEN_FAILED. */
  async openSealed(sealed: SealedMessage, info: Uint8Array, aad: Uint8Array): Promise<string[]> {
    const rec = this.#storage.load();
    if (rec.transportPrivate === undefined) {
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'no transport key to open sealed secrets with');
    }
    const pt = await openWithKey(this.#transportKey(rec.transportPrivate), sealed, info, aad);
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
