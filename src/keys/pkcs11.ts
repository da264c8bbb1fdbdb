import { createHash, randomBytes } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Clock } from '../core/clock.ts';
import { ImprintError, InternalError, ValidationError } from '../core/errors.ts';
import { fromHex, toHex } from '../core/encoding.ts';
import { newId } from '../core/ids.ts';
import type { Db, Executor } from '../store/database.ts';
import { checkNewKey, insertKeyRow, keyByLabel, keyInfo, keyRow, listKeys } from './key-rows.ts';
import type { KeysTable } from '../store/tables/foundation.ts';
import { rawToDerEcdsa } from './ecdsa-signature.ts';
import { CKM_EDDSA, destroyQuietly, digestSignPlan, ecdsaSize, findObjects } from './pkcs11-mechanisms.ts';
import { keyPairTemplates, publicAttributeTypes, spkiFromAttributes } from './pkcs11-public-key.ts';
import { ckr, TokenSession, type Handle } from './pkcs11-session.ts';
import {
  defaultHash,
  hashLength,
  type HashAlgorithm,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyStore,
  type SignOptions,
} from './types.ts';

/** Where the PKCS#11 key store finds its token and its key records. */
export interface Pkcs11KeyStoreOptions {
  /** Path of the PKCS#11 module (.so). */
  readonly module: string;
  /** Label of the token (slot ids change between restarts; labels do not). */
  readonly tokenLabel: string;
  /** The user PIN; used to log in and not kept. */
  readonly pin: string;
  readonly db: Db;
  readonly clock: Clock;
}

/**
 * Keys generated inside a PKCS#11 token (an HSM, or SoftHSM in tests): the private half is sensitive
 * and never extractable, so only digests go in and signatures come out. The database keeps the public
 * key and the CKA_ID that names the pair in the token.
 */
export class Pkcs11KeyStore implements KeyStore {
  readonly backend = 'pkcs11' as const;
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #token: TokenSession;
  readonly #handles = new Map<string, Handle>();

  /** Opens a session on the token and logs in. Throws ERR_PKCS11_MODULE_LOAD_FAILED, ERR_PKCS11_TOKEN_NOT_FOUND, ERR_PKCS11_LOGIN_FAILED. */
  constructor(options: Pkcs11KeyStoreOptions) {
    this.#db = options.db;
    this.#clock = options.clock;
    this.#token = TokenSession.open(options.module, options.tokenLabel, options.pin);
  }

