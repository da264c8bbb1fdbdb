/**
 * The issue's end-to-end case: a factory-provisioned simulated device, knowing only its IDevID (in its
 * secure element) and its trust anchors, asks the manufacturer's Imprint, is redirected to its owner's
 * own Imprint (which learned the device from the maker's signed manifest and holds a voucher the maker
 * issued), verifies voucher and owner certificate, installs boot image and configuration, reports
 * bootstrap-complete, and the owner reads the whole bootstrapping log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { fromPemAll, toPem } from '../../src/core/encoding.ts';
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
import { degenerateCms } from '../../src/sztp/cms/signed-data.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import { factoryFixture } from '../factory/helpers/factory.ts';
import { createTestCore, seedManufacturer } from '../helpers/core.ts';
import { onboardingDoc, serveSztp } from './world.ts';

const by = { actor: 'test' };
const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

test('a factory-provisioned device is redirected by its maker to its owner, verifies the voucher and bootstraps', async () => {
  const image = new TextEncoder().encode('ImprintOS 2.0 (owner build)');
  const hash = new Uint8Array(createHash('sha256').update(image).digest());

  // The maker: factory, IDevID CA, MASA key; one device provisioned at the station.
  const fx = await factoryFixture();
  closers.push(() => fx.core.close());
  const device = SimulatedDevice.create(undefined, { model: fx.modelName });
  const [a, b] = duplexPair();
  new LinkServer(b, new DeviceAgent(device).handle);
  await provisionDevice(new LinkClient(a, { timeoutMs: 5000 }), fx.api, { batchId: fx.batch.id });
  a.destroy();
  const mAdmin = new SztpAdminService(fx.core);
  const mBoot = new SztpBootstrapService(fx.core);
  const mfgCaPem = toPem('CERTIFICATE', fx.cas.find((c) => c.role === 'manufacturer')!.certificate);
  await mAdmin.addManufacturerCa(by, fx.tenantId, mfgCaPem);
  const masa = await mAdmin.generateMasa(by, { tenantId: fx.tenantId });
  const jws = (await new ManifestService(fx.core).sign(by, fx.tenantId, fx.batch.id)).jws;

  // The owner's own Imprint: the maker's IDevID CA, its own owner key, the device from the signed manifest.
  const oCore = await createTestCore();
  closers.push(() => oCore.close());
  const { tenant: oMaker } = await seedManufacturer(oCore, 'Acme');
  const oAdmin = new SztpAdminService(oCore);
  await oAdmin.addManufacturerCa(by, oMaker.id, mfgCaPem);
  const oTenant = await oCore.registry.createTenant(by, 'Globex', 'owner');
  const owner = await oAdmin.generateOwner(by, { tenantId: oTenant.id, name: 'globex' });
  assert.equal((await oAdmin.importManifest(by, { ownerId: owner.id, jws, registerDevices: true })).bound, 1);
  await oAdmin.setRecord(by, {
    ownerId: owner.id,
    scope: 'owner',
    scopeId: owner.id,
    document: onboardingDoc(image, hash, '{"hostname":"globex-sensor"}'),
  });
  const oServer = await serveSztp(new SztpBootstrapService(oCore), oAdmin);
  closers.push(() => oServer.app.close());

  // At the maker: the owner is known by its certificate only; the device is bound to it and redirected.
  const mOwnerTenant = await fx.core.registry.createTenant(by, 'Globex', 'owner');
  const mOwner = await mAdmin.registerOwner(by, {
    tenantId: mOwnerTenant.id,
    name: 'globex',
    chainPem: owner.certificatePem,
  });
  await mAdmin.bind(by, { tenantId: fx.tenantId, ownerId: mOwner.id, serials: [device.serial] });
  await mAdmin.setRecord(by, {
    ownerId: mOwner.id,
    scope: 'owner',
    scopeId: mOwner.id,
    document: {
      'ietf-sztp-conveyed-info:redirect-information': {
        'bootstrap-server': [
          {
            address: '127.0.0.1',
            port: oServer.port,
            'trust-anchor': Buffer.from(degenerateCms([oServer.tlsCa.der])).toString('base64'),
          },
        ],
      },
    },
  });
  const mDevice = (await fx.core.registry.findDeviceBySerial(fx.tenantId, device.serial))!;
  const voucher = await mBoot.issueVoucher('test', mDevice.id);
  const oDevice = (await oCore.registry.findDeviceBySerial(oMaker.id, device.serial))!;
  await oAdmin.importVoucher(by, { ownerId: owner.id, deviceId: oDevice.id, ...voucher });
  const mServer = await serveSztp(mBoot, mAdmin);
  closers.push(() => mServer.app.close());

  // The device: its IDevID from the secure element, the maker's server and the MASA root, nothing else.
  const platform = new MemoryPlatform({ fetch: () => Promise.resolve(image) });
  const result = await runAgent({
    state: await simulatedDeviceState(device, {
      bootstrapServers: [{ address: '127.0.0.1', port: mServer.port }],
      serverTrustAnchors: [mServer.tlsCa.der],
      voucherTrustAnchors: fromPemAll(masa.certificatePem, 'CERTIFICATE'),
      clock: fx.core.clock,
    }),
    platform,
  });
  assert.equal(result.ok, true, JSON.stringify(result.events));
  assert.deepEqual(platform.bootImage, image);
  assert.equal(new TextDecoder().decode(platform.configuration), '{"hostname":"globex-sensor"}');
  assert.equal(result.reports.at(-1)?.type, 'bootstrap-complete');

  // Every report the device sent is in a log: the maker's up to the redirect, the owner's after it.
  const progress = (log: { progressType?: string | null }[]) =>
    log.map((e) => e.progressType).filter((t): t is string => typeof t === 'string');
  const mLog = await mAdmin.log(mOwnerTenant.id, mDevice.id);
  const oLog = await oAdmin.log(oTenant.id, oDevice.id);
  assert.equal(
    mLog[0]?.details['signed'],
    false,
    'the redirect is unsigned: the device trusts it provisionally',
  );
  assert.equal(oLog[0]?.details['signed'], true, 'owner-signed conveyed information with a voucher');
  assert.deepEqual(
    [...progress(mLog), ...progress(oLog)],
    result.reports.map((r) => r.type),
  );
  assert.equal(oLog.at(-1)?.progressType, 'bootstrap-complete');
});
