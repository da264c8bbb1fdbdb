import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

let pg: PostgresServer;
let w: World;
before(async () => {
  pg = await startPostgres('imprint_sztp');
  w = await makeWorld({ location: { kind: 'postgres', url: pg.url } });
});
after(async () => {
  await w?.close();
  await pg?.stop();
});

test('SZTP on PostgreSQL: bind, records, bootstrap, log', async () => {
  const image = new TextEncoder().encode('pg image');
  const hash = new Uint8Array(createHash('sha256').update(image).digest());
  await w.admin.bind({ actor: 't' }, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-0001'] });
  await w.admin.setRecord(
    { actor: 't' },
    { ownerId: w.ownerId, scope: 'model', scopeId: w.modelId, document: onboardingDoc(image, hash) },
  );
  await w.admin.setDeviceSecret({ actor: 't' }, w.device.id, 'a long enough secret');
  const p = new MemoryPlatform({ fetch: () => Promise.resolve(image) });
  const res = await runAgent({ state: w.state(), platform: p });
  assert.equal(res.ok, true, JSON.stringify(res.events));
  const log = await w.admin.log(w.ownerTenantId, w.device.id);
  assert.equal(log.at(-1)?.progressType, 'bootstrap-complete');
  assert.equal((await w.core.registry.getDevice(w.device.id)).state, 'onboarded');
  await assert.rejects(w.bootstrap.authenticate([], { serial: 'SN-0001', secret: 'wrong secret value!' }));
  assert.equal(
    (await w.bootstrap.authenticate([], { serial: 'SN-0001', secret: 'a long enough secret' })).device.id,
    w.device.id,
  );
});
