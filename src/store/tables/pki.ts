/** Row types of the PKI tables (CAs and published CRLs). Timestamps are ISO-8601 UTC text. */

export interface CasTable {
  id: string;
  tenant_id: string;
  name: string;
  role: 'root' | 'manufacturer' | 'operational' | 'code-signing' | 'tls';
  /** Key-store id of the CA key; null when the key was exported and taken offline. */
  key_id: string | null;
  key_algorithm: string;
  /** DER CA certificate. */
  certificate: Uint8Array;
  parent_id: string | null;
  state: 'active' | 'offline' | 'retired';
  subject: string;
  serial_hex: string;
  not_before: string;
  not_after: string;
  /** Number of the last CRL published; 0 before the first. */
  crl_number: number;
  /** When the current CRL must be replaced (its nextUpdate minus a margin); null when none. */
  next_crl_at: string | null;
  /** Incremented in the same transaction as every revocation; OCSP caches compare against it. */
  revocation_epoch: number;
  /** Key-store id of the delegated OCSP responder key. */
  ocsp_key_id: string | null;
  /** certificates.id of the delegated OCSP responder certificate. */
  ocsp_cert_id: string | null;
  created_at: string;
}

export interface CrlsTable {
  ca_id: string;
  crl_number: number;
  this_update: string;
  next_update: string;
  der: Uint8Array;
}

/** The PKI part of the schema. */
export interface PkiSchema {
  cas: CasTable;
  crls: CrlsTable;
}
