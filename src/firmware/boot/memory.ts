import { ValidationError } from '../../core/errors.ts';
import type {
  BootHardware,
  BootStateStore,
  DecryptionKeyRef,
  FlashSlot,
  Fuses,
  MonotonicCounter,
  SwapState,
} from './types.ts';

/** A flash slot in memory (erased = 0xff). */
export class MemoryFlashSlot implements FlashSlot {
  readonly size: number;
  #data: Uint8Array;

  constructor(size: number) {
    this.size = size;
    this.#data = new Uint8Array(0);
  }

  /** See FlashSlot.read. */
  read(): Uint8Array {
    return this.#data;
  }

  /** See FlashSlot.write. Throws ERR_BOOT_SLOT_TOO_SMALL. */
  write(data: Uint8Array): void {
    if (data.length > this.size)
      throw new ValidationError('ERR_BOOT_SLOT_TOO_SMALL', 'image does not fit the slot');
    this.#data = Uint8Array.from(data);
  }

  /** See FlashSlot.erase. */
  erase(): void {
    this.#data = new Uint8Array(0);
  }
}

/** A monotonic counter in memory. */
export class MemoryCounter implements MonotonicCounter {
  #value: number;

  constructor(initial = 0) {
    this.#value = initial;
  }

  /** See MonotonicCounter.read. */
  read(): number {
    return this.#value;
  }

  /** See MonotonicCounter.advance. Throws ERR_BOOT_COUNTER_DECREASE. */
  advance(value: number): void {
    if (value < this.#value)
      throw new ValidationError('ERR_BOOT_COUNTER_DECREASE', 'a monotonic counter cannot go down');
    this.#value = value;
  }
}

/** Swap state in memory. */
export class MemoryBootState implements BootStateStore {
  #state: SwapState = 'none';

  /** See BootStateStore.read. */
  read(): SwapState {
    return this.#state;
  }

  /** See BootStateStore.write. */
  write(state: SwapState): void {
    this.#state = state;
  }
}

/** A complete in-memory device: two slots, a counter, fuses and ROM keys. */
export function memoryBootHardware(options: {
  fuses: Fuses;
  romKeys: readonly Uint8Array[];
  slotSize?: number;
  decryptionKey?: DecryptionKeyRef;
}): BootHardware {
  const size = options.slotSize ?? 1 << 20;
  return {
    primary: new MemoryFlashSlot(size),
    secondary: new MemoryFlashSlot(size),
    counter: new MemoryCounter(),
    fuses: options.fuses,
    state: new MemoryBootState(),
    romKeys: options.romKeys,
    ...(options.decryptionKey === undefined ? {} : { decryptionKey: options.decryptionKey }),
  };
}
