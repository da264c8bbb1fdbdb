import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkError } from '../../src/factory/link/errors.ts';
import { LinkServer, type LinkHandler } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { factoryFixture, type FactoryFixture } from './helpers/factory.ts';
import { duplexPair } from './helpers/duplex-pair.ts';

/** Connects a device (optionally with a tampered handler) to a fresh link. */
function connect(device: SimulatedDevice, wrap?: (h: LinkHandler) => LinkHandler): LinkClient {
  const [a, b] = duplexPair();
  const h = new DeviceAgent(device).handle;
  new LinkServer(b, wrap === undefined ? h : wrap(h));
  return new LinkClient(a, { timeoutMs: 500, retries: 1 });
}

async function certs(fx: FactoryFixture, deviceId: string) {
  return fx.core.store.db.selectFrom('certificates').selectAll().where('device_id', '=', deviceId).execute();
}

async function actions(fx: FactoryFixture): Promise<string[]> {
  return (await fx.core.store.db.selectFrom('audit_entries').select('action').orderBy('seq').execute()).map(
    (r) => r.action,
  );
}

test('a device with its lock bit set is refused at read-id and nothing is written', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  d.burnFuses(['provisioned']);
  await assert.rejects(provisionDevice(connect(d), fx.api, { batchId: fx.batch.id }), (e) => {
    assert.ok(e instanceof LinkError);
    assert.equal(e.code, 'ERR_FACTORY_DEVICE_LOCKED');
    assert.equal(e.device, d.serial);
    return true;
  });
  assert.equal(await d.secureElement.identityPublicKey(), undefined);
  const dev = await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial);
  assert.notEqual(dev?.state, 'provisioned');
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 0);
});

test('a CSR for another key than the device reported is refused, audited, and leaves no identity', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  const other = SimulatedDevice.create(undefined, { model: fx.modelName });
  const otherKey = await other.secureElement.generateIdentityKey();
  const liar =
    (h: LinkHandler): LinkHandler =>
    async (m, p) => {
      const r = await h(m, p);
      return m === 'identity.generate' ? { publicKey: otherKey } : r;
    };
  await assert.rejects(provisionDevice(connect(d, liar), fx.api, { batchId: fx.batch.id }), (e) => {
    assert.equal((e as LinkError).code, 'ERR_FACTORY_CSR_KEY_MISMATCH');
    assert.equal((e as LinkError).step, 'issue');
    return true;
  });
  const dev = (await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial))!;
  assert.equal(dev.state, 'registered');
  assert.equal((await certs(fx, dev.id)).length, 0);
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 0);
  const a = await actions(fx);
  assert.ok(a.includes('factory.refused') && a.includes('factory.device.failed'));
});

test('a failure after issuance revokes the identity (cessationOfOperation) and returns the quota', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  // One payload bit flipped on its way to the device: the image hash no longer matches its signature.
  const tampered: typeof fx.api = {
    ...fx.api,
    firmware: async (batchId) => {
      const fw = await fx.api.firmware(batchId);
      const image = fw.image.slice();
      image[0x200 + 10]! ^= 1;
      return { ...fw, image };
    },
  };
  await assert.rejects(provisionDevice(connect(d), tampered, { batchId: fx.batch.id }), (e) => {
    assert.equal((e as LinkError).code, 'ERR_DEVICE_FIRMWARE_SIGNATURE');
    assert.equal((e as LinkError).step, 'firmware');
    return true;
  });
  const dev = (await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial))!;
  assert.equal(dev.state, 'registered');
  assert.equal(dev.identityKeyFingerprint, null);
  const c = await certs(fx, dev.id);
  assert.equal(c.length, 1);
  assert.equal(c[0]!.status, 'revoked');
  assert.equal(c[0]!.revocation_reason, 5);
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 0);
  assert.deepEqual(d.fuses(), { secureBoot: false, debugLocked: false, provisioned: false });
  // The same device succeeds on a re-run with a fresh identity; the revoked one stays revoked.
  const ok = await provisionDevice(connect(d), fx.api, { batchId: fx.batch.id });
  assert.equal(ok.outcome, 'provisioned');
  const after = await certs(fx, dev.id);
  assert.equal(after.filter((x) => x.status === 'good').length, 1);
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 1);
});

for (const [versions, step] of [
  [[1], /^config$/],
  // On link v2 the calls before the fuses travel together, so the failure names the span in flight.
  [[2, 1], /^(issue|firmware)\.\.config$/],
] as const) {
  test(`a disconnect mid-step names the device and step and leaves nothing provisioned (link v${versions[0]})`, async (t) => {
    const fx = await factoryFixture();
    t.after(() => fx.core.close());
    const d = SimulatedDevice.create(undefined, { model: fx.modelName });
    const [a, b] = duplexPair();
    const h = new DeviceAgent(d).handle;
    new LinkServer(
      b,
      async (m, p) => {
        if (m === 'config.write') b.destroy();
        return h(m, p);
      },
      { versions },
    );
    await assert.rejects(
      provisionDevice(new LinkClient(a, { timeoutMs: 500 }), fx.api, { batchId: fx.batch.id }),
      (e) => {
        assert.equal((e as LinkError).code, 'ERR_LINK_DISCONNECTED');
        assert.match((e as LinkError).step, step);
        assert.match((e as Error).message, new RegExp(d.serial));
        return true;
      },
    );
    const dev = (await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial))!;
    assert.equal(dev.state, 'registered');
    assert.ok((await certs(fx, dev.id)).every((c) => c.status === 'revoked'));
    assert.deepEqual(d.fuses(), { secureBoot: false, debugLocked: false, provisioned: false });
  });
}

