/** Row types of the foundation tables (registry, tokens, keys, certificates). Timestamps are ISO-8601 UTC text. */

export interface TenantsTable {
  id: string;
  name: string;
  kind: 'manufacturer' | 'owner';
  created_at: string;
}

export interface DeviceModelsTable {
  id: string;
  tenant_id: string;
  name: string;
  description: string;
  created_at: string;
}

export interface DevicesTable {
  id: string;
  serial: string;
  /** The tenant that made the device; never changes. */
  manufacturer_id: string;
  /** The tenant that currently owns the record (manufacturer until sold). */
  tenant_id: string;
  model_id: string;
  state: string;
  /** SHA-256 (hex) of the identity key's SubjectPublicKeyInfo, once known. */
  identity_key_fingerprint: string | null;
  batch_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface BatchesTable {
  id: string;
  tenant_id: string;
  model_id: string;
  station_id: string | null;
  /** Number of identities the batch may mint. */
  quantity: number;
  /** Identities minted so far (the quota counter). */
  issued: number;
  state: 'open' | 'closed';
  not_before: string;
  not_after: string;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  tenant_id: string;
  name: string;
  role: string;
  /** SHA-256 of the token secret; the secret itself is never stored. */
  secret_hash: Uint8Array;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_by: string;
}

export interface KeysTable {
  id: string;
  label: string;
  algorithm: string;
  backend: 'software' | 'pkcs11';
  /** DER SubjectPublicKeyInfo. */
  public_key: Uint8Array;
  /** software backend: AES-256-GCM(KEK, PKCS#8) as nonce ‖ ciphertext ‖ tag; null on pkcs11. */
  wrapped_private: Uint8Array | null;
  /** pkcs11 backend: hex CKA_ID of the key pair in the token; null on software. */
  pkcs11_id: string | null;
  created_at: string;
  destroyed_at: string | null;
}

export interface CertificatesTable {
  id: string;
  tenant_id: string;
  /** Issuing CA id (null for certificates imported from elsewhere). */
  ca_id: string | null;
  device_id: string | null;
  profile: string;
  /** Serial number as lower-case hex without leading zeros. */
  serial_hex: string;
  subject: string;
  issuer: string;
  not_before: string;
  not_after: string;
  /** SHA-256 (hex) of the SubjectPublicKeyInfo. */
  spki_sha256: string;
  der: Uint8Array;
  status: 'good' | 'revoked';
  revoked_at: string | null;
  revocation_reason: number | null;
  created_at: string;
}

/** The foundation part of the schema. */
export interface FoundationSchema {
  tenants: TenantsTable;
  device_models: DeviceModelsTable;
  devices: DevicesTable;
  batches: BatchesTable;
  api_tokens: ApiTokensTable;
  keys: KeysTable;
  certificates: CertificatesTable;
}
