/**
 * Binding by manifest import: the device maker's signed batch manifest binds its devices to the importing
 * owner, on the maker's server (devices known) and on an owner's own server (devices registered from it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fromPemAll, toPem } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { simulatedDeviceState } from '../../src/device/sztp/simulated.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { ManifestService } from '../../src/factory/manifest.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { SztpAdminService } from '../../src/sztp/admin-service.ts';
import { SztpBootstrapService } from '../../src/sztp/bootstrap-service.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import { factoryFixture, type FactoryFixture } from '../factory/helpers/factory.ts';
import { serveSztp } from './world.ts';

const by = { actor: 'test' };
let fx: FactoryFixture;
let devices: SimulatedDevice[];
let jws: string;
let mfgCaPem: string;
const cores: TestCore[] = [];

before(async () => {
  fx = await factoryFixture();
  devices = [];
  for (let i = 0; i < 2; i++) {
    const d = SimulatedDevice.create(undefined, { model: fx.modelName });
    const [a, b] = duplexPair();
    new LinkServer(b, new DeviceAgent(d).handle);
    await provisionDevice(new LinkClient(a, { timeoutMs: 5000 }), fx.api, { batchId: fx.batch.id });
    a.destroy();
    devices.push(d);
  }
  jws = (await new ManifestService(fx.core).sign(by, fx.tenantId, fx.batch.id)).jws;
  mfgCaPem = toPem('CERTIFICATE', fx.cas.find((c) => c.role === 'manufacturer')!.certificate);
});

after(async () => {
  await fx.core.close();
  for (const c of cores) await c.close();
});

async function bindingCount(core: TestCore): Promise<number> {
  return (await core.store.db.selectFrom('sztp_bindings').select('device_id').execute()).length;
}

test("on the maker's server the owner imports the manifest over the API; a listed device then onboards", async () => {
  const admin = new SztpAdminService(fx.core);
  await admin.addManufacturerCa(by, fx.tenantId, mfgCaPem);
  const masa = await admin.generateMasa(by, { tenantId: fx.tenantId });
  const ownerTenant = await fx.core.registry.createTenant(by, 'Globex', 'owner');
  const owner = await admin.generateOwner(by, { tenantId: ownerTenant.id, name: 'globex' });
  await admin.setRecord(by, {
    ownerId: owner.id,
    scope: 'owner',
    scopeId: owner.id,
    document: {
      'ietf-sztp-conveyed-info:onboarding-information': {
        configuration: Buffer.from('{"hostname":"globex"}').toString('base64'),
      },
    },
  });
  const bootstrap = new SztpBootstrapService(fx.core);
  const srv = await serveSztp(bootstrap, admin);
  try {
    // A tampered manifest is refused and binds nothing.
    const [h, p, s] = jws.split('.');
    const tampered = `${h}.${p!.slice(0, -4)}AAAA.${s}`;
    const bad = await srv.app.inject({
      method: 'POST',
      url: `/api/v1/sztp/owners/${owner.id}/manifests`,
      headers: { 'x-test-tenant': ownerTenant.id },
      payload: { jws: tampered },
    });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal(await bindingCount(fx.core), 0);
    // Another tenant cannot import into this owner.
    const other = await srv.app.inject({
      method: 'POST',
      url: `/api/v1/sztp/owners/${owner.id}/manifests`,
      headers: { 'x-test-tenant': fx.tenantId },
      payload: { jws },
    });
    assert.equal(other.statusCode, 404);

    const res = await srv.app.inject({
      method: 'POST',
      url: `/api/v1/sztp/owners/${owner.id}/manifests`,
      headers: { 'x-test-tenant': ownerTenant.id },
      payload: { jws },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json(), {
      batchId: fx.batch.id,
      manufacturerId: fx.tenantId,
      bound: 2,
      registered: 0,
    });
    for (const d of devices) {
      const rec = await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial);
      assert.equal(rec?.tenantId, ownerTenant.id);
    }
    const actions = await fx.core.store.db.selectFrom('audit_entries').select('action').execute();
    assert.ok(actions.some((a) => a.action === 'sztp.manifest.imported'));

    const platform = new MemoryPlatform();
    const result = await runAgent({
      state: await simulatedDeviceState(devices[0]!, {
        bootstrapServers: [{ address: '127.0.0.1', port: srv.port }],
        serverTrustAnchors: [srv.tlsCa.der],
        voucherTrustAnchors: fromPemAll(masa.certificatePem, 'CERTIFICATE'),
        clock: fx.core.clock,
      }),
      platform,
    });
    assert.equal(result.ok, true, JSON.stringify(result.events));
    assert.equal(new TextDecoder().decode(platform.configuration), '{"hostname":"globex"}');
  } finally {
    await srv.app.close();
  }
});

/** An owner's own Imprint: the maker as a manufacturer tenant with the same model name, and an owner. */
async function ownerServer(registerCa: boolean) {
  const core = await createTestCore();
  cores.push(core);
  const { tenant } = await seedManufacturer(core, 'Acme');
  const admin = new SztpAdminService(core);
  if (registerCa) await admin.addManufacturerCa(by, tenant.id, mfgCaPem);
  const ownerTenant = await core.registry.createTenant(by, 'Globex', 'owner');
  const owner = await admin.generateOwner(by, { tenantId: ownerTenant.id, name: 'globex' });
  return { core, admin, manufacturerId: tenant.id, owner };
}

