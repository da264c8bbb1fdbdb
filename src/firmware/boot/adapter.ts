import { ValidationError } from '../../core/errors.ts';
import { MemoryBootState } from './memory.ts';
import type { BootHardware, BootStateStore, DecryptionKeyRef, FlashSlot, SlotDevice } from './types.ts';

/** The monotonic counter the boot ROM uses for image security counters. */
export const IMAGE_COUNTER = 'image-security-counter';

function slotOf(device: SlotDevice, name: 'primary' | 'secondary', size: number): FlashSlot {
  return {
    size,
    read: () => device.readSlot(name) ?? new Uint8Array(0),
    write: (data) => {
      if (data.length > size)
        throw new ValidationError('ERR_BOOT_SLOT_TOO_SMALL', 'image does not fit the slot');
      device.writeSlot(name, data);
    },
    erase: () => device.eraseSlot(name),
  };
}

/**
 * Boot hardware over a simulated device: its primary/secondary slots, a named monotonic counter,
 * the secure-boot fuse and the burned root-of-trust key hash. `state` should be persisted by the
 * device (it defaults to memory, which forgets a pending test swap across restarts).
 */
export function bootHardwareOf(
  device: SlotDevice,
  options: {
    romKeys: readonly Uint8Array[];
    slotSize?: number;
    state?: BootStateStore;
    vendorId?: Uint8Array;
    classId?: Uint8Array;
    decryptionKey?: DecryptionKeyRef;
  },
): BootHardware {
  const size = options.slotSize ?? 1 << 20;
  const rotpk = device.rotpkHash();
  return {
    primary: slotOf(device, 'primary', size),
    secondary: slotOf(device, 'secondary', size),
    counter: {
      read: () => device.counter(IMAGE_COUNTER),
      advance: (v) => void device.advanceCounter(IMAGE_COUNTER, v),
    },
    fuses: {
      secureBoot: device.fuses().secureBoot,
      keyHashes: rotpk === undefined ? [] : [rotpk],
      ...(options.vendorId === undefined ? {} : { vendorId: options.vendorId }),
      ...(options.classId === undefined ? {} : { classId: options.classId }),
    },
    state: options.state ?? new MemoryBootState(),
    romKeys: options.romKeys,
    ...(options.decryptionKey === undefined ? {} : { decryptionKey: options.decryptionKey }),
  };
}
