import { bytesEqual, toHex } from '../../core/encoding.ts';
import { ImprintError } from '../../core/errors.ts';
import { mcubootKey, type McubootPublicKey } from '../mcuboot/keys.ts';
import { imageLength } from '../mcuboot/parse.ts';
import { formatVersion } from '../mcuboot/types.ts';
import { verifyImage } from '../mcuboot/verify.ts';
import type { DecryptionKey } from '../mcuboot/encrypt.ts';
import type { BootMeasurement, BootRefusal } from './types.ts';

/** The boot ROM's policy for one image. */
export interface BootPolicy {
  /** Fused key hashes: a signature counts only if its key's hash is here. */
  readonly allowedKeyHashes: readonly Uint8Array[];
  /** Keys compiled into the ROM (needed for KEYHASH images; PUBKEY images carry their key). */
  readonly keys?: readonly (McubootPublicKey | Uint8Array)[];
  /** The device's monotonic counter: images with a lower (or no) security counter are refused. */
  readonly minSecurityCounter: number;
  readonly vendorId?: Uint8Array;
  readonly classId?: Uint8Array;
  readonly decryptionKey?: DecryptionKey;
}

/** Outcome of verifying one image for boot. */
export type BootVerdict =
  | {
      readonly ok: true;
      readonly measurement: BootMeasurement;
      readonly payload: Uint8Array;
      readonly image: Uint8Array;
    }
  | { readonly ok: false; readonly refusal: BootRefusal };

function refusal(code: string, message: string): BootVerdict {
  return { ok: false, refusal: { code, message } };
}

/**
 * Verifies an image as the boot ROM does (never throws): structure, hash, a signature by a fused key,
 * security counter ≥ the device's, vendor/class UUIDs. `slot` may carry erased bytes after the image.
 * Refusal codes: the image codes plus ERR_BOOT_EMPTY_SLOT, ERR_BOOT_COUNTER_TOO_LOW, ERR_BOOT_VENDOR_MISMATCH, ERR_BOOT_CLASS_MISMATCH.
 */
export function verifyBootImage(slot: Uint8Array, policy: BootPolicy): BootVerdict {
  if (slot.length === 0 || slot.subarray(0, 4).every((b) => b === 0xff)) {
    return refusal('ERR_BOOT_EMPTY_SLOT', 'slot holds no image');
  }
  try {
    const image = slot.subarray(0, imageLength(slot));
    const v = verifyImage(image, {
      keys: (policy.keys ?? []).map((k) => (k instanceof Uint8Array ? mcubootKey(k) : k)),
      keyHashes: policy.allowedKeyHashes,
      ...(policy.decryptionKey === undefined ? {} : { decryptionKey: policy.decryptionKey }),
    });
    const counter = v.facts.securityCounter ?? 0;
    if (counter < policy.minSecurityCounter) {
      return refusal(
        'ERR_BOOT_COUNTER_TOO_LOW',
        `image security counter ${counter} is below the device's ${policy.minSecurityCounter}`,
      );
    }
    if (
      policy.vendorId !== undefined &&
      !(v.facts.vendorId !== undefined && bytesEqual(v.facts.vendorId, policy.vendorId))
    ) {
      return refusal('ERR_BOOT_VENDOR_MISMATCH', 'image vendor id does not match the device');
    }
    if (
      policy.classId !== undefined &&
      !(v.facts.classId !== undefined && bytesEqual(v.facts.classId, policy.classId))
    ) {
      return refusal('ERR_BOOT_CLASS_MISMATCH', 'image class id does not match the device');
    }
    return {
      ok: true,
      image,
      payload: v.payload,
      measurement: {
        digest: toHex(v.digest),
        version: formatVersion(v.facts.version),
        keyHash: toHex(v.keyHash),
        securityCounter: counter,
      },
    };
  } catch (e) {
    if (e instanceof ImprintError) return refusal(e.code, e.message);
    return refusal('ERR_BOOT_VERIFY_FAILED', 'image could not be verified');
  }
}
