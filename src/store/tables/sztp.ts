/** Row types of the SZTP tables (RFC 8572 bootstrap server state). Timestamps are ISO-8601 UTC text. */

/** An owner's SZTP identity: certificate chain and (where it signs) its key. */
export interface SztpOwnersTable {
  id: string;
  tenant_id: string;
  name: string;
  /** KeyStore id of the owner's signing key; null on a server that only redirects to the owner. */
  key_id: string | null;
  /** JSON array of base64 DER certificates, owner certificate first, up to and including the pinned domain cert. */
  chain: string;
  /** DER of the pinned-domain-cert put in vouchers (the last certificate of `chain`). */
  pinned_domain_cert: Uint8Array;
  created_at: string;
}

/** A manufacturer's voucher-signing (MASA) key. */
export interface SztpMasaTable {
  /** The manufacturer tenant whose vouchers this key signs. */
  tenant_id: string;
  key_id: string;
  /** JSON array of base64 DER certificates, MASA certificate first. */
  chain: string;
  voucher_validity_days: number;
  created_at: string;
}

/** A CA that issues a manufacturer's IDevIDs (device mTLS trust). */
export interface SztpManufacturerCasTable {
  id: string;
  tenant_id: string;
  der: Uint8Array;
  subject: string;
  created_at: string;
}

/** Which owner a device belongs to. */
export interface SztpBindingsTable {
  device_id: string;
  owner_id: string;
  created_at: string;
}

/** Onboarding or redirect information for a device, model or owner. */
export interface SztpOnboardingTable {
  id: string;
  owner_id: string;
  /** device | model | owner: the most specific record wins. */
  scope: string;
  /** Device id, model id, or owner id. */
  scope_id: string;
  /** JSON of the onboarding or redirect information (binary fields base64). */
  document: string;
  /** onboarding | redirect. */
  kind: string;
  encoding: string;
  encrypt: number;
  /** 1: ask devices for a CSR (RFC 9646) and convey an LDevID in the configuration. */
  ldevid: number;
  updated_at: string;
}

/** One bootstrapping request or progress report. */
export interface SztpLogTable {
  id: string;
  device_id: string;
  owner_id: string | null;
  /** request | progress. */
  kind: string;
  progress_type: string | null;
  message: string | null;
  /** JSON object; never holds secrets. */
  details: string;
  created_at: string;
}

/** A URL called on each progress report of an owner's devices. */
export interface SztpWebhooksTable {
  id: string;
  owner_id: string;
  url: string;
  created_at: string;
}

/** A voucher imported on the owner's server. */
export interface SztpVouchersTable {
  id: string;
  device_id: string;
  owner_id: string;
  /** The CMS-signed voucher as issued by the manufacturer's MASA. */
  cms: Uint8Array;
  expires_at: string;
  created_at: string;
}

/** A device's HTTP Basic secret (hashed). */
export interface SztpDeviceSecretsTable {
  device_id: string;
  /** scrypt salt (16 bytes) ‖ hash (32 bytes) of the device's HTTP Basic secret. */
  secret_hash: Uint8Array;
  created_at: string;
}

/** The SZTP context generation (one row, id 1), bumped by trigger on every SZTP binding/owner/record/MASA change. */
export interface SztpGenerationTable {
  id: number;
  n: number;
}

/** The SZTP part of the schema. */
export interface SztpSchema {
  sztp_owners: SztpOwnersTable;
  sztp_masa: SztpMasaTable;
  sztp_manufacturer_cas: SztpManufacturerCasTable;
  sztp_bindings: SztpBindingsTable;
  sztp_onboarding: SztpOnboardingTable;
  sztp_log: SztpLogTable;
  sztp_webhooks: SztpWebhooksTable;
  sztp_vouchers: SztpVouchersTable;
  sztp_device_secrets: SztpDeviceSecretsTable;
  sztp_generation: SztpGenerationTable;
}
