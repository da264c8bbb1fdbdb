/**
 * The context cache's invalidation, run on SQLite and on PostgreSQL: changes made through a second connection
 * (another `imprint serve` on the same database) to records, owners' bindings and MASA keys are seen by the
 * next read; device-row changes are seen without invalidating anything; a small capacity stays correct.
 */
import assert from 'node:assert/strict';
import { toPem } from '../../src/core/encoding.ts';
import { RegistryService } from '../../src/registry/service.ts';
import type { Store } from '../../src/store/database.ts';
import { SztpAdminService } from '../../src/sztp/admin-service.ts';
import { BootstrapContextCache } from '../../src/sztp/context-cache.ts';
import { certForSpki } from './pki-helpers.ts';
import { onboardingDoc, type World } from './world.ts';

const by = { actor: 'test' };
const doc = (fill: number) => onboardingDoc(new Uint8Array([fill]), new Uint8Array(32).fill(fill));

/** Runs the scenario on a world and a second connection to its database. */
export async function contextCacheScenario(w: World, other: Store): Promise<void> {
  const registryB = new RegistryService(other, w.core.audit, w.core.clock);
  const adminB = new SztpAdminService({ ...w.core, store: other, registry: registryB });
  const cache = new BootstrapContextCache();
  const get = async () => {
    const c = await cache.get(w.core.store, w.mfgTenantId, w.device.serial);
    assert.ok(c !== undefined);
    return c;
  };

  const unbound = await get();
  assert.equal(unbound.owner, undefined);
  await w.admin.bind(by, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: [w.device.serial] });
  assert.equal((await get()).owner?.id, w.ownerId, 'a new binding is seen');
  await w.admin.setRecord(by, { ownerId: w.ownerId, scope: 'owner', scopeId: w.ownerId, document: doc(1) });
  const first = await get();
  assert.equal(first.record?.scope, 'owner');
  const misses = cache.stats.misses;
  const again = await get();
  assert.equal(cache.stats.misses, misses, 'unchanged: answered from the cache');
  assert.equal(again.record, first.record);

  // Changes through the other connection.
  await adminB.setRecord(by, { ownerId: w.ownerId, scope: 'owner', scopeId: w.ownerId, document: doc(2) });
  const updated = await get();
  assert.notEqual(updated.record?.document, first.record?.document, 'an updated record is seen');
  assert.match(updated.record?.document ?? '', /02:02:02/);
  await adminB.setRecord(by, { ownerId: w.ownerId, scope: 'model', scopeId: w.modelId, document: doc(3) });
  assert.equal((await get()).record?.scope, 'model', 'a more specific record is seen');
  const masaKey = await w.core.keys.generate('masa-2', 'ecdsa-p256');
  const masaChain = toPem('CERTIFICATE', await certForSpki('CN=MASA 2', masaKey.publicKeyDer, w.masaRoot));
  await adminB.setMasa(by, { tenantId: w.mfgTenantId, keyId: masaKey.id, chainPem: masaChain });
  assert.equal((await get()).masa?.key_id, masaKey.id, 'a new MASA key is seen');

  // The device row is read on every request: its changes need no invalidation.
  const hits = cache.stats.hits;
  await other.transaction((tx) =>
    registryB.updateDevice(tx, by, w.device.id, { state: 'deprovisioned' }, 'test.deprovisioned'),
  );
  assert.equal((await get()).device.state, 'deprovisioned');
  assert.equal(cache.stats.hits, hits + 1);

  // Capacity 1 with two devices: entries evict each other, answers stay right.
  const second = await w.core.registry.createDevice(by, {
    manufacturerId: w.mfgTenantId,
    modelId: w.modelId,
    serial: `${w.device.serial}-2`,
  });
  const tiny = new BootstrapContextCache(1);
  for (let i = 0; i < 3; i++) {
    assert.equal((await tiny.get(w.core.store, w.mfgTenantId, w.device.serial))?.record?.scope, 'model');
    assert.equal((await tiny.get(w.core.store, w.mfgTenantId, second.serial))?.owner, undefined);
  }
  assert.equal(await tiny.get(w.core.store, w.mfgTenantId, 'no-such-serial'), undefined);
}
