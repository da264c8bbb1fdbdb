import { createHash } from 'node:crypto';
import { ImprintError, InternalError } from '../core/errors.ts';
import { bytesEqual, fromHex, toHex } from '../core/encoding.ts';
import type { Fuses } from '../device/types.ts';
import type { LinkCall, LinkClient } from './link/client.ts';
import { LinkError } from './link/errors.ts';
import { isRecord } from './link/messages.ts';
import { digestOf } from './runs.ts';
import type { FactoryApi, FirmwareBundle, Readback } from './types.ts';

/** Outcome of one device at the station. */
export interface ProvisionResult {
  readonly serial: string;
  readonly deviceId: string;
  /** `provisioned` now, or `already` when a previous run had finished it. */
  readonly outcome: 'provisioned' | 'already';
  readonly fingerprint?: string;
  readonly claimCode?: string;
  readonly certificate?: Uint8Array;
  readonly chain?: Uint8Array[];
}

/** Tunables of the station flow. */
export interface StationOptions {
  readonly batchId: string;
  /** Firmware bytes per link request (default 4096; a frame holds up to MAX_FRAME). */
  readonly chunkSize?: number;
  /** Fetches the batch firmware once and shares it between devices. */
  readonly firmwareCache?: Map<string, Promise<FirmwareBundle>>;
}

/**
 * Provisions the device on the other end of `link`: read ID and model, identity key + CSR, IDevID,
 * sealed secrets, firmware + config, fuses, read-back, completion. Any failure after the server
 * opened the run aborts it there (identity revoked, nothing marked provisioned) and is rethrown as a
 * LinkError naming the device and step. Throws ERR_FACTORY_DEVICE_LOCKED, ERR_FACTORY_CSR_KEY_MISMATCH,
 * ERR_FACTORY_READBACK_MISMATCH, every LinkError code and every server code.
 */
export async function provisionDevice(
  link: LinkClient,
  api: FactoryApi,
  o: StationOptions,
): Promise<ProvisionResult> {
  const at = { step: 'handshake' };
  const hello = await link.hello();
  const serial = str(hello.serial, link.device, at.step);
  const model = str(hello.model, serial, at.step);
  const fuses = hello.fuses as Fuses;
  if (fuses.provisioned) return finishLocked(link, api, o, serial, model);
  // Everything the server needs is read from the device first, so the server is called twice per
  // device: start (begin + issue + seal) and complete.
  let undo = true;
  try {
    // One link round trip on a v2 device (the calls travel in one frame), three on v1.
    const [gen, made, tk] = await calls(link, at, [
      { method: 'identity.generate', params: {}, step: 'identity' },
      { method: 'identity.csr', params: {}, step: 'csr' },
      { method: 'transport.key', params: {}, step: 'secrets' },
    ]);
    const publicKey = bytes(gen!.publicKey, serial, 'identity');
    const csr = bytes(made!.csr, serial, 'csr');
    const transportPublicKey = bytes(tk!.publicKey, serial, 'secrets');
    const signature = bytes(tk!.signature, serial, 'secrets');
    at.step = 'issue';
    const started = await api
      .start({ batchId: o.batchId, serial, model, publicKey, csr, transportPublicKey, signature })
      .catch((e: unknown) => {
        if (e instanceof ImprintError && BEGIN_REFUSALS.has(e.code)) {
          // Refused by begin's checks, before this attempt wrote anything: nothing to undo.
          at.step = 'begin';
          undo = false;
        } else if (e instanceof ImprintError && SEAL_REFUSALS.test(e.code)) {
          at.step = 'secrets';
        }
        throw e;
      });
    if (started.state === 'completed') return { serial, deviceId: started.deviceId, outcome: 'already' };
    const { identity, sealed } = started;
    if (identity === undefined || sealed === undefined) {
      throw new InternalError(
        'ERR_FACTORY_STATION_INTERNAL',
        'the server answered start without an identity',
      );
    }
    // Everything the device is written, in order; the device stops at the first refusal, as the
    // station would have. The fuses (irreversible) go in a frame of their own, sent only once the
    // station holds the device's results for everything before them: a link lost earlier must leave
    // the device unlocked, as on link v1. The read-back rides with them, after the burn.
    await calls(link, at, [
      // The device keeps its IDevID chain with the key, to present it in mutual TLS (SZTP, EST).
      {
        method: 'identity.store',
        params: { certificate: identity.certificate, chain: identity.chain },
        step: 'issue',
      },
      {
        method: 'secrets.install',
        params: { enc: sealed.enc, ciphertext: sealed.ciphertext },
        step: 'secrets',
      },
      ...firmwareCalls(await firmwareFor(api, o), o.chunkSize ?? 4096),
      { method: 'config.write', params: { config: identity.config }, step: 'config' },
    ]);
    const [, status] = await calls(link, at, [
      {
        method: 'fuses.burn',
        params: { names: ['secureBoot', 'debugLocked', 'provisioned'] },
        step: 'fuses',
      },
      { method: 'status', params: {}, step: 'readback' },
    ]);
    const done = await complete(api, o, serial, at, status!);
    return { ...done, certificate: identity.certificate, chain: identity.chain };
  } catch (e) {
    if (!undo) return rethrow(e, serial, at.step);
    return abortAndRethrow(api, o, serial, at.step, e);
  }
}

