import { ValidationError } from '../../core/errors.ts';
import { imageLength, parseImage } from '../mcuboot/parse.ts';
import type { BootHardware, BootMeasurement, BootRefusal, FlashSlot } from './types.ts';
import { verifyBootImage, type BootPolicy } from './verify.ts';

/** What happened on one boot. */
export interface BootResult {
  /** False when the primary image failed verification: the ROM stops (the device does not run). */
  readonly booted: boolean;
  readonly action: 'none' | 'upgraded' | 'reverted' | 'upgrade-refused';
  /** Present when booted. */
  readonly measurement?: BootMeasurement;
  /** Why an update was refused, or why nothing booted. */
  readonly refusal?: BootRefusal;
}

/** The ROM's policy derived from fuses, ROM keys and the monotonic counter. */
export function bootPolicy(hw: BootHardware): BootPolicy {
  return {
    allowedKeyHashes: hw.fuses.keyHashes,
    keys: hw.romKeys,
    minSecurityCounter: hw.counter.read(),
    ...(hw.fuses.vendorId === undefined ? {} : { vendorId: hw.fuses.vendorId }),
    ...(hw.fuses.classId === undefined ? {} : { classId: hw.fuses.classId }),
    ...(hw.decryptionKey === undefined ? {} : { decryptionKey: hw.decryptionKey }),
  };
}

function imageIn(slot: FlashSlot): Uint8Array {
  const data = slot.read();
  if (data.length === 0 || data.subarray(0, 4).every((b) => b === 0xff)) return new Uint8Array(0);
  try {
    return data.slice(0, imageLength(data));
  } catch {
    return data.slice();
  }
}

function swap(hw: BootHardware, incoming: Uint8Array): void {
  const outgoing = imageIn(hw.primary);
  hw.primary.write(incoming);
  if (outgoing.length === 0) hw.secondary.erase();
  else hw.secondary.write(outgoing);
}

/** Places an update in the secondary slot and marks it pending. Throws image parse codes, ERR_BOOT_SLOT_TOO_SMALL. */
export function stageUpdate(
  hw: BootHardware,
  image: Uint8Array,
  options: { permanent?: boolean } = {},
): void {
  parseImage(image);
  if (image.length > hw.secondary.size) {
    throw new ValidationError('ERR_BOOT_SLOT_TOO_SMALL', 'image does not fit the secondary slot');
  }
  hw.secondary.write(image);
  hw.state.write(options.permanent === true ? 'pending-permanent' : 'pending-test');
}

/** The running image declares itself healthy (MCUboot `boot_set_confirmed`). */
export function confirmImage(hw: BootHardware): void {
  if (hw.state.read() === 'testing') hw.state.write('confirmed');
}

/**
 * One boot: reverts an unconfirmed test image, verifies and swaps in a pending update (or erases it
 * and keeps the current image), verifies the primary image, raises the monotonic counter once the
 * image is confirmed, and returns the measurement. Never throws for bad images: it reports them.
 */
export function bootDevice(hw: BootHardware): BootResult {
  let state = hw.state.read();
  let action: BootResult['action'] = 'none';
  let refusal: BootRefusal | undefined;
  if (state === 'testing') {
    // The previous boot swapped this image in and it never confirmed itself: put the old one back.
    swap(hw, imageIn(hw.secondary));
    state = 'none';
    action = 'reverted';
  } else if (state === 'pending-test' || state === 'pending-permanent') {
    const verdict = hw.fuses.secureBoot ? verifyBootImage(hw.secondary.read(), bootPolicy(hw)) : undefined;
    if (verdict === undefined || verdict.ok) {
      swap(hw, decryptedImage(verdict?.image ?? imageIn(hw.secondary), verdict?.payload));
      action = 'upgraded';
      state = state === 'pending-permanent' ? 'confirmed' : 'testing';
    } else {
      hw.secondary.erase();
      action = 'upgrade-refused';
      refusal = verdict.refusal;
      state = 'none';
    }
  }
  hw.state.write(state);
  const primary = verifyBootImage(hw.primary.read(), {
    ...bootPolicy(hw),
    ...(hw.fuses.secureBoot ? {} : { allowedKeyHashes: [] }),
  });
  if (!primary.ok) {
    if (!hw.fuses.secureBoot && primary.refusal.code === 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE') {
      return { booted: true, action, ...(refusal === undefined ? {} : { refusal }) };
    }
    return { booted: false, action, refusal: refusal ?? primary.refusal };
  }
  if (state === 'confirmed' || state === 'none') {
    if (primary.measurement.securityCounter > hw.counter.read())
      hw.counter.advance(primary.measurement.securityCounter);
    if (state === 'confirmed') hw.state.write('none');
  }
  return {
    booted: true,
    action,
    measurement: primary.measurement,
    ...(refusal === undefined ? {} : { refusal }),
  };
}

/** MCUboot decrypts an encrypted update while copying it into the primary slot. */
function decryptedImage(image: Uint8Array, payload: Uint8Array | undefined): Uint8Array {
  if (payload === undefined) return image;
  const parsed = parseImage(image);
  if (parsed.payload === payload) return image;
  const out = image.slice();
  out.set(payload, parsed.header.hdrSize);
  return out;
}