  /** See KeyStore.generate. Also throws ERR_KEY_GENERATE_FAILED. */
  async generate(label: string, algorithm: KeyAlgorithm, db: Executor = this.#db): Promise<KeyInfo> {
    await checkNewKey(db, label, algorithm);
    const ckaId = randomBytes(16);
    const { privateKey, publicKeyDer } = await this.#token.run(async (lib, session) => {
      const t = keyPairTemplates(algorithm, label, ckaId);
      let pair: pkcs11js.KeyPair;
      try {
        pair = await lib.C_GenerateKeyPairAsync(session, t.mechanism, t.publicKey, t.privateKey);
      } catch (cause) {
        throw new InternalError(
          'ERR_KEY_GENERATE_FAILED',
          `the token could not generate a ${algorithm} key`,
          {
            cause,
          },
        );
      }
      try {
        const attrs = lib.C_GetAttributeValue(
          session,
          pair.publicKey,
          publicAttributeTypes(algorithm).map((type) => ({ type })),
        );
        return { privateKey: pair.privateKey, publicKeyDer: spkiFromAttributes(algorithm, attrs) };
      } catch (e) {
        destroyQuietly(lib, session, [pair.privateKey, pair.publicKey]);
        throw e;
      }
    });
    const row: KeysTable = {
      id: newId('key'),
      label,
      algorithm,
      backend: 'pkcs11',
      public_key: publicKeyDer,
      wrapped_private: null,
      pkcs11_id: toHex(ckaId),
      created_at: this.#clock.now().toISOString(),
      destroyed_at: null,
    };
    try {
      await insertKeyRow(db, row);
    } catch (e) {
      // Lost a race for the label (or the database failed): leave no orphan pair in the token.
      await this.#destroyObjects(ckaId).catch(() => undefined);
      throw e;
    }
    this.#handles.set(row.id, privateKey);
    return keyInfo(row);
  }

  /** See KeyStore.get. */
  async get(id: string): Promise<KeyInfo> {
    return keyInfo(await this.#row(id));
  }

  /** See KeyStore.findByLabel. */
  async findByLabel(label: string): Promise<KeyInfo | undefined> {
    return keyByLabel(this.#db, 'pkcs11', label);
  }

  /** See KeyStore.list. */
  async list(): Promise<KeyInfo[]> {
    return listKeys(this.#db, 'pkcs11');
  }

  /** See KeyStore.sign: the message is hashed here, so only the digest reaches the token (not for Ed25519). */
  async sign(id: string, data: Uint8Array, options: SignOptions = {}): Promise<Uint8Array> {
    const row = await this.#row(id);
    const algorithm = row.algorithm as KeyAlgorithm;
    if (algorithm === 'ed25519') return this.#sign(row, { mechanism: CKM_EDDSA }, Buffer.from(data), 64);
    const hash = options.hash ?? defaultHash(algorithm);
    const digest = createHash(hash).update(data).digest();
    return this.#signDigest(row, digest, { ...options, hash });
  }

  /** See KeyStore.signDigest. */
  async signDigest(
    id: string,
    digest: Uint8Array,
    options: SignOptions & { hash: HashAlgorithm },
  ): Promise<Uint8Array> {
    const row = await this.#row(id);
    if (row.algorithm === 'ed25519') {
      throw new ValidationError('ERR_KEY_UNSUPPORTED_OPERATION', 'Ed25519 signs messages, not digests');
    }
    if (digest.length !== hashLength(options.hash)) {
      throw new ValidationError('ERR_KEY_BAD_DIGEST', `digest must be ${hashLength(options.hash)} bytes`);
    }
    return this.#signDigest(row, Buffer.from(digest), options);
  }

  /** See KeyStore.destroy: deletes the pair from the token, then marks the record destroyed. */
  async destroy(id: string): Promise<void> {
    const row = await this.#row(id);
    if (row.pkcs11_id !== null) await this.#destroyObjects(Buffer.from(fromHex(row.pkcs11_id)));
    this.#handles.delete(id);
    await this.#db
      .updateTable('keys')
      .set({ destroyed_at: this.#clock.now().toISOString() })
      .where('id', '=', id)
      .execute();
  }

  /** See KeyStore.close: logs out and finalizes the module once no other store uses it. */
  async close(): Promise<void> {
    this.#handles.clear();
    await this.#token.close();
  }

  async #signDigest(
    row: KeysTable,
    digest: Buffer,
    o: SignOptions & { hash: HashAlgorithm },
  ): Promise<Uint8Array> {
    const algorithm = row.algorithm as KeyAlgorithm;
    const plan = digestSignPlan(algorithm, digest, o);
    const sig = await this.#sign(row, plan.mechanism, plan.input, plan.maxLength);
    if (!algorithm.startsWith('ecdsa')) return sig;
    // The token returns raw r‖s; X.509 and CMS want DER.
    if (sig.length !== 2 * ecdsaSize(algorithm)) {
      throw new InternalError('ERR_KEY_SIGN_FAILED', 'the token returned a malformed ECDSA signature');
    }
    return o.ecdsaFormat === 'raw' ? sig : rawToDerEcdsa(sig);
  }

  #sign(
    row: KeysTable,
    mechanism: pkcs11js.Mechanism,
    input: Buffer,
    maxLength: number,
  ): Promise<Uint8Array> {
    return this.#token.run(async (lib, session) => {
      try {
        const key = this.#privateHandle(lib, session, row);
        lib.C_SignInit(session, mechanism, key);
        return new Uint8Array(await lib.C_SignAsync(session, input, Buffer.alloc(maxLength)));
      } catch (cause) {
        if (cause instanceof ImprintError) throw cause;
        if (
          ckr(cause) === pkcs11js.CKR_OBJECT_HANDLE_INVALID ||
          ckr(cause) === pkcs11js.CKR_KEY_HANDLE_INVALID
        ) {
          this.#handles.delete(row.id);
        }
        throw new InternalError('ERR_KEY_SIGN_FAILED', `the token could not sign with key ${row.id}`, {
          cause,
        });
      }
    });
  }

  #privateHandle(lib: pkcs11js.PKCS11, session: Handle, row: KeysTable): Handle {
    const cached = this.#handles.get(row.id);
    if (cached !== undefined) return cached;
    const [handle] = findObjects(
      lib,
      session,
      Buffer.from(fromHex(row.pkcs11_id ?? '')),
      pkcs11js.CKO_PRIVATE_KEY,
    );
    if (handle === undefined) {
      throw new InternalError(
        'ERR_PKCS11_OBJECT_MISSING',
        `the private key of ${row.id} is not in the token`,
      );
    }
    this.#handles.set(row.id, handle);
    return handle;
  }

  #destroyObjects(ckaId: Buffer): Promise<void> {
    return this.#token.run((lib, session) => {
      try {
        for (const h of findObjects(lib, session, ckaId)) lib.C_DestroyObject(session, h);
      } catch (cause) {
        throw new InternalError('ERR_PKCS11_OPERATION_FAILED', 'the token could not destroy the key', {
          cause,
        });
      }
    });
  }

  async #row(id: string): Promise<KeysTable> {
    return keyRow(this.#db, 'pkcs11', id);
  }
}
