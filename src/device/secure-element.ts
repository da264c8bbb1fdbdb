import type { SecureContext } from 'node:tls';

/**
 * The secure element port: every private key of a device lives behind it and never leaves it.
 * The software implementation stands in for a real chip; a PKCS#11-backed one (SoftHSM, tpm2-pkcs11)
 * can implement the same interface.
 */

/** An HPKE (RFC 9180) sealed message: the encapsulated key and the AEAD ciphertext. */
export interface SealedMessage {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** What a device's secure element can do; none of it exports a private key. */
export interface SecureElement {
  readonly kind: 'software' | 'pkcs11';
  /** Generates a fresh ECDSA P-256 identity key (replacing any earlier one); returns its SPKI DER. */
  generateIdentityKey(): Promise<Uint8Array>;
  /** The identity key's SPKI DER, or undefined before one exists. */
  identityPublicKey(): Promise<Uint8Array | undefined>;
  /** ECDSA P-256 / SHA-256 signature (DER) by the identity key. Throws ERR_SE_NO_IDENTITY_KEY. */
  sign(data: Uint8Array): Promise<Uint8Array>;
  /** The raw 32-byte X25519 public key that server secrets are sealed to (created on first use). */
  transportPublicKey(): Promise<Uint8Array>;
  /**
   * Opens an HPKE message sealed to the transport key and keeps the plaintext inside the element.
   * Returns the names of the secrets stored. Throws ERR_SE_OPEN_FAILED.
   */
  openSealed(sealed: SealedMessage, info: Uint8Array, aad: Uint8Array): Promise<string[]>;
  /** Names of the secrets held (never their values). */
  secretNames(): Promise<string[]>;
  /**
   * Stores the IDevID chain (leaf first) the factory issued for the identity key, as a chip keeps its
   * device certificate next to the key. Throws ERR_SE_NO_IDENTITY_KEY, ERR_SE_CERT_KEY_MISMATCH.
   */
  storeIdentityChain(chain: readonly Uint8Array[]): Promise<void>;
  /** The stored IDevID chain, leaf first; empty before the factory stored one. */
  identityChain(): Promise<Uint8Array[]>;
}

/**
 * What an element offers to act as a TLS client with its identity (SZTP, firmware reports): a TLS context
 * holding the identity key (the key goes from the element into the TLS stack, never to the caller) and, for
 * EnvelopedData to an EC IDevID, an ECDH operation. SoftwareSecureElement offers both; a PKCS#11 element
 * cannot, since Node's TLS cannot use a token key.
 */
export interface TlsIdentityElement {
  identityTlsContext(options: {
    chain: readonly Uint8Array[];
    ca: readonly Uint8Array[];
  }): Promise<SecureContext>;
  ecdh?(peerSpki: Uint8Array): Promise<Uint8Array>;
}

/** True when the element can hold a TLS client identity. */
export function hasTlsIdentity(se: SecureElement): se is SecureElement & TlsIdentityElement {
  return typeof (se as Partial<TlsIdentityElement>).identityTlsContext === 'function';
}