/** Codes of begin's checks: a start refused with one of them left nothing of this attempt behind. */
const BEGIN_REFUSALS = new Set([
  'ERR_BATCH_NOT_FOUND',
  'ERR_FACTORY_STATION_NOT_ASSIGNED',
  'ERR_FACTORY_BATCH_CLOSED',
  'ERR_FACTORY_BATCH_WINDOW',
  'ERR_FACTORY_MODEL_MISMATCH',
  'ERR_FACTORY_DEVICE_PROVISIONED',
  'ERR_FACTORY_DEVICE_OTHER_BATCH',
  'ERR_DEVICE_SERIAL_INVALID',
]);

/** Codes of the sealing part of start (reported at the station's `secrets` step, as before start). */
const SEAL_REFUSALS = /^ERR_(FACTORY_TRANSPORT_KEY_UNVERIFIED|HPKE_)/;

/** A device whose lock bit is set: only a run that had issued its identity (then crashed) may finish. */
async function finishLocked(
  link: LinkClient,
  api: FactoryApi,
  o: StationOptions,
  serial: string,
  model: string,
): Promise<ProvisionResult> {
  const begun = await api
    .begin({ batchId: o.batchId, serial, model })
    .catch((e: unknown) => rethrow(e, serial, 'begin'));
  if (begun.state === 'completed') return { serial, deviceId: begun.deviceId, outcome: 'already' };
  if (begun.state !== 'issued') {
    throw new LinkError(
      'ERR_FACTORY_DEVICE_LOCKED',
      { device: serial, step: 'read-id' },
      'the device is already provisioned (lock bit set)',
      { status: 409 },
    );
  }
  const at = { step: 'readback' };
  try {
    return await readbackAndComplete(link, api, o, serial, at);
  } catch (e) {
    return abortAndRethrow(api, o, serial, at.step, e);
  }
}

async function readbackAndComplete(
  link: LinkClient,
  api: FactoryApi,
  o: StationOptions,
  serial: string,
  at: { step: string },
): Promise<ProvisionResult> {
  at.step = 'readback';
  return complete(api, o, serial, at, await link.request('status', {}, at.step));
}

/** Completes the run on the server with the device's read-back (its `status` reply). */
async function complete(
  api: FactoryApi,
  o: StationOptions,
  serial: string,
  at: { step: string },
  status: Record<string, unknown>,
): Promise<ProvisionResult> {
  at.step = 'readback';
  const readback = toReadback(status, serial, at.step);
  at.step = 'complete';
  const done = await api.complete({ batchId: o.batchId, serial, readback });
  return {
    serial,
    deviceId: done.deviceId,
    outcome: 'provisioned',
    fingerprint: done.fingerprint,
    claimCode: done.claimCode,
  };
}

