import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { decode, encode } from 'cbor2';
import { bytesEqual, toHex } from '../core/encoding.ts';
import { ImprintError } from '../core/errors.ts';
import { decodeCbor } from '../factory/link/cbor-decode.ts';
import { rawToDerEcdsa } from '../keys/ecdsa-signature.ts';
import { keyPairTemplates, spkiFromAttributes } from '../keys/pkcs11-public-key.ts';
import { TokenSession, type Handle, type Pkcs11 } from '../keys/pkcs11-session.ts';
import { openWithP256Dh } from './hpke.ts';
import type { SealedMessage, SecureElement } from './secure-element.ts';

/** Where a PKCS#11 secure element lives: the module, the token and its user PIN. */
export interface Pkcs11ElementConfig {
  readonly module: string;
  readonly tokenLabel: string;
  readonly pin: string;
}

type Role = 'identity' | 'transport' | 'chain' | 'secret';

/**
 * A device's secure element in a PKCS#11 token (SoftHSM in tests; a TPM through tpm2-pkcs11 or a
 * smart-card chip the same way). Every key is generated in the token, sensitive and never
 * extractable; factory secrets become sensitive, non-extractable secret-key objects. One token can
 * hold many devices: each device's objects carry its unique ID as CKA_ID and a label naming its role.
 *
 * Two things a real chip would keep inside that a generic PKCS#11 token cannot: the HPKE key schedule
 * and AEAD run on the host after the ECDH (CKM_ECDH1_DERIVE) in the token, so the secrets' plaintext
 * passes through host memory once on its way in; and the transport KEM is DHKEM(P-256), since SoftHSM
 * has no X25519. A TLS client key is not offered (Node's TLS cannot use a token key), so SZTP over
 * mutual TLS needs the software element.
 */
export class Pkcs11SecureElement implements SecureElement {
  readonly kind = 'pkcs11' as const;
  readonly #session: TokenSession;
  readonly #id: Buffer;

  private constructor(session: TokenSession, deviceUid: Uint8Array) {
    this.#session = session;
    this.#id = Buffer.from(deviceUid);
  }

  /** Opens the token for the device with this unique ID. Throws the TokenSession.open codes. */
  static open(config: Pkcs11ElementConfig, deviceUid: Uint8Array): Pkcs11SecureElement {
    return new Pkcs11SecureElement(
      TokenSession.open(config.module, config.tokenLabel, config.pin),
      deviceUid,
    );
  }

  /** Closes the token session. */
  close(): Promise<void> {
    return this.#session.close();
  }

