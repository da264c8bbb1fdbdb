/**
 * A signing handle: a key resolved once and then used for many signatures. The issuance hot path signs
 * thousands of certificates per second with one CA key; resolving the key through the store on every
 * signature (reading and checking its row) cost more than the signature itself.
 */
import type { KeyAlgorithm, SignOptions } from './types.ts';

/**
 * Signs with one key. A handle notices its key being destroyed through the same key store object; it does
 * not see another process destroying the key, so a caller that keeps a handle must check, in the
 * transaction that releases what it signed, that the key is still meant to be used (the PKI checks the
 * CA row's state and key id).
 */
export interface SigningHandle {
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  /** Like KeyStore.sign for this key. Throws ERR_KEY_NOT_FOUND (destroyed, store closed), ERR_KEY_SIGN_FAILED. */
  sign(data: Uint8Array, options?: SignOptions): Promise<Uint8Array>;
}
