import { createHash } from 'node:crypto';
import { ImprintError, InternalError } from '../core/errors.ts';
import { bytesEqual, toHex } from '../core/encoding.ts';
import type { Fuses } from '../device/types.ts';
import type { LinkClient } from './link/client.ts';
import { LinkError } from './link/errors.ts';
import { isRecord } from './link/messages.ts';
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
  let step = 'handshake';
  const hello = await link.hello();
  const serial = str(hello.serial, link.device, step);
  const model = str(hello.model, serial, step);
  const fuses = hello.fuses as Fuses;
  step = 'begin';
  const begun = await api
    .begin({ batchId: o.batchId, serial, model })
    .catch((e: unknown) => rethrow(e, serial, step));
  if (begun.state === 'completed') return { serial, deviceId: begun.deviceId, outcome: 'already' };
  if (fuses.provisioned && begun.state !== 'issued') {
    throw new LinkError(
      'ERR_FACTORY_DEVICE_LOCKED',
      { device: serial, step: 'read-id' },
      'the device is already provisioned (lock bit set)',
      { status: 409 },
    );
  }
  try {
    let identity;
    if (!fuses.provisioned) {
      step = 'identity';
      const publicKey = bytes((await link.request('identity.generate', {}, step)).publicKey, serial, step);
      step = 'csr';
      const csr = bytes((await link.request('identity.csr', {}, step)).csr, serial, step);
      step = 'issue';
      identity = await api.issue({ batchId: o.batchId, serial, publicKey, csr });
      step = 'secrets';
      const tk = await link.request('transport.key', {}, step);
      const sealed = await api.seal({
        batchId: o.batchId,
        serial,
        transportPublicKey: bytes(tk.publicKey, serial, step),
        signature: bytes(tk.signature, serial, step),
      });
      await link.request('secrets.install', { enc: sealed.enc, ciphertext: sealed.ciphertext }, step);
      step = 'firmware';
      await writeFirmware(link, await firmwareFor(api, o), o.chunkSize ?? 4096);
      step = 'config';
      await link.request('config.write', { config: identity.config }, step);
      step = 'fuses';
      await link.request('fuses.burn', { names: ['secureBoot', 'debugLocked', 'provisioned'] }, step);
    }
    step = 'readback';
    const readback = toReadback(await link.request('status', {}, step), serial, step);
    step = 'complete';
    const done = await api.complete({ batchId: o.batchId, serial, readback });
    return {
      serial,
      deviceId: done.deviceId,
      outcome: 'provisioned',
      fingerprint: done.fingerprint,
      claimCode: done.claimCode,
      ...(identity === undefined ? {} : { certificate: identity.certificate, chain: identity.chain }),
    };
  } catch (e) {
    const err =
      e instanceof ImprintError
        ? e
        : new InternalError('ERR_FACTORY_STATION_INTERNAL', 'the station failed internally', { cause: e });
    await api
      .abort({ batchId: o.batchId, serial, step, code: err.code, message: err.message })
      .catch(() => undefined);
    return rethrow(err, serial, step);
  }
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

async function writeFirmware(link: LinkClient, fw: FirmwareBundle, chunk: number): Promise<void> {
  await link.request('rotpk.burn', { publicKey: fw.signerPublicKey }, 'firmware');
  const sha256 = new Uint8Array(createHash('sha256').update(fw.image).digest());
  await link.request('firmware.begin', { size: fw.image.length, sha256 }, 'firmware');
  for (let off = 0; off < fw.image.length; off += chunk) {
    await link.request(
      'firmware.chunk',
      { offset: off, data: fw.image.subarray(off, off + chunk) },
      'firmware',
    );
  }
  await link.request(
    'firmware.commit',
    { signature: fw.signature, publicKey: fw.signerPublicKey },
    'firmware',
  );
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