  /** See SecureElement.generateIdentityKey: an ECDSA P-256 pair made in the token; the old one is destroyed. */
  generateIdentityKey(): Promise<Uint8Array> {
    return this.#session.run((lib, s) => {
      // A new key makes the old certificate chain meaningless, so both go.
      this.#destroy(lib, s, 'identity');
      this.#destroy(lib, s, 'chain');
      return this.#generate(lib, s, 'identity', pkcs11js.CKA_SIGN);
    });
  }

  /** See SecureElement.identityPublicKey. */
  identityPublicKey(): Promise<Uint8Array | undefined> {
    return this.#session.run((lib, s) => this.#publicKey(lib, s, 'identity'));
  }

  /** See SecureElement.sign: SHA-256 on the host, ECDSA in the token. Throws ERR_SE_NO_IDENTITY_KEY. */
  sign(data: Uint8Array): Promise<Uint8Array> {
    const digest = createHash('sha256').update(data).digest();
    return this.#session.run((lib, s) => {
      const key = this.#privateKey(lib, s, 'identity');
      lib.C_SignInit(s, { mechanism: pkcs11js.CKM_ECDSA }, key);
      return rawToDerEcdsa(new Uint8Array(lib.C_Sign(s, digest, Buffer.alloc(64))));
    });
  }

  /** See SecureElement.transportPublicKey: a 65-byte uncompressed P-256 point (DHKEM(P-256) for HPKE). */
  transportPublicKey(): Promise<Uint8Array> {
    return this.#session.run((lib, s) => {
      const existing = this.#find(lib, s, 'transport', pkcs11js.CKO_PUBLIC_KEY)[0];
      if (existing === undefined) this.#generate(lib, s, 'transport', pkcs11js.CKA_DERIVE);
      return this.#point(lib, s, 'transport');
    });
  }

  /** See SecureElement.openSealed: ECDH in the token, each secret stored as a sensitive token object. Throws ERR_SE_OPEN_FAILED. */
  async openSealed(sealed: SealedMessage, info: Uint8Array, aad: Uint8Array): Promise<string[]> {
    const recipient = await this.#session.run((lib, s) => this.#point(lib, s, 'transport'));
    const pt = await openWithP256Dh((enc) => this.#ecdh('transport', enc), recipient, sealed, info, aad);
    const map = decodeCbor(pt);
    pt.fill(0);
    if (
      map === undefined ||
      map === null ||
      typeof map !== 'object' ||
      map instanceof Uint8Array ||
      Array.isArray(map)
    )
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'sealed secrets are not a CBOR map');
    const entries = Object.entries(map as Record<string, unknown>);
    if (!entries.every(([, v]) => v instanceof Uint8Array))
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'a sealed secret is not bytes');
    await this.#session.run((lib, s) => {
      for (const [name, value] of entries as [string, Uint8Array][]) {
        for (const h of this.#find(lib, s, 'secret', pkcs11js.CKO_SECRET_KEY, name))
          lib.C_DestroyObject(s, h);
        lib.C_CreateObject(s, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_EXTRACTABLE, value: false },
          { type: pkcs11js.CKA_ID, value: this.#id },
          { type: pkcs11js.CKA_LABEL, value: this.#label('secret', name) },
          { type: pkcs11js.CKA_VALUE, value: Buffer.from(value) },
        ]);
      }
    });
    return entries.map(([k]) => k).sort();
  }

  /** See SecureElement.secretNames. */
  secretNames(): Promise<string[]> {
    const prefix = this.#label('secret', '');
    return this.#session.run((lib, s) =>
      this.#find(lib, s, 'secret', pkcs11js.CKO_SECRET_KEY)
        .map((h) => String(lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_LABEL }])[0]?.value ?? ''))
        .filter((l) => l.startsWith(prefix))
        .map((l) => l.slice(prefix.length))
        .sort(),
    );
  }

  /** See SecureElement.storeIdentityChain: kept as a token data object. Throws ERR_SE_NO_IDENTITY_KEY, ERR_SE_CERT_KEY_MISMATCH. */
  async storeIdentityChain(chain: readonly Uint8Array[]): Promise<void> {
    const spki = await this.identityPublicKey();
    if (spki === undefined) throw noIdentityKey();
    let certified: Uint8Array | undefined;
    try {
      const leaf = new X509Certificate(Buffer.from(chain[0] ?? new Uint8Array(0)));
      certified = new Uint8Array(leaf.publicKey.export({ format: 'der', type: 'spki' }));
    } catch {
      certified = undefined;
    }
    if (certified === undefined || !bytesEqual(certified, spki))
      throw new ImprintError(
        'ERR_SE_CERT_KEY_MISMATCH',
        409,
        'the certificate does not certify the identity key of this element',
      );
    await this.#session.run((lib, s) => {
      this.#destroy(lib, s, 'chain');
      lib.C_CreateObject(s, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: false },
        { type: pkcs11js.CKA_APPLICATION, value: 'imprint' },
        { type: pkcs11js.CKA_LABEL, value: this.#label('chain') },
        { type: pkcs11js.CKA_VALUE, value: Buffer.from(encode(chain.map((c) => new Uint8Array(c)))) },
      ]);
    });
  }

  /** See SecureElement.identityChain. */
  identityChain(): Promise<Uint8Array[]> {
    return this.#session.run((lib, s) => {
      const h = this.#find(lib, s, 'chain', pkcs11js.CKO_DATA)[0];
      if (h === undefined) return [];
      const value = lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_VALUE }])[0]?.value;
      const list: unknown = value === undefined ? [] : decode(new Uint8Array(value));
      return Array.isArray(list) ? list.filter((c): c is Uint8Array => c instanceof Uint8Array) : [];
    });
  }

  /** ECDH (P-256) of the identity key with a peer's SPKI, computed in the token. Throws ERR_SE_NO_IDENTITY_KEY. */
  ecdh(peerSpki: Uint8Array): Promise<Uint8Array> {
    const jwk = createPublicKey({ key: Buffer.from(peerSpki), format: 'der', type: 'spki' }).export({
      format: 'jwk',
    });
    const point = Buffer.concat([
      Buffer.from([4]),
      Buffer.from(jwk.x ?? '', 'base64url'),
      Buffer.from(jwk.y ?? '', 'base64url'),
    ]);
    return this.#ecdh('identity', point);
  }

  #ecdh(role: 'identity' | 'transport', peerPoint: Uint8Array): Promise<Uint8Array> {
    return this.#session.run((lib, s) => {
      const base = this.#privateKey(lib, s, role);
      // The shared secret is a session object only long enough to read it for the host-side KDF.
      const derived = lib.C_DeriveKey(
        s,
        {
          mechanism: pkcs11js.CKM_ECDH1_DERIVE,
          parameter: ecdhParams(peerPoint),
        },
        base,
        [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
          { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
          { type: pkcs11js.CKA_TOKEN, value: false },
          { type: pkcs11js.CKA_SENSITIVE, value: false },
          { type: pkcs11js.CKA_EXTRACTABLE, value: true },
          { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
        ],
      );
      try {
        return new Uint8Array(
          lib.C_GetAttributeValue(s, derived, [{ type: pkcs11js.CKA_VALUE }])[0]?.value ?? [],
        );
      } finally {
        lib.C_DestroyObject(s, derived);
      }
    });
  }

  #generate(lib: Pkcs11, s: Handle, role: 'identity' | 'transport', usage: number): Uint8Array {
    const t = keyPairTemplates('ecdsa-p256', this.#label(role), this.#id);
    const privateKey = [
      ...t.privateKey.filter((a) => a.type !== pkcs11js.CKA_SIGN),
      { type: usage, value: true },
    ];
    lib.C_GenerateKeyPair(s, t.mechanism, t.publicKey, privateKey);
    return this.#publicKey(lib, s, role) ?? new Uint8Array(0);
  }

  #publicKey(lib: Pkcs11, s: Handle, role: 'identity' | 'transport'): Uint8Array | undefined {
    const h = this.#find(lib, s, role, pkcs11js.CKO_PUBLIC_KEY)[0];
    if (h === undefined) return undefined;
    return spkiFromAttributes('ecdsa-p256', lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_EC_POINT }]));
  }

  /** The raw uncompressed point of a key (CKA_EC_POINT holds it as a DER OCTET STRING). */
  #point(lib: Pkcs11, s: Handle, role: 'transport'): Uint8Array {
    const spki = this.#publicKey(lib, s, role);
    if (spki === undefined)
      throw new ImprintError('ERR_SE_OPEN_FAILED', 400, 'no transport key to open sealed secrets with');
    return spki.subarray(spki.length - 65);
  }

  #privateKey(lib: Pkcs11, s: Handle, role: 'identity' | 'transport'): Handle {
    const h = this.#find(lib, s, role, pkcs11js.CKO_PRIVATE_KEY)[0];
    if (h === undefined) {
      throw role === 'identity'
        ? noIdentityKey()
        : new ImprintError('ERR_SE_OPEN_FAILED', 400, 'no transport key to open sealed secrets with');
    }
    return h;
  }

  /** Objects of this device: by exact label, or (every secret) by CKA_ID; data objects have no CKA_ID. */
  #find(lib: Pkcs11, s: Handle, role: Role, cls: number, name?: string): Handle[] {
    const template: pkcs11js.Template = [{ type: pkcs11js.CKA_CLASS, value: cls }];
    if (role === 'secret' && name === undefined) template.push({ type: pkcs11js.CKA_ID, value: this.#id });
    else template.push({ type: pkcs11js.CKA_LABEL, value: this.#label(role, name) });
    lib.C_FindObjectsInit(s, template);
    try {
      return lib.C_FindObjects(s, 64);
    } finally {
      lib.C_FindObjectsFinal(s);
    }
  }

  #destroy(lib: Pkcs11, s: Handle, role: Role): void {
    const classes =
      role === 'chain' ? [pkcs11js.CKO_DATA] : [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY];
    for (const cls of classes) for (const h of this.#find(lib, s, role, cls)) lib.C_DestroyObject(s, h);
  }

  #label(role: Role, name?: string): string {
    return `imprint-se/${toHex(this.#id)}/${role}${name === undefined ? '' : `/${name}`}`;
  }
}

function ecdhParams(peerPoint: Uint8Array): pkcs11js.ECDH1 {
  return { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(peerPoint) };
}

function noIdentityKey(): ImprintError {
  return new ImprintError('ERR_SE_NO_IDENTITY_KEY', 409, 'the secure element has no identity key');
}
