/** Row types of the factory tables (stations, provisioning runs, claim codes, manifests). */

export interface StationsTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: string;
  disabled_at: string | null;
}

/** One device's provisioning run; the crash-safe record a re-run resumes from. */
export interface FactoryRunsTable {
  device_id: string;
  batch_id: string;
  station_id: string;
  serial: string;
  state: 'started' | 'issued' | 'completed' | 'failed';
  certificate_id: string | null;
  spki_sha256: string | null;
  config_sha256: string | null;
  /** JSON {name: sha256 hex} of the sealed secrets; never the secrets. */
  secret_digests: string | null;
  /** JSON of the fuses read back at completion. */
  fuses: string | null;
  attempts: number;
  /** 1 while this device holds one unit of its batch's quota (counted once, returned on failure). */
  quota_counted: number;
  /** `step: CODE` of the last failure. */
  last_error: string | null;
  started_at: string;
  updated_at: string;
}

export interface ClaimCodesTable {
  device_id: string;
  /** SHA-256 hex of the one-time claim code. */
  code_hash: string;
  created_at: string;
  claimed_at: string | null;
  claimed_by: string | null;
}

export interface BatchManifestsTable {
  id: string;
  batch_id: string;
  tenant_id: string;
  devices: number;
  jws: string;
  created_at: string;
}

/** The factory part of the schema. */
export interface FactorySchema {
  stations: StationsTable;
  factory_runs: FactoryRunsTable;
  claim_codes: ClaimCodesTable;
  batch_manifests: BatchManifestsTable;
}
