/** Records and ports of the factory floor: the station ↔ server protocol and the services behind it. */
import type { Fuses } from '../device/types.ts';

/** The station calling the factory service (from its mTLS certificate principal). */
export interface StationCaller {
  readonly stationId: string;
  readonly tenantId: string;
  /** Audit actor, e.g. `station:stn_…`. */
  readonly actor: string;
}

/** Where a device's run stands on the server. */
export type RunState = 'started' | 'issued' | 'completed' | 'failed';

export interface BeginRequest {
  readonly batchId: string;
  readonly serial: string;
  readonly model: string;
}
export interface BeginResult {
  readonly deviceId: string;
  /** `completed`: nothing left to do; `issued`: an identity exists, resume from there. */
  readonly state: 'started' | 'issued' | 'completed';
}

export interface IdentityRequest {
  readonly batchId: string;
  readonly serial: string;
  /** SPKI DER the device reported for its identity key. */
  readonly publicKey: Uint8Array;
  /** PKCS#10 DER signed by that key inside the secure element. */
  readonly csr: Uint8Array;
}
export interface IdentityResult {
  /** The IDevID, DER. */
  readonly certificate: Uint8Array;
  /** Issuing CA and its parents, DER, nearest first. */
  readonly chain: Uint8Array[];
  /** The per-device configuration (CBOR) to write to the config slot. */
  readonly config: Uint8Array;
}

export interface SealRequest {
  readonly batchId: string;
  readonly serial: string;
  /** Raw X25519 public key of the device's secure element. */
  readonly transportPublicKey: Uint8Array;
  /** Identity-key signature over transportKeyStatement(serial, key). */
  readonly signature: Uint8Array;
}
export interface SealResult {
  readonly enc: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** begin + issue + seal in one call: what the station has read from the device before its first server call. */
export interface StartRequest extends BeginRequest {
  /** SPKI DER the device reported for its identity key. */
  readonly publicKey: Uint8Array;
  /** PKCS#10 DER signed by that key inside the secure element. */
  readonly csr: Uint8Array;
  /** Raw X25519 public key of the device's secure element. */
  readonly transportPublicKey: Uint8Array;
  /** Identity-key signature over transportKeyStatement(serial, key). */
  readonly signature: Uint8Array;
}
export interface StartResult {
  readonly deviceId: string;
  /** `completed`: nothing left to do (no identity or secrets returned); otherwise where the run was. */
  readonly state: 'started' | 'issued' | 'completed';
  readonly identity?: IdentityResult;
  readonly sealed?: SealResult;
}

/** The factory image: an MCUboot image signed by the code-signing CA key (full PUBKEY TLV). */
export interface FirmwareBundle {
  readonly version: string;
  readonly image: Uint8Array;
  /** SPKI DER of the signing key (the device burns its SHA-256 as root of trust). */
  readonly signerPublicKey: Uint8Array;
}

/** What the station read back from the device after the last write. */
export interface Readback {
  readonly fuses: Fuses;
  readonly identityPublicKey: Uint8Array;
  readonly firmwareSha256: Uint8Array;
  readonly configSha256: Uint8Array;
  readonly rotpkHash: Uint8Array;
  readonly secrets: string[];
}

export interface CompleteRequest {
  readonly batchId: string;
  readonly serial: string;
  readonly readback: Readback;
}
export interface CompleteResult {
  readonly deviceId: string;
  /** SHA-256 hex of the identity SPKI. */
  readonly fingerprint: string;
  /** One-time claim code for the label (stored hashed; shown once). */
  readonly claimCode: string;
}

export interface AbortRequest {
  readonly batchId: string;
  readonly serial: string;
  readonly step: string;
  readonly code: string;
  readonly message: string;
}

/** The server side as a station sees it: in process (FactoryService) or over HTTP. */
export interface FactoryApi {
  begin(r: BeginRequest): Promise<BeginResult>;
  /** begin, issue and seal in one round trip (the station's usual path for a device not yet locked). */
  start(r: StartRequest): Promise<StartResult>;
  issue(r: IdentityRequest): Promise<IdentityResult>;
  seal(r: SealRequest): Promise<SealResult>;
  firmware(batchId: string): Promise<FirmwareBundle>;
  complete(r: CompleteRequest): Promise<CompleteResult>;
  abort(r: AbortRequest): Promise<void>;
}

/** A batch as the factory sees it. */
export interface Batch {
  readonly id: string;
  readonly tenantId: string;
  readonly modelId: string;
  readonly stationId: string | null;
  readonly quantity: number;
  readonly issued: number;
  readonly state: 'open' | 'closed';
  readonly notBefore: string;
  readonly notAfter: string;
  readonly createdAt: string;
}

/** A registered station. */
export interface Station {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly createdAt: string;
}