test('a device speaking only link v1 is provisioned one call per frame', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  const [a, b] = duplexPair();
  const seen: string[] = [];
  const h = new DeviceAgent(d).handle;
  new LinkServer(b, (m, p) => (seen.push(m), h(m, p)), { versions: [1] });
  const link = new LinkClient(a, { timeoutMs: 500 });
  const r = await provisionDevice(link, fx.api, { batchId: fx.batch.id });
  assert.equal(r.outcome, 'provisioned');
  assert.equal(link.version, 1);
  assert.ok(!seen.includes('batch'));
  assert.deepEqual(d.fuses(), { secureBoot: true, debugLocked: true, provisioned: true });
});

test('the batch quota and time window are enforced by the server', async (t) => {
  const fx = await factoryFixture({ quantity: 1 });
  t.after(() => fx.core.close());
  const d1 = SimulatedDevice.create(undefined, { model: fx.modelName });
  const d2 = SimulatedDevice.create(undefined, { model: fx.modelName });
  await provisionDevice(connect(d1), fx.api, { batchId: fx.batch.id });
  await assert.rejects(provisionDevice(connect(d2), fx.api, { batchId: fx.batch.id }), (e) => {
    assert.equal((e as LinkError).code, 'ERR_FACTORY_QUOTA_EXCEEDED');
    assert.equal((e as LinkError).step, 'issue');
    return true;
  });
  const dev2 = (await fx.core.registry.findDeviceBySerial(fx.tenantId, d2.serial))!;
  assert.equal((await certs(fx, dev2.id)).length, 0);
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 1);
  fx.core.clock.advance(2 * 3600_000);
  const d3 = SimulatedDevice.create(undefined, { model: fx.modelName });
  await assert.rejects(
    provisionDevice(connect(d3), fx.api, { batchId: fx.batch.id }),
    (e) => (e as LinkError).code === 'ERR_FACTORY_BATCH_WINDOW',
  );
  assert.equal(await fx.core.registry.findDeviceBySerial(fx.tenantId, d3.serial), undefined);
});

test('a station that swaps in its own transport key cannot get the secrets sealed', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  const evil = SimulatedDevice.create(undefined, { model: fx.modelName });
  const evilKey = await evil.secureElement.transportPublicKey();
  const mitm =
    (h: LinkHandler): LinkHandler =>
    async (m, p) => {
      const r = await h(m, p);
      return m === 'transport.key' ? { ...r, publicKey: evilKey } : r;
    };
  await assert.rejects(
    provisionDevice(connect(d, mitm), fx.api, { batchId: fx.batch.id }),
    (e) => (e as LinkError).code === 'ERR_FACTORY_TRANSPORT_KEY_UNVERIFIED',
  );
});

test('a station that crashed after issuance resumes without a second identity', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  let crash = true;
  const dying =
    (h: LinkHandler): LinkHandler =>
    async (m, p) => {
      if (m === 'config.write' && crash) throw new Error('power cut');
      return h(m, p);
    };
  // Simulate a crash: run the flow against an API whose abort never reaches the server.
  const noAbort = { ...fx.api, abort: () => Promise.resolve() };
  await assert.rejects(provisionDevice(connect(d, dying), noAbort, { batchId: fx.batch.id }));
  crash = false;
  const r = await provisionDevice(connect(d, dying), fx.api, { batchId: fx.batch.id });
  assert.equal(r.outcome, 'provisioned');
  const dev = (await fx.core.registry.findDeviceBySerial(fx.tenantId, d.serial))!;
  assert.equal((await certs(fx, dev.id)).length, 1);
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 1);
  const again = await provisionDevice(connect(d), fx.api, { batchId: fx.batch.id });
  assert.equal(again.outcome, 'already');
});

test('a station that crashed after burning the fuses finishes the locked device on the re-run', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const d = SimulatedDevice.create(undefined, { model: fx.modelName });
  let crash = true;
  const dying =
    (h: LinkHandler): LinkHandler =>
    async (m, p) => {
      if (m === 'status' && crash) throw new Error('power cut');
      return h(m, p);
    };
  const noAbort = { ...fx.api, abort: () => Promise.resolve() };
  await assert.rejects(provisionDevice(connect(d, dying), noAbort, { batchId: fx.batch.id }));
  assert.equal(d.fuses().provisioned, true, 'the lock bit was burned before the crash');
  crash = false;
  const r = await provisionDevice(connect(d, dying), fx.api, { batchId: fx.batch.id });
  assert.equal(r.outcome, 'provisioned');
  assert.equal((await fx.core.registry.getDevice(r.deviceId)).state, 'provisioned');
  assert.equal((await certs(fx, r.deviceId)).length, 1);
});
