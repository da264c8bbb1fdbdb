import { createHash } from 'node:crypto';
import { ConflictError, ImprintError, ValidationError } from '../core/errors.ts';
import { bytesEqual, toHex } from '../core/encoding.ts';
import { IMAGE_COUNTER } from '../firmware/boot/adapter.ts';
import { verifyBootImage } from '../firmware/boot/verify.ts';
import { buildIdentityCsr } from './csr.ts';
import { secretsInfo, transportKeyStatement } from './hpke.ts';
import type { SimulatedDevice } from './simulator.ts';

/** HPKE additional data of factory secrets (the info already binds the serial). */
export const SECRETS_AAD = new TextEncoder().encode('imprint/factory-secrets');
const MAX_IMAGE = 16 * 1024 * 1024;

/**
 * The device's half of the factory protocol: answers link requests by acting on the simulated
 * device (secure element, fuses, flash). Mutating requests are refused once the provisioned lock
 * bit is set. Throws (relayed to the station) ERR_DEVICE_LOCKED, ERR_AGENT_BAD_PARAMS,
 * ERR_AGENT_UNKNOWN_METHOD, ERR_DEVICE_FIRMWARE_INCOMPLETE, ERR_DEVICE_FIRMWARE_SIGNATURE,
 * ERR_DEVICE_ROTPK_MISMATCH, and the simulator's and secure element's codes (ERR_SE_CERT_KEY_MISMATCH when
 * the stored IDevID certifies another key).
 */
export class DeviceAgent {
  readonly #d: SimulatedDevice;
  #image: { data: Uint8Array; received: number; sha256: Uint8Array } | undefined;

  constructor(device: SimulatedDevice) {
    this.#d = device;
  }

