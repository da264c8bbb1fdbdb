import 'reflect-metadata';
import assert from 'node:assert/strict';
import { createPrivateKey, sign as nodeSign, webcrypto } from 'node:crypto';
import { test } from 'node:test';
import * as x509 from '@peculiar/x509';
import { bytesEqual, toBase64, toBase64Url } from '../../src/core/encoding.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import type { LinkError } from '../../src/factory/link/errors.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { importVendorManifest, VENDOR_MANIFEST_TYP } from '../../src/factory/vendor-import.ts';
import { duplexPair } from './helpers/duplex-pair.ts';
import { factoryFixture, type FactoryFixture } from './helpers/factory.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A chip vendor: a CA that certifies keys its secure elements generated, and signs manifests of them. */
async function chipVendor() {
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Chip Vendor CA',
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  let serial = 1;
  return {
    caDer: new Uint8Array(ca.rawData),
    /** The chip factory: an identity key born in the element, certified by the vendor and stored with it. */
    async preProvision(
      device: SimulatedDevice,
    ): Promise<{ serial: string; publicKey: string; certificate: string }> {
      const spki = await device.secureElement.generateIdentityKey();
      const cert = await x509.X509CertificateGenerator.create({
        subject: `CN=${device.serial}`,
        issuer: ca.subject,
        publicKey: await webcrypto.subtle.importKey('spki', spki, alg, true, ['verify']),
        signingKey: keys.privateKey,
        signingAlgorithm: alg,
        serialNumber: `0${serial++}`,
      });
      await device.secureElement.storeIdentityChain([
        new Uint8Array(cert.rawData),
        new Uint8Array(ca.rawData),
      ]);
      return {
        serial: device.serial,
        publicKey: toBase64(spki),
        certificate: toBase64(new Uint8Array(cert.rawData)),
      };
    },
    manifest(devices: unknown[]): string {
      const header = { alg: 'ES256', typ: VENDOR_MANIFEST_TYP, x5c: [toBase64(new Uint8Array(ca.rawData))] };
      const payload = { version: 1, vendor: 'ChipCo', devices };
      const input = `${toBase64Url(Buffer.from(JSON.stringify(header)))}.${toBase64Url(Buffer.from(JSON.stringify(payload)))}`;
      const sig = nodeSign('sha256', Buffer.from(input), {
        key: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
        dsaEncoding: 'ieee-p1363',
      });
      return `${input}.${toBase64Url(sig)}`;
    },
  };
}

function connect(device: SimulatedDevice): LinkClient {
  const [a, b] = duplexPair();
  new LinkServer(b, new DeviceAgent(device).handle);
  return new LinkClient(a, { timeoutMs: 2000, retries: 1 });
}

const certsOf = (fx: FactoryFixture, deviceId: string) =>
  fx.core.store.db.selectFrom('certificates').selectAll().where('device_id', '=', deviceId).execute();

test('a silicon vendor pre-provisioned device keeps its chip identity through the station', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const vendor = await chipVendor();
  const good = SimulatedDevice.create(undefined, { model: fx.modelName });
  const swapped = SimulatedDevice.create(undefined, { model: fx.modelName });
  const entries = [await vendor.preProvision(good), await vendor.preProvision(swapped)];
  await importVendorManifest(
    fx.core,
    { actor: 'test' },
    {
      tenantId: fx.tenantId,
      modelId: fx.batch.modelId,
      jws: vendor.manifest(entries),
      anchors: [vendor.caDer],
    },
  );
  const chipKey = await good.secureElement.identityPublicKey();

  const res = await provisionDevice(connect(good), fx.api, { batchId: fx.batch.id });
  assert.equal(res.outcome, 'provisioned');
  assert.ok(
    bytesEqual(res.certificate!, Buffer.from(entries[0]!.certificate, 'base64')),
    'the vendor certificate',
  );
  assert.ok(bytesEqual((await good.secureElement.identityPublicKey())!, chipKey!), 'the chip key was kept');
  assert.deepEqual(await good.secureElement.secretNames(), ['appKey', 'cloudToken', 'wifiKey']);
  assert.deepEqual(good.fuses(), { secureBoot: true, debugLocked: true, provisioned: true });
  const dev = (await fx.core.registry.findDeviceBySerial(fx.tenantId, good.serial))!;
  assert.equal(dev.state, 'provisioned');
  assert.equal(dev.batchId, fx.batch.id);
  assert.deepEqual(
    (await certsOf(fx, dev.id)).map((c) => [c.profile, c.status]),
    [['vendor-idevid', 'good']],
    'no Imprint IDevID was issued',
  );
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 1, 'it used one unit of the quota');
  const actions = (
    await fx.core.store.db.selectFrom('audit_entries').select('action').orderBy('seq').execute()
  ).map((r) => r.action);
  assert.ok(actions.includes('factory.identity.vendor'));

  // A part whose element holds another key than the vendor certified (a swapped or cloned chip): refused.
  await swapped.secureElement.generateIdentityKey();
  await assert.rejects(provisionDevice(connect(swapped), fx.api, { batchId: fx.batch.id }), (e) => {
    assert.equal((e as LinkError).code, 'ERR_FACTORY_CSR_KEY_MISMATCH');
    return true;
  });
  const other = (await fx.core.registry.findDeviceBySerial(fx.tenantId, swapped.serial))!;
  assert.notEqual(other.state, 'provisioned');
  assert.deepEqual(
    (await certsOf(fx, other.id)).map((c) => [c.profile, c.status]),
    [['vendor-idevid', 'good']],
    'the vendor certificate is not revoked, and nothing was issued',
  );
  assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 1);
  assert.equal(swapped.fuses().provisioned, false);
});