/** Runs link calls in order; on failure `at.step` names the call that failed (or could not be sent). */
async function calls(
  link: LinkClient,
  at: { step: string },
  list: readonly LinkCall[],
): Promise<Record<string, unknown>[]> {
  at.step = list[0]?.step ?? at.step;
  try {
    return await link.batch(list);
  } catch (e) {
    if (e instanceof LinkError) at.step = e.step;
    throw e;
  }
}

/** Aborts the device's run on the server (revoking what was issued), then rethrows as a LinkError. */
async function abortAndRethrow(
  api: FactoryApi,
  o: StationOptions,
  serial: string,
  step: string,
  e: unknown,
): Promise<never> {
  const err =
    e instanceof ImprintError
      ? e
      : new InternalError('ERR_FACTORY_STATION_INTERNAL', 'the station failed internally', { cause: e });
  await api
    .abort({ batchId: o.batchId, serial, step, code: err.code, message: err.message })
    .catch(() => undefined);
  return rethrow(err, serial, step);
}

async function firmwareFor(api: FactoryApi, o: StationOptions): Promise<FirmwareBundle> {
  const cache = o.firmwareCache;
  let p = cache?.get(o.batchId);
  if (p === undefined) {
    p = api.firmware(o.batchId);
    cache?.set(o.batchId, p);
    p.catch(() => cache?.delete(o.batchId));
  }
  return p;
}

/** The calls that burn the root of trust and write the firmware in chunks, ending with its commit. */
function firmwareCalls(fw: FirmwareBundle, chunk: number): LinkCall[] {
  const sha256 = fromHex(digestOf(fw.image));
  const out: LinkCall[] = [
    { method: 'rotpk.burn', params: { publicKey: fw.signerPublicKey }, step: 'firmware' },
    { method: 'firmware.begin', params: { size: fw.image.length, sha256 }, step: 'firmware' },
  ];
  for (let off = 0; off < fw.image.length; off += chunk) {
    out.push({
      method: 'firmware.chunk',
      params: { offset: off, data: fw.image.subarray(off, off + chunk) },
      step: 'firmware',
    });
  }
  out.push({ method: 'firmware.commit', params: {}, step: 'firmware' });
  return out;
}

function toReadback(s: Record<string, unknown>, serial: string, step: string): Readback {
  if (!isRecord(s.fuses) || !Array.isArray(s.secrets)) throw garbage(serial, step);
  const f = s.fuses;
  return {
    fuses: {
      secureBoot: f.secureBoot === true,
      debugLocked: f.debugLocked === true,
      provisioned: f.provisioned === true,
    },
    identityPublicKey: optBytes(s.identityPublicKey),
    firmwareSha256: optBytes(s.firmwareSha256),
    configSha256: optBytes(s.configSha256),
    rotpkHash: optBytes(s.rotpkHash),
    secrets: s.secrets.filter((x): x is string => typeof x === 'string'),
  };
}

/** True when two readbacks' fingerprints agree (used by tests and the CLI summary). */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

function rethrow(e: unknown, serial: string, step: string): never {
  if (e instanceof LinkError) throw e;
  if (e instanceof ImprintError) {
    throw new LinkError(e.code, { device: serial, step }, e.message, { status: e.status, cause: e });
  }
  throw new LinkError(
    'ERR_FACTORY_STATION_INTERNAL',
    { device: serial, step },
    'the station failed internally',
    { status: 500, cause: e },
  );
}

function str(v: unknown, serial: string, step: string): string {
  if (typeof v !== 'string' || v.length === 0) throw garbage(serial, step);
  return v;
}

function bytes(v: unknown, serial: string, step: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw garbage(serial, step);
  return v;
}

function optBytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

function garbage(serial: string, step: string): LinkError {
  return new LinkError(
    'ERR_LINK_BAD_MESSAGE',
    { device: serial, step },
    'the device replied with a malformed message',
  );
}

/** Hex SHA-256 of an SPKI (the identity fingerprint). */
export function fingerprintOf(spki: Uint8Array): string {
  return toHex(new Uint8Array(createHash('sha256').update(spki).digest()));
}
