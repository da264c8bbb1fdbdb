/** Records of the simulated device: fuses, slots, counters and the persisted state. */
import type { SwapState } from '../firmware/boot/types.ts';
import type { SoftwareSeRecord } from './software-se.ts';

/** The one-time-programmable fuses; each only goes from false to true. */
export interface Fuses {
  readonly secureBoot: boolean;
  readonly debugLocked: boolean;
  /** The provisioned lock bit: once set, the factory port refuses to provision again. */
  readonly provisioned: boolean;
}

/** Names of the fuses. */
export const FUSE_NAMES = ['secureBoot', 'debugLocked', 'provisioned'] as const;
/** One of FUSE_NAMES. */
export type FuseName = (typeof FUSE_NAMES)[number];

/** Flash slots of the simulated device. */
export const SLOT_NAMES = ['primary', 'secondary', 'config'] as const;
/** One of SLOT_NAMES. */
export type SlotName = (typeof SLOT_NAMES)[number];

/** Everything a simulated device persists (CBOR file). */
export interface DeviceStateRecord {
  version: 1;
  /** The 16-byte device-unique ID (as burned at the chip factory). */
  uid: Uint8Array;
  serial: string;
  model: string;
  fuses: { secureBoot: boolean; debugLocked: boolean; provisioned: boolean };
  /** OTP bank holding SHA-256 of the code-signing public key (root of trust); zeros until burned. */
  rotpkHash: Uint8Array;
  counters: Record<string, number>;
  slots: Partial<Record<SlotName, Uint8Array>>;
  se: SoftwareSeRecord;
  /** Where the secure element lives: in this file (software, the default) or in a PKCS#11 token. */
  seKind?: 'software' | 'pkcs11';
  /** MCUboot swap state (image trailer), for the boot ROM of src/firmware/boot. */
  swapState?: SwapState;
  /** TUF metadata the update agent trusts, by role (root first seeded from the manufacturer's 1.root.json). */
  tuf?: Record<string, Uint8Array>;
}
