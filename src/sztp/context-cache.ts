/**
 * Bootstrap contexts (a device's owner, most specific record and MASA key) kept between requests. Every
 * request still reads the device row itself and the SZTP context generation in one indexed statement; the
 * cached owner, record and MASA key are used only while the generation is the one they were read at. The
 * generation is bumped by database triggers in the same transaction as any change to bindings, owners,
 * records or MASA keys (migration 0007), so a change made by this process, another `imprint serve` on the
 * same database or a CLI command is seen by the next request. The device row (state, model, identity key)
 * is never cached. Memory is bounded: at most `capacity` devices, and the rows they share are kept once.
 */
import type { Store } from '../store/database.ts';
import type { SztpMasaTable, SztpOnboardingTable, SztpOwnersTable } from '../store/tables/sztp.ts';
import { BoundedCache } from './bounded-cache.ts';
import { bootstrapContextAt, deviceAt, type BootstrapContext } from './device-records.ts';

interface Entry {
  readonly modelId: string;
  readonly manufacturerId: string;
  readonly owner: SztpOwnersTable | undefined;
  readonly record: SztpOnboardingTable | undefined;
  readonly masa: SztpMasaTable | undefined;
}

/** Devices whose contexts are kept (about 200 bytes each; the rows they point to are shared). */
const DEFAULT_CAPACITY = 100_000;

/** A generation-checked cache of bootstrap contexts. */
export class BootstrapContextCache {
  readonly #capacity: number;
  #generation = -1;
  #entries: BoundedCache<string, Entry>;
  /** Rows shared by many devices' entries (one owner, one owner-scope record, one MASA key for a fleet). */
  #rows = new Map<string, object>();
  #hits = 0;
  #misses = 0;

  constructor(capacity = DEFAULT_CAPACITY) {
    this.#capacity = capacity;
    this.#entries = new BoundedCache(capacity);
  }

  /** Requests answered from the cache and from a full read, for tests and the bench. */
  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses };
  }

  /** The current context of a manufacturer's device by serial, or undefined when there is no such device. */
  async get(
    store: Pick<Store, 'db' | 'dialect'>,
    manufacturerId: string,
    serial: string,
  ): Promise<BootstrapContext | undefined> {
    const now = await deviceAt(store, manufacturerId, serial);
    if (now === undefined) return undefined;
    this.#observe(now.generation);
    const hit = this.#entries.get(now.device.id);
    if (
      hit !== undefined &&
      now.generation === this.#generation &&
      hit.modelId === now.device.modelId &&
      hit.manufacturerId === now.device.manufacturerId
    ) {
      this.#hits++;
      return { device: now.device, owner: hit.owner, record: hit.record, masa: hit.masa };
    }
    this.#misses++;
    const full = await bootstrapContextAt(store, manufacturerId, serial);
    if (full === undefined) return undefined;
    this.#observe(full.generation);
    // Only a read at the newest generation seen is kept (with PostgreSQL a slower, older snapshot can finish later).
    if (full.generation === this.#generation) {
      const { device, owner, record, masa } = full.context;
      this.#entries.set(device.id, {
        modelId: device.modelId,
        manufacturerId: device.manufacturerId,
        owner: owner && this.#shared(`o:${owner.id}`, owner),
        record: record && this.#shared(`r:${record.id}`, record),
        masa: masa && this.#shared(`m:${masa.tenant_id}`, masa),
      });
    }
    return full.context;
  }

  /** A newer generation makes every entry stale: they are all dropped at once. */
  #observe(generation: number): void {
    if (generation <= this.#generation) return;
    this.#generation = generation;
    this.#entries = new BoundedCache(this.#capacity);
    this.#rows = new Map();
  }

  #shared<T extends object>(key: string, row: T): T {
    const had = this.#rows.get(key) as T | undefined;
    if (had !== undefined) return had;
    if (this.#rows.size >= this.#capacity) this.#rows.clear();
    this.#rows.set(key, row);
    return row;
  }
}
