import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ConflictError, ImprintError, ValidationError } from '../core/errors.ts';
import { toHex } from '../core/encoding.ts';
import { readStateFile, writeStateFile } from './state-file.ts';
import { SoftwareSecureElement } from './software-se.ts';
import type { BootStateStore } from '../firmware/boot/types.ts';
import type { TrustedMetadataStore } from '../firmware/update-client.ts';
import type { SecureElement } from './secure-element.ts';
import { FUSE_NAMES, type DeviceStateRecord, type FuseName, type Fuses, type SlotName } from './types.ts';

/** Options for a new simulated device. */
export interface CreateDeviceOptions {
  readonly model: string;
  /** Defaults to `SN-` + the first 8 bytes of the device-unique ID in hex. */
  readonly serial?: string;
  /** Skip fsync on state writes (benchmarks on throwaway devices). */
  readonly durable?: boolean;
  /** A secure element outside the state file (e.g. a PKCS#11 token), made for the device's unique ID. */
  readonly secureElement?: (uid: Uint8Array) => SecureElement;
}

/**
 * A simulated embedded device: device-unique ID, OTP fuses, monotonic counters, flash slots and a
 * software secure element, persisted in one CBOR file (atomic writes) so it survives restarts.
 * Without a path the device lives in memory only.
 */
export class SimulatedDevice {
  readonly #path: string | undefined;
  readonly #durable: boolean;
  #state: DeviceStateRecord;
  readonly secureElement: SecureElement;

  private constructor(
    path: string | undefined,
    state: DeviceStateRecord,
    durable: boolean,
    external?: (uid: Uint8Array) => SecureElement,
  ) {
    this.#path = path;
    this.#state = state;
    this.#durable = durable;
    if ((state.seKind ?? 'software') === 'pkcs11' && external === undefined) {
      throw new ImprintError(
        'ERR_DEVICE_SE_UNAVAILABLE',
        500,
        `device ${state.serial} keeps its keys in a PKCS#11 token: open it with that token`,
      );
    }
    this.secureElement =
      external?.(state.uid) ??
      new SoftwareSecureElement({
        load: () => this.#state.se,
        save: (rec) => {
          this.#state.se = rec;
          this.#persist();
          return Promise.resolve();
        },
      });
  }

  /** Creates a new device (and its state file when `path` is given). Throws ERR_DEVICE_STATE_EXISTS. */
  static create(path: string | undefined, options: CreateDeviceOptions): SimulatedDevice {
    if (path !== undefined && existsSync(path)) {
      throw new ConflictError('ERR_DEVICE_STATE_EXISTS', `device state ${path} already exists`);
    }
    const uid = new Uint8Array(randomBytes(16));
    const state: DeviceStateRecord = {
      version: 1,
      uid,
      serial: options.serial ?? `SN-${toHex(uid.subarray(0, 8)).toUpperCase()}`,
      model: options.model,
      fuses: { secureBoot: false, debugLocked: false, provisioned: false },
      rotpkHash: new Uint8Array(32),
      counters: {},
      slots: {},
      se: {},
      ...(options.secureElement === undefined ? {} : { seKind: 'pkcs11' as const }),
    };
    const d = new SimulatedDevice(path, state, options.durable ?? true, options.secureElement);
    d.#persist();
    return d;
  }

  /** Opens a device from its state file. Throws ERR_DEVICE_STATE_UNREADABLE, ERR_DEVICE_SE_UNAVAILABLE. */
  static open(
    path: string,
    options: { durable?: boolean; secureElement?: (uid: Uint8Array) => SecureElement } = {},
  ): SimulatedDevice {
    const raw = readStateFile(path) as Partial<DeviceStateRecord> | null;
    if (raw === null || typeof raw !== 'object' || raw.version !== 1 || !(raw.uid instanceof Uint8Array)) {
      throw new ImprintError('ERR_DEVICE_STATE_UNREADABLE', 500, `device state ${path} is not a device`);
    }
    return new SimulatedDevice(
      path,
      raw as DeviceStateRecord,
      options.durable ?? true,
      options.secureElement,
    );
  }