  /** The link handler. */
  readonly handle = async (method: string, p: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const d = this.#d;
    const se = d.secureElement;
    switch (method) {
      case 'hello':
        return { uid: d.uid, serial: d.serial, model: d.model, fuses: d.fuses() };
      case 'status':
        return this.#status();
      case 'identity.generate': {
        this.#unlocked();
        const existing = await se.identityPublicKey();
        // Re-using an existing key keeps a resumed run from minting a second identity for this device.
        const publicKey =
          existing !== undefined && p.fresh !== true ? existing : await se.generateIdentityKey();
        return { publicKey };
      }
      case 'identity.csr':
        this.#unlocked();
        return { csr: await buildIdentityCsr(se, d.serial) };
      case 'identity.store': {
        // The IDevID and its CA chain, kept with the key: the device presents them in mutual TLS (SZTP).
        this.#unlocked();
        const chain = p.chain ?? [];
        if (!Array.isArray(chain) || !chain.every((c) => c instanceof Uint8Array)) {
          throw new ValidationError('ERR_AGENT_BAD_PARAMS', 'chain must be a list of certificates');
        }
        await se.storeIdentityChain([bytes(p, 'certificate'), ...chain]);
        return { stored: 1 + chain.length };
      }
      case 'transport.key': {
        const publicKey = await se.transportPublicKey();
        return { publicKey, signature: await se.sign(transportKeyStatement(d.serial, publicKey)) };
      }
      case 'secrets.install': {
        this.#unlocked();
        const names = await se.openSealed(
          { enc: bytes(p, 'enc'), ciphertext: bytes(p, 'ciphertext') },
          secretsInfo(d.serial),
          SECRETS_AAD,
        );
        return { names };
      }
      case 'rotpk.burn':
        this.#unlocked();
        d.burnRotpkHash(sha256(bytes(p, 'publicKey')));
        return { rotpkHash: d.rotpkHash() ?? new Uint8Array(32) };
      case 'firmware.begin': {
        this.#unlocked();
        const size = p.size;
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0 || size > MAX_IMAGE) {
          throw new ValidationError('ERR_AGENT_BAD_PARAMS', 'firmware size is invalid');
        }
        this.#image = { data: new Uint8Array(size), received: 0, sha256: bytes(p, 'sha256') };
        return {};
      }
      case 'firmware.chunk':
        return this.#chunk(p);
      case 'firmware.commit':
        return this.#commit();
      case 'config.write':
        this.#unlocked();
        d.writeSlot('config', bytes(p, 'config'));
        return { sha256: sha256(bytes(p, 'config')) };
      case 'fuses.burn': {
        const names = p.names;
        if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
          throw new ValidationError('ERR_AGENT_BAD_PARAMS', 'names must be a list of fuse names');
        }
        return { fuses: d.burnFuses(names) };
      }
      default:
        throw new ValidationError('ERR_AGENT_UNKNOWN_METHOD', `unknown method ${method}`);
    }
  };

  async #status(): Promise<Record<string, unknown>> {
    const d = this.#d;
    const fw = d.readSlot('primary');
    const cfg = d.readSlot('config');
    const idk = await d.secureElement.identityPublicKey();
    return {
      uid: d.uid,
      serial: d.serial,
      model: d.model,
      fuses: d.fuses(),
      ...(idk === undefined ? {} : { identityPublicKey: idk }),
      ...(d.rotpkHash() === undefined ? {} : { rotpkHash: d.rotpkHash() }),
      ...(fw === undefined ? {} : { firmwareSha256: sha256(fw) }),
      ...(cfg === undefined ? {} : { configSha256: sha256(cfg) }),
      secrets: await d.secureElement.secretNames(),
    };
  }

  #chunk(p: Record<string, unknown>): Record<string, unknown> {
    this.#unlocked();
    const img = this.#image;
    const data = bytes(p, 'data');
    if (img === undefined)
      throw new ConflictError('ERR_DEVICE_FIRMWARE_INCOMPLETE', 'no firmware transfer in progress');
    if (p.offset !== img.received || img.received + data.length > img.data.length) {
      throw new ValidationError('ERR_AGENT_BAD_PARAMS', `chunk offset must be ${img.received}`);
    }
    img.data.set(data, img.received);
    img.received += data.length;
    return { received: img.received };
  }

  #commit(): Record<string, unknown> {
    this.#unlocked();
    const img = this.#image;
    if (img === undefined || img.received !== img.data.length || !bytesEqual(sha256(img.data), img.sha256)) {
      throw new ConflictError(
        'ERR_DEVICE_FIRMWARE_INCOMPLETE',
        'firmware image incomplete or its hash differs',
      );
    }
    const rotpk = this.#d.rotpkHash();
    if (rotpk === undefined) {
      throw new ImprintError('ERR_DEVICE_ROTPK_MISMATCH', 403, 'no root-of-trust key is burned yet');
    }
    // The image must pass the same check the boot ROM makes on every boot, or the device would brick.
    const verdict = verifyBootImage(img.data, {
      allowedKeyHashes: [rotpk],
      minSecurityCounter: this.#d.counter(IMAGE_COUNTER),
    });
    if (!verdict.ok) {
      throw new ImprintError(
        'ERR_DEVICE_FIRMWARE_SIGNATURE',
        403,
        `firmware refused by secure boot: ${verdict.refusal.message}`,
        { details: { reason: verdict.refusal.code } },
      );
    }
    this.#d.writeSlot('primary', img.data);
    this.#image = undefined;
    return { sha256: toHex(sha256(this.#d.readSlot('primary')!)) };
  }

  #unlocked(): void {
    if (this.#d.fuses().provisioned) {
      throw new ConflictError('ERR_DEVICE_LOCKED', `device ${this.#d.serial} is provisioned (lock bit set)`);
    }
  }
}

/** SHA-256 of `b`. */
export function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

function bytes(p: Record<string, unknown>, name: string): Uint8Array {
  const v = p[name];
  if (!(v instanceof Uint8Array)) throw new ValidationError('ERR_AGENT_BAD_PARAMS', `${name} must be bytes`);
  return v;
}
