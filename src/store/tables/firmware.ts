/** Row types of the firmware feature. */

export interface FirmwareKeyPoliciesTable {
  /** KeyStore id of a release key. */
  key_id: string;
  tenant_id: string;
  /** Approvals by other release managers needed before this key signs (0 = none). */
  approvals_required: number;
  created_at: string;
}

export interface FirmwareSigningRequestsTable {
  id: string;
  tenant_id: string;
  key_id: string;
  requested_by: string;
  /** JSON of the image parameters (version, security counter, header size, ids). */
  spec: string;
  /** The raw firmware to be signed. */
  payload: Uint8Array;
  /** Hex MCUboot image hash the signature will cover. */
  digest: string;
  approvals_required: number;
  /** pending | signed */
  state: string;
  /** Hex SHA-256 of the signed image file, once signed. */
  image_digest: string | null;
  created_at: string;
}

export interface FirmwareApprovalsTable {
  request_id: string;
  approver: string;
  created_at: string;
}

export interface FirmwareImagesTable {
  /** Hex SHA-256 of the whole image file: its id, and its TUF target hash. */
  digest: string;
  /** Hex MCUboot image hash (the SHA256 TLV value, what the signature covers). */
  image_hash: string;
  tenant_id: string;
  key_id: string;
  version: string;
  security_counter: number;
  size: number;
  image: Uint8Array;
  signed_by: string;
  created_at: string;
}

export interface FirmwareReleasesTable {
  id: string;
  tenant_id: string;
  image_digest: string;
  version: string;
  security_counter: number;
  /** JSON array of device model ids. */
  model_ids: string;
  /** draft | group | percentage | all */
  stage: string;
  stage_group: string | null;
  stage_percent: number | null;
  created_at: string;
  updated_at: string;
}

export interface FirmwareDeviceGroupsTable {
  tenant_id: string;
  name: string;
  device_id: string;
}

export interface FirmwareReportsTable {
  device_id: string;
  tenant_id: string;
  version: string;
  image_digest: string;
  reported_at: string;
}

export interface TufKeysTable {
  tenant_id: string;
  /** root | targets | snapshot | timestamp | a delegated role name */
  role: string;
  key_id: string;
  tuf_key_id: string;
  /** active | revoked */
  state: string;
  created_at: string;
}

export interface TufMetadataTable {
  tenant_id: string;
  role: string;
  version: number;
  /** The signed metadata document as served (JSON text). */
  body: string;
  expires: string;
  created_at: string;
}

export interface TufTargetsTable {
  tenant_id: string;
  path: string;
  /** The delegated role that lists it. */
  role: string;
  image_digest: string;
  /** Hex SHA-256 of the target file (the whole MCUboot image). */
  sha256: string;
  /** JSON custom metadata (hardware model, version, security counter). */
  custom: string;
  created_at: string;
}

/** The firmware part of the schema. */
export interface FirmwareSchema {
  firmware_key_policies: FirmwareKeyPoliciesTable;
  firmware_signing_requests: FirmwareSigningRequestsTable;
  firmware_approvals: FirmwareApprovalsTable;
  firmware_images: FirmwareImagesTable;
  firmware_releases: FirmwareReleasesTable;
  firmware_device_groups: FirmwareDeviceGroupsTable;
  firmware_reports: FirmwareReportsTable;
  tuf_keys: TufKeysTable;
  tuf_metadata: TufMetadataTable;
  tuf_targets: TufTargetsTable;
}