  /** The device-unique ID. */
  get uid(): Uint8Array {
    return this.#state.uid;
  }
  get serial(): string {
    return this.#state.serial;
  }
  get model(): string {
    return this.#state.model;
  }

  /** The fuses as burned. */
  fuses(): Fuses {
    return { ...this.#state.fuses };
  }

  /** Burns the named fuses (0→1 only; burning a set fuse again is a no-op). Throws ERR_DEVICE_FUSE_UNKNOWN. */
  burnFuses(names: readonly string[]): Fuses {
    for (const n of names) {
      if (!(FUSE_NAMES as readonly string[]).includes(n)) {
        throw new ValidationError('ERR_DEVICE_FUSE_UNKNOWN', `no fuse named ${n}`);
      }
    }
    for (const n of names) this.#state.fuses[n as FuseName] = true;
    this.#persist();
    return this.fuses();
  }

  /** SHA-256 of the root-of-trust public key, or undefined while the OTP bank is blank. */
  rotpkHash(): Uint8Array | undefined {
    return this.#state.rotpkHash.some((b) => b !== 0) ? this.#state.rotpkHash : undefined;
  }

  /** Burns the root-of-trust hash once. Throws ERR_DEVICE_ROTPK_SET when a different value is burned. */
  burnRotpkHash(hash: Uint8Array): void {
    if (hash.length !== 32)
      throw new ValidationError('ERR_DEVICE_ROTPK_INVALID', 'root-of-trust hash must be 32 bytes');
    const cur = this.rotpkHash();
    if (cur !== undefined) {
      if (toHex(cur) === toHex(hash)) return;
      throw new ConflictError('ERR_DEVICE_ROTPK_SET', 'a different root-of-trust key is already burned');
    }
    // OTP bits only go 0→1: OR-ing into a blank bank is exactly the new value.
    this.#state.rotpkHash = new Uint8Array(hash);
    this.#persist();
  }

  /** A monotonic counter's value (0 when never advanced). */
  counter(name: string): number {
    return this.#state.counters[name] ?? 0;
  }

  /** Advances a monotonic counter. Throws ERR_DEVICE_COUNTER_ROLLBACK when `value` is lower. */
  advanceCounter(name: string, value: number): number {
    if (!Number.isSafeInteger(value) || value < this.counter(name)) {
      throw new ConflictError('ERR_DEVICE_COUNTER_ROLLBACK', `counter ${name} cannot go back`);
    }
    this.#state.counters[name] = value;
    this.#persist();
    return value;
  }

  /** Contents of a flash slot, or undefined when erased. */
  readSlot(slot: SlotName): Uint8Array | undefined {
    return this.#state.slots[slot];
  }

  /** Writes a flash slot. */
  writeSlot(slot: SlotName, data: Uint8Array): void {
    this.#state.slots[slot] = new Uint8Array(data);
    this.#persist();
  }

  /** Erases a flash slot. */
  eraseSlot(slot: SlotName): void {
    delete this.#state.slots[slot];
    this.#persist();
  }

  /** The swap state store the boot ROM (src/firmware/boot, bootHardwareOf) keeps with this device. */
  bootState(): BootStateStore {
    return {
      read: () => this.#state.swapState ?? 'none',
      write: (s) => {
        this.#state.swapState = s;
        this.#persist();
      },
    };
  }

  /** The update agent's trusted TUF metadata, kept in the device's flash with the rest of its state. */
  trustedMetadata(): TrustedMetadataStore {
    const roles = () => (this.#state.tuf ??= {});
    return {
      load: (role) => roles()[role],
      save: (role, bytes) => {
        roles()[role] = new Uint8Array(bytes);
        this.#persist();
      },
      remove: (role) => {
        delete roles()[role];
        this.#persist();
      },
    };
  }

  #persist(): void {
    if (this.#path !== undefined) writeStateFile(this.#path, this.#state, this.#durable);
  }
}
