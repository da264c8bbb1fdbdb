import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { SoftwareKeyStore } from '../../src/keys/software.ts';
import type { KeyStore } from '../../src/keys/types.ts';
import { RegistryService } from '../../src/registry/service.ts';
import { openStore, type Store, type StoreLocation } from '../../src/store/database.ts';

/** The core parts every feature test builds on, backed by real implementations. */
export interface TestCore {
  readonly dir: string;
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: StoreAuditLog;
  readonly registry: RegistryService;
  readonly clock: ManualClock;
  close(): Promise<void>;
}

/**
 * A fresh store (SQLite file in a temp dir unless `location` is given), a software key store,
 * the audit log and the registry. `keys` may be supplied to use another backend (e.g. SoftHSM).
 */
export async function createTestCore(
  options: {
    location?: StoreLocation;
    keys?: (store: Store, clock: ManualClock) => Promise<KeyStore> | KeyStore;
  } = {},
): Promise<TestCore> {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-test-'));
  const store = await openStore(options.location ?? { kind: 'sqlite', path: join(dir, 'imprint.db') });
  const clock = new ManualClock(new Date());
  const keys =
    options.keys !== undefined
      ? await options.keys(store, clock)
      : new SoftwareKeyStore(store.db, new Uint8Array(32).fill(0x42), clock);
  const audit = new StoreAuditLog(store.dialect, clock);
  const registry = new RegistryService(store, audit, clock);
  return {
    dir,
    store,
    keys,
    audit,
    registry,
    clock,
    async close() {
      await keys.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A manufacturer tenant with one device model, the usual starting point of feature tests. */
export async function seedManufacturer(core: TestCore, name = 'Acme') {
  const by = { actor: 'test' };
  const tenant = await core.registry.createTenant(by, name, 'manufacturer');
  const model = await core.registry.createModel(by, tenant.id, 'sensor-1', 'test sensor');
  return { tenant, model };
}
