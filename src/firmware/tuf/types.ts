/** TUF metadata (specification 1.0.x) as Imprint writes and reads it. */

/** The TUF spec version Imprint writes. */
export const SPEC_VERSION = '1.0.31';

/** The four top-level roles. */
export const TOP_ROLES = ['root', 'targets', 'snapshot', 'timestamp'] as const;
/** One of TOP_ROLES. */
export type TopRole = (typeof TOP_ROLES)[number];

/** A public key in TUF form. */
export interface TufKey {
  readonly keytype: 'ed25519' | 'ecdsa';
  readonly scheme: 'ed25519' | 'ecdsa-sha2-nistp256';
  readonly keyval: { readonly public: string };
}

/** One signature over the canonical `signed` object. */
export interface TufSignature {
  readonly keyid: string;
  readonly sig: string;
}

/** A signed metadata document. */
export interface Envelope<T> {
  readonly signatures: readonly TufSignature[];
  readonly signed: T;
}

/** Fields every role's `signed` object has. */
export interface CommonSigned {
  readonly _type: string;
  readonly spec_version: string;
  readonly version: number;
  /** ISO-8601 UTC without fractions, e.g. 2030-01-01T00:00:00Z. */
  readonly expires: string;
}

/** Which keys may sign a role, and how many must. */
export interface RoleKeys {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

/** root.json `signed`. */
export interface RootSigned extends CommonSigned {
  readonly _type: 'root';
  readonly consistent_snapshot: boolean;
  readonly keys: Readonly<Record<string, TufKey>>;
  readonly roles: Readonly<Record<TopRole, RoleKeys>>;
}

/** Custom target metadata binding an image to hardware. */
export interface FirmwareTargetCustom {
  readonly hardwareModel: string;
  readonly modelId: string;
  readonly version: string;
  readonly securityCounter: number;
  /** Hex MCUboot image hash. */
  readonly imageHash: string;
}

/** One target file. */
export interface TargetFile {
  readonly length: number;
  readonly hashes: { readonly sha256: string };
  readonly custom?: FirmwareTargetCustom;
}

/** A delegation to a role that may list targets under `paths`. */
export interface DelegatedRole extends RoleKeys {
  readonly name: string;
  readonly terminating: boolean;
  readonly paths: readonly string[];
}

/** targets.json (or a delegated role's) `signed`. */
export interface TargetsSigned extends CommonSigned {
  readonly _type: 'targets';
  readonly targets: Readonly<Record<string, TargetFile>>;
  readonly delegations?: {
    readonly keys: Readonly<Record<string, TufKey>>;
    readonly roles: readonly DelegatedRole[];
  };
}

/** A role's version (and optionally length and hashes) as snapshot/timestamp list it. */
export interface MetaFile {
  readonly version: number;
  readonly length?: number;
  readonly hashes?: { readonly sha256: string };
}

/** snapshot.json `signed`. */
export interface SnapshotSigned extends CommonSigned {
  readonly _type: 'snapshot';
  readonly meta: Readonly<Record<string, MetaFile>>;
}

/** timestamp.json `signed`. */
export interface TimestampSigned extends CommonSigned {
  readonly _type: 'timestamp';
  readonly meta: Readonly<Record<string, MetaFile>>;
}

/** Formats a date as TUF expects (seconds precision, Z). */
export function tufTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}
