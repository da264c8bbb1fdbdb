/** Records and ports of the device PKI (CA hierarchy, profiles, issuance, revocation, CRL, OCSP). */
import type { KeyAlgorithm } from '../keys/types.ts';

/** The job of a CA in the hierarchy. */
export const CA_ROLES = ['root', 'manufacturer', 'operational', 'code-signing', 'tls'] as const;
/** One of CA_ROLES. */
export type CaRole = (typeof CA_ROLES)[number];

/** Where a CA's private key is: in the key store, or exported encrypted and taken offline. */
export type CaState = 'active' | 'offline' | 'retired';

/** A certificate authority as the rest of the platform sees it. */
export interface CaRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly role: CaRole;
  /** Key-store id of the CA key; null when the key is offline. */
  readonly keyId: string | null;
  readonly keyAlgorithm: KeyAlgorithm;
  /** DER certificate. */
  readonly certificate: Uint8Array;
  readonly parentId: string | null;
  readonly state: CaState;
  readonly subject: string;
  readonly serialHex: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** Number of the last CRL published (0: none yet). */
  readonly crlNumber: number;
  readonly nextCrlAt: string | null;
  /** Bumped on every revocation; OCSP caches in every process compare against it. */
  readonly revocationEpoch: number;
  /** Certificate id of the delegated OCSP responder, if any. */
  readonly ocspCertId: string | null;
  readonly createdAt: string;
}

/** Certificate profile names. */
export const PROFILE_NAMES = [
  'idevid',
  'ldevid',
  'code-signing',
  'tls-server',
  'tls-client',
  'ocsp-signer',
] as const;
/** One of PROFILE_NAMES. */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** An issued certificate as stored. */
export interface CertificateRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly caId: string | null;
  readonly deviceId: string | null;
  readonly profile: string;
  readonly serialHex: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly spkiSha256: string;
  readonly der: Uint8Array;
  readonly status: 'good' | 'revoked';
  readonly revokedAt: string | null;
  readonly revocationReason: number | null;
  readonly createdAt: string;
}

/** RFC 5280 CRLReason codes by name (7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
/** One of the reason names. */
export type RevocationReason = keyof typeof REVOCATION_REASONS;

/** Public URLs written into leaves (CRL DP, AIA OCSP and caIssuers). */
export interface PkiUrls {
  /** e.g. `https://imprint.example` ; CRLs at `${base}/crl/<caId>.crl`, OCSP at `${base}/ocsp`. */
  readonly baseUrl: string;
}

/** Key policy for CSRs. */
export interface KeyPolicy {
  readonly allowEcdsa: readonly ('P-256' | 'P-384')[];
  readonly allowEd25519: boolean;
  /** Smallest RSA modulus accepted; 0 refuses RSA. */
  readonly rsaMinBits: number;
}

/** The default key policy: P-256, P-384, Ed25519 and RSA ≥ 3072 with e = 65537. */
export const DEFAULT_KEY_POLICY: KeyPolicy = {
  allowEcdsa: ['P-256', 'P-384'],
  allowEd25519: true,
  rsaMinBits: 3072,
};

/** Tunables of the PKI service. */
export interface PkiOptions {
  readonly urls: PkiUrls;
  readonly keyPolicy?: KeyPolicy;
  /** CRL lifetime (nextUpdate - thisUpdate), default 24 h. */
  readonly crlValidityMs?: number;
  /** OCSP response lifetime, default 1 h; cached responses are re-signed after a quarter of it. */
  readonly ocspValidityMs?: number;
  /** How long an OCSP process trusts its view of a CA's revocation epoch, default 1 s. */
  readonly ocspEpochTtlMs?: number;
  /** Most cached OCSP responses per process, default 100 000. */
  readonly ocspCacheSize?: number;
  /** Validity of delegated OCSP responder certificates (id-pkix-ocsp-nocheck: keep short), default 90 days. */
  readonly ocspSignerValidityDays?: number;
  /** Renew a responder certificate when less than this fraction of its validity is left, default 1/3. */
  readonly ocspSignerRenewFraction?: number;
}
