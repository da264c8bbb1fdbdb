import { createHash } from 'node:crypto';
import { toHex } from '../core/encoding.ts';
import { FUSE_NAMES } from '../device/types.ts';
import type { FactoryRunsTable } from '../store/tables/factory.ts';
import { encodeCbor } from './link/cbor-encode.ts';
import type { FirmwareBundle, Readback } from './types.ts';

/** What differs between a device's read-back and what the server issued and wrote; empty when all agree. */
export function readbackProblems(run: FactoryRunsTable, fw: FirmwareBundle, rb: Readback): string[] {
  const digests = JSON.parse(run.secret_digests ?? '{}') as Record<string, string>;
  const wrong: string[] = [];
  for (const f of FUSE_NAMES) if (rb.fuses[f] !== true) wrong.push(`fuse ${f}`);
  if (sha256Hex(rb.identityPublicKey) !== run.spki_sha256) wrong.push('identity key');
  if (toHex(rb.firmwareSha256) !== digestOf(fw.image)) wrong.push('firmware');
  if (toHex(rb.configSha256) !== run.config_sha256) wrong.push('config');
  if (toHex(rb.rotpkHash) !== digestOf(fw.signerPublicKey)) wrong.push('root of trust');
  const names = Object.keys(digests);
  if (names.length === 0 || !names.every((n) => rb.secrets.includes(n))) wrong.push('secrets');
  return wrong;
}

/** A fresh run row. */
export function newRun(
  deviceId: string,
  batchId: string,
  stationId: string,
  serial: string,
  now: string,
): FactoryRunsTable {
  return {
    device_id: deviceId,
    batch_id: batchId,
    station_id: stationId,
    serial,
    state: 'started',
    certificate_id: null,
    spki_sha256: null,
    config_sha256: null,
    secret_digests: null,
    fuses: null,
    attempts: 1,
    quota_counted: 0,
    last_error: null,
    started_at: now,
    updated_at: now,
  };
}

/** The per-device configuration (deterministic, so a resumed run writes the same bytes). */
export function deviceConfig(c: {
  serial: string;
  deviceId: string;
  batchId: string;
  /** The manufacturer tenant and model id: where the device's update agent finds its TUF role. */
  tenantId: string;
  modelId: string;
  model: string;
  certificateId: string;
}): Uint8Array {
  return encodeCbor({
    v: 1,
    serial: c.serial,
    deviceId: c.deviceId,
    batchId: c.batchId,
    tenantId: c.tenantId,
    modelId: c.modelId,
    model: c.model,
    idevid: c.certificateId,
  });
}

// SHA-256 hex of the batch's image and signer key, once per bundle (the bundle's bytes are never
// changed after it is made; a new bundle is a new object and is hashed afresh).
const bundleDigests = new WeakMap<Uint8Array, string>();

/** SHA-256 hex of bytes that stay unchanged while referenced (a firmware bundle's image or key). */
export function digestOf(b: Uint8Array): string {
  let d = bundleDigests.get(b);
  if (d === undefined) {
    d = sha256Hex(b);
    bundleDigests.set(b, d);
  }
  return d;
}

/** SHA-256 hex. */
export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