test("on an owner's own server the import registers the listed devices with the certified keys", async () => {
  const o = await ownerServer(true);
  await assert.rejects(o.admin.importManifest(by, { ownerId: o.owner.id, jws }), (e) =>
    hasCode(e, 'ERR_DEVICE_NOT_FOUND'),
  );
  assert.equal(await bindingCount(o.core), 0);
  const r = await o.admin.importManifest(by, { ownerId: o.owner.id, jws, registerDevices: true });
  assert.equal(r.registered, 2);
  assert.equal(r.bound, 2);
  // The registered device authenticates here with its IDevID, and only with the key the factory certified.
  const bootstrap = new SztpBootstrapService(o.core);
  const chain = await devices[1]!.secureElement.identityChain();
  const caller = await bootstrap.authenticate(chain);
  assert.equal(caller.device.serial, devices[1]!.serial);
  assert.equal(caller.device.tenantId, o.owner.tenantId);
  // Importing again is idempotent: same devices, same keys.
  const again = await o.admin.importManifest(by, { ownerId: o.owner.id, jws, registerDevices: true });
  assert.equal(again.registered, 0);
  assert.equal(await bindingCount(o.core), 2);
});

test('a manifest from an unregistered maker, or listing a device with another key, binds nothing', async () => {
  const untrusted = await ownerServer(false);
  await assert.rejects(
    untrusted.admin.importManifest(by, { ownerId: untrusted.owner.id, jws, registerDevices: true }),
    (e) => hasCode(e, 'ERR_MANIFEST_UNTRUSTED'),
  );
  const o = await ownerServer(true);
  const model = (await o.core.registry.listModels(o.manufacturerId))[0]!;
  // The second device is known here with a different identity key: the whole import is refused.
  const d = await o.core.registry.createDevice(by, {
    manufacturerId: o.manufacturerId,
    modelId: model.id,
    serial: devices[1]!.serial,
  });
  await o.core.store.transaction((tx) =>
    o.core.registry.updateDevice(tx, by, d.id, { identityKeyFingerprint: 'ab'.repeat(32) }, 'test'),
  );
  await assert.rejects(o.admin.importManifest(by, { ownerId: o.owner.id, jws, registerDevices: true }), (e) =>
    hasCode(e, 'ERR_SZTP_MANIFEST_KEY_MISMATCH'),
  );
  assert.equal(await bindingCount(o.core), 0);
  assert.equal(await o.core.registry.findDeviceBySerial(o.manufacturerId, devices[0]!.serial), undefined);
});
