import type { DecryptionKey } from '../mcuboot/encrypt.ts';

/** The device's image-decryption key: a private KeyObject (X25519, P-256, RSA) or an AES-KW key. */
export type DecryptionKeyRef = DecryptionKey;

/**
 * What a device's boot ROM needs from its hardware. The device simulator (src/device/) implements
 * these; `memory.ts` is a plain in-memory implementation. All calls are synchronous, like flash
 * and OTP reads on a microcontroller.
 */

/** One flash slot (primary = the image that runs, secondary = where updates land). */
export interface FlashSlot {
  /** Slot capacity in bytes. */
  readonly size: number;
  /** The slot contents: an image possibly followed by erased bytes (0xff). Empty when erased. */
  read(): Uint8Array;
  /** Erases the slot and programs `data` at its start. Throws ERR_BOOT_SLOT_TOO_SMALL if it does not fit. */
  write(data: Uint8Array): void;
  /** Erases the slot. */
  erase(): void;
}

/** A hardware monotonic counter (anti-rollback): it can only go up. */
export interface MonotonicCounter {
  read(): number;
  /** Raises the counter to `value`; a lower value throws ERR_BOOT_COUNTER_DECREASE. */
  advance(value: number): void;
}

/** One-time-programmable configuration read by the boot ROM. */
export interface Fuses {
  /** When false the ROM boots any parseable image (development parts). */
  readonly secureBoot: boolean;
  /** Hashes of the allowed signing keys (SHA-256 of the MCUboot key encoding; SHA-384 for P-384). */
  readonly keyHashes: readonly Uint8Array[];
  /** Expected 16-byte vendor and class UUIDs; images must carry matching UUID TLVs when set. */
  readonly vendorId?: Uint8Array;
  readonly classId?: Uint8Array;
}

/** Swap state, as MCUboot keeps it in the image trailers. */
export type SwapState =
  /** Nothing pending; the primary image is confirmed. */
  | 'none'
  /** An update waits in the secondary slot, to be tried once (reverted unless confirmed). */
  | 'pending-test'
  /** An update waits in the secondary slot, to be made permanent at once. */
  | 'pending-permanent'
  /** The primary image was swapped in on the last boot and has not been confirmed yet. */
  | 'testing'
  /** The primary image confirmed itself; the next boot makes it permanent and raises the counter. */
  | 'confirmed';

/** Persistent boot state (MCUboot's trailer: swap type, image_ok, copy_done). */
export interface BootStateStore {
  read(): SwapState;
  write(state: SwapState): void;
}

/** Everything the boot ROM touches. */
export interface BootHardware {
  readonly primary: FlashSlot;
  readonly secondary: FlashSlot;
  readonly counter: MonotonicCounter;
  readonly fuses: Fuses;
  readonly state: BootStateStore;
  /** Public keys compiled into the ROM (SPKI DER; PKCS#1 or SPKI for RSA); only those whose hash is fused count. */
  readonly romKeys: readonly Uint8Array[];
  /** The device's image-decryption key (private KeyObject or AES-KW key), if it takes encrypted updates. */
  readonly decryptionKey?: DecryptionKeyRef;
}

/** What the ROM measured before jumping to an image; attestation reports it. */
export interface BootMeasurement {
  /** Hex image hash (the SHA256/SHA384 TLV value). */
  readonly digest: string;
  readonly version: string;
  /** Hex hash of the signing key. */
  readonly keyHash: string;
  readonly securityCounter: number;
}

/** A boot-time refusal with its reason. */
export interface BootRefusal {
  readonly code: string;
  readonly message: string;
}

/**
 * The shape of the device simulator (src/device/simulator.ts) that `bootHardwareOf` adapts: slots,
 * named monotonic counters, the secure-boot fuse and the root-of-trust key hash bank.
 */
export interface SlotDevice {
  fuses(): { readonly secureBoot: boolean };
  rotpkHash(): Uint8Array | undefined;
  counter(name: string): number;
  advanceCounter(name: string, value: number): number;
  readSlot(slot: 'primary' | 'secondary'): Uint8Array | undefined;
  writeSlot(slot: 'primary' | 'secondary', data: Uint8Array): void;
  eraseSlot(slot: 'primary' | 'secondary'): void;
}
