import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { KeyStore } from '../keys/types.ts';
import type { Store } from '../store/database.ts';

/** The core parts the firmware services are built from. */
export interface FirmwareDeps {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly clock: Clock;
}

/** Who acts, for audit entries, and in which tenant. */
export interface FirmwareActor {
  readonly actor: string;
  readonly tenantId: string;
}

/** Image parameters a signing request carries (the JSON form of ImageSpec minus payload and key). */
export interface SignParams {
  /** `major.minor.revision+build`. */
  readonly version: string;
  readonly securityCounter?: number;
  readonly headerSize?: number;
  readonly loadAddr?: number;
  /** Hex 16-byte UUIDs. */
  readonly vendorId?: string;
  readonly classId?: string;
  readonly publicKeyFormat?: 'hash' | 'full';
}

/** A signed image as stored. */
export interface FirmwareImage {
  /** Hex SHA-256 of the image file (id, TUF target hash). */
  readonly digest: string;
  /** Hex MCUboot image hash (what the signature covers). */
  readonly imageHash: string;
  readonly tenantId: string;
  readonly keyId: string;
  readonly version: string;
  readonly securityCounter: number;
  readonly size: number;
  readonly signedBy: string;
  readonly createdAt: string;
}

/** A signing request, possibly waiting for approvals. */
export interface SigningRequest {
  readonly id: string;
  readonly keyId: string;
  readonly requestedBy: string;
  /** Hex MCUboot image hash the signature covers. */
  readonly digest: string;
  readonly approvalsRequired: number;
  readonly approvals: readonly string[];
  readonly state: 'pending' | 'signed';
  readonly imageDigest: string | null;
}
