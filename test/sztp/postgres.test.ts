import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { makeWorld, onboardingDoc, serveSztp, type World } from './world.ts';
import { fromPemAll, toPem } from '../../src/core/encoding.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { simulatedDeviceState } from '../../src/device/sztp/simulated.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { ManifestService } from '../../src/factory/manifest.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { SztpAdminService } from '../../src/sztp/admin-service.ts';
import { SztpBootstrapService } from '../../src/sztp/bootstrap-service.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import { openStore } from '../../src/store/database.ts';
import { contextCacheScenario } from './context-cache-scenario.ts';
import { factoryFixture } from '../factory/helpers/factory.ts';

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

test('on PostgreSQL: a factory-provisioned simulated device, bound by manifest import, bootstraps', async () => {
  const fx = await factoryFixture({
    location: { kind: 'postgres', url: await pg.createDatabase('sztp_sim') },
  });
  try {
    const device = SimulatedDevice.create(undefined, { model: fx.modelName });
    const [a, b] = duplexPair();
    new LinkServer(b, new DeviceAgent(device).handle);
    await provisionDevice(new LinkClient(a, { timeoutMs: 5000 }), fx.api, { batchId: fx.batch.id });
    a.destroy();
    const by = { actor: 't' };
    const admin = new SztpAdminService(fx.core);
    const mfgCa = fx.cas.find((c) => c.role === 'manufacturer')!;
    await admin.addManufacturerCa(by, fx.tenantId, toPem('CERTIFICATE', mfgCa.certificate));
    const masa = await admin.generateMasa(by, { tenantId: fx.tenantId });
    const ownerTenant = await fx.core.registry.createTenant(by, 'Globex', 'owner');
    const owner = await admin.generateOwner(by, { tenantId: ownerTenant.id, name: 'globex' });
    const { jws } = await new ManifestService(fx.core).sign(by, fx.tenantId, fx.batch.id);
    assert.equal((await admin.importManifest(by, { ownerId: owner.id, jws })).bound, 1);
    await admin.setRecord(by, {
      ownerId: owner.id,
      scope: 'owner',
      scopeId: owner.id,
      document: {
        'ietf-sztp-conveyed-info:onboarding-information': {
          configuration: Buffer.from('{"db":"pg"}').toString('base64'),
        },
      },
    });
    const srv = await serveSztp(new SztpBootstrapService(fx.core), admin);
    try {
      const platform = new MemoryPlatform();
      const res = await runAgent({
        state: await simulatedDeviceState(device, {
          bootstrapServers: [{ address: '127.0.0.1', port: srv.port }],
          serverTrustAnchors: [srv.tlsCa.der],
          voucherTrustAnchors: fromPemAll(masa.certificatePem, 'CERTIFICATE'),
          clock: fx.core.clock,
        }),
        platform,
      });
      assert.equal(res.ok, true, JSON.stringify(res.events));
      assert.equal(new TextDecoder().decode(platform.configuration), '{"db":"pg"}');
      const rec = (await fx.core.registry.findDeviceBySerial(fx.tenantId, device.serial))!;
      assert.equal(rec.state, 'onboarded');
    } finally {
      await srv.app.close();
    }
  } finally {
    await fx.core.close();
  }
});

test('on PostgreSQL: bootstrap contexts are cached until a change from any connection moves the generation', async () => {
  const url = await pg.createDatabase('sztp_ctx');
  const cw = await makeWorld({ location: { kind: 'postgres', url } });
  const other = await openStore({ kind: 'postgres', url }, { migrate: false });
  try {
    await contextCacheScenario(cw, other);
  } finally {
    await other.close();
    await cw.close();
  }
});
