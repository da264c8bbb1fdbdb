import type { Executor } from '../store/database.ts';
import type { SigningHandle } from './signing-handle.ts';

/** Every key algorithm the platform holds keys for. */
export const KEY_ALGORITHMS = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-3072', 'rsa-4096'] as const;
/** One of KEY_ALGORITHMS. */
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
/** Digest algorithms used with ECDSA and RSA keys. */
export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';
/** Where a key's private half lives. */
export type KeyBackend = 'software' | 'pkcs11';

/** Public facts about a held key; never carries private material. */
export interface KeyInfo {
  readonly id: string;
  readonly label: string;
  readonly algorithm: KeyAlgorithm;
  readonly backend: KeyBackend;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKeyDer: Uint8Array;
  readonly createdAt: string;
}

/** How to sign. Defaults: SHA-256 (SHA-384 for P-384), PKCS#1 v1.5 for RSA, DER for ECDSA. */
export interface SignOptions {
  readonly hash?: HashAlgorithm;
  readonly rsaPadding?: 'pkcs1' | 'pss';
  /** PSS salt length in bytes; defaults to the digest length. */
  readonly pssSaltLength?: number;
  /** ECDSA signature encoding: DER SEQUENCE{r,s} (X.509, CMS) or raw r‖s (JWS, COSE). */
  readonly ecdsaFormat?: 'der' | 'raw';
}

/**
 * The one interface for every private key the platform holds (CA, audit, TLS, station, firmware keys).
 * Private keys never leave an implementation: callers get signatures and public keys only.
 */
export interface KeyStore {
  readonly backend: KeyBackend;
  /** Generates a new key pair under a unique label. Throws ERR_KEY_LABEL_TAKEN, ERR_KEY_ALGORITHM_UNSUPPORTED. */
  generate(label: string, algorithm: KeyAlgorithm, db?: Executor): Promise<KeyInfo>;
  /** The key with this id. Throws ERR_KEY_NOT_FOUND. */
  get(id: string): Promise<KeyInfo>;
  /** The key with this label, or undefined. */
  findByLabel(label: string): Promise<KeyInfo | undefined>;
  /** Every live key, oldest first. */
  list(): Promise<KeyInfo[]>;
  /** Hashes `data` and signs it (Ed25519 signs `data` itself). Throws ERR_KEY_NOT_FOUND, ERR_KEY_SIGN_FAILED. */
  sign(id: string, data: Uint8Array, options?: SignOptions): Promise<Uint8Array>;
  /**
   * Signs a precomputed digest: only the digest reaches the key store (HSM). ECDSA and RSA only.
   * Throws ERR_KEY_UNSUPPORTED_OPERATION for Ed25519, ERR_KEY_BAD_DIGEST on a wrong-length digest.
   */
  signDigest(
    id: string,
    digest: Uint8Array,
    options: SignOptions & { hash: HashAlgorithm },
  ): Promise<Uint8Array>;
  /** Destroys the private key; the public record stays for audit. Throws ERR_KEY_NOT_FOUND. */
  destroy(id: string): Promise<void>;
  /**
   * The private key as encrypted PKCS#8 PEM, for an offline ceremony whose caller destroys the key in
   * the store next. Absent on stores whose keys can never leave (an HSM). Throws ERR_KEY_NOT_FOUND,
   * ERR_CA_PASSPHRASE_WEAK.
   */
  exportForOffline?(id: string, passphrase: string): Promise<string>;
  /**
   * A handle that signs with this key without resolving it again per signature (see SigningHandle). Absent
   * on stores where each signature goes to the token anyway (PKCS#11). Throws ERR_KEY_NOT_FOUND.
   */
  signingHandle?(id: string): Promise<SigningHandle>;
  /** Releases sessions and handles. */
  close(): Promise<void>;
}

/** Default digest for an algorithm when the caller does not choose. */
export function defaultHash(algorithm: KeyAlgorithm): HashAlgorithm {
  return algorithm === 'ecdsa-p384' ? 'sha384' : 'sha256';
}

/** Digest length in bytes. */
export function hashLength(hash: HashAlgorithm): number {
  return hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
}

/** True when `s` names a supported algorithm. */
export function isKeyAlgorithm(s: string): s is KeyAlgorithm {
  return (KEY_ALGORITHMS as readonly string[]).includes(s);
}
