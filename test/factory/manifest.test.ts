import 'reflect-metadata';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto, sign as nodeSign, createPrivateKey } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { ManifestService, verifyManifest } from '../../src/factory/manifest.ts';
import { importVendorManifest, VENDOR_MANIFEST_TYP } from '../../src/factory/vendor-import.ts';
import { toBase64, toBase64Url } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { factoryFixture } from './helpers/factory.ts';
import { duplexPair } from './helpers/duplex-pair.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function provisioned(fx: Awaited<ReturnType<typeof factoryFixture>>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [a, b] = duplexPair();
    new LinkServer(b, new DeviceAgent(SimulatedDevice.create(undefined, { model: fx.modelName })).handle);
    await provisionDevice(new LinkClient(a), fx.api, { batchId: fx.batch.id });
  }
}

test('a batch manifest is a JWS by the manufacturer CA that verifies to the root, and tampering is caught', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const svc = new ManifestService(fx.core);
  await assert.rejects(svc.sign({ actor: 'op' }, fx.tenantId, fx.batch.id), (e) =>
    hasCode(e, 'ERR_MANIFEST_EMPTY'),
  );
  await provisioned(fx, 2);
  const { jws, devices } = await svc.sign({ actor: 'op' }, fx.tenantId, fx.batch.id);
  assert.equal(devices, 2);
  const root = fx.cas.find((c) => c.role === 'root')!.certificate;
  const { manifest } = verifyManifest(jws, [root]);
  assert.equal(manifest.devices.length, 2);
  assert.deepEqual(manifest.devices[0]!.fuses, { secureBoot: true, debugLocked: true, provisioned: true });
  const [h, p, s] = jws.split('.') as [string, string, string];
  const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as { devices: { serial: string }[] };
  forged.devices[0]!.serial = 'SN-FORGED';
  assert.throws(
    () => verifyManifest(`${h}.${toBase64Url(Buffer.from(JSON.stringify(forged)))}.${s}`),
    (e) => hasCode(e, 'ERR_MANIFEST_SIGNATURE'),
  );
  assert.throws(
    () => verifyManifest('a.b'),
    (e) => hasCode(e, 'ERR_MANIFEST_MALFORMED'),
  );
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const other = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Other Root',
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true)],
  });
  assert.throws(
    () => verifyManifest(jws, [new Uint8Array(other.rawData)]),
    (e) => hasCode(e, 'ERR_MANIFEST_UNTRUSTED'),
  );
});

test('a silicon vendor manifest registers pre-provisioned devices by key and certificate, all or nothing', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const vendorKeys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const vendorCa = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=Chip Vendor CA',
    keys: vendorKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const devices = [];
  for (let i = 0; i < 3; i++) {
    const dk = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create({
      subject: `CN=SE-${i}`,
      issuer: vendorCa.subject,
      publicKey: dk.publicKey,
      signingKey: vendorKeys.privateKey,
      signingAlgorithm: alg,
      serialNumber: `0${i + 1}`,
    });
    devices.push({
      serial: `SE-${i}`,
      publicKey: toBase64(new Uint8Array(cert.publicKey.rawData)),
      certificate: toBase64(new Uint8Array(cert.rawData)),
    });
  }
  const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', vendorKeys.privateKey));
  const jwsOf = (payload: unknown) => {
    const header = {
      alg: 'ES256',
      typ: VENDOR_MANIFEST_TYP,
      x5c: [toBase64(new Uint8Array(vendorCa.rawData))],
    };
    const input = `${toBase64Url(Buffer.from(JSON.stringify(header)))}.${toBase64Url(Buffer.from(JSON.stringify(payload)))}`;
    const sig = nodeSign('sha256', Buffer.from(input), {
      key: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${toBase64Url(sig)}`;
  };
  const anchors = [new Uint8Array(vendorCa.rawData)];
  const input = { tenantId: fx.tenantId, modelId: fx.batch.modelId, anchors };
  const swapped = [...devices, { ...devices[0]!, serial: 'SE-9', publicKey: devices[1]!.publicKey }];
  await assert.rejects(
    importVendorManifest(
      fx.core,
      { actor: 'op' },
      { ...input, jws: jwsOf({ version: 1, vendor: 'ChipCo', devices: swapped }) },
    ),
    (e) => hasCode(e, 'ERR_MANIFEST_DEVICE_INVALID'),
  );
  await assert.rejects(
    importVendorManifest(
      fx.core,
      { actor: 'op' },
      { ...input, anchors: [], jws: jwsOf({ version: 1, vendor: 'ChipCo', devices }) },
    ),
    (e) => hasCode(e, 'ERR_MANIFEST_UNTRUSTED'),
  );
  assert.equal(
    (await fx.core.registry.listDevices(fx.tenantId)).length,
    0,
    'nothing written by refused imports',
  );
  const r = await importVendorManifest(
    fx.core,
    { actor: 'op' },
    { ...input, jws: jwsOf({ version: 1, vendor: 'ChipCo', devices }) },
  );
  assert.deepEqual(r, { imported: 3, vendor: 'ChipCo' });
  const listed = await fx.core.registry.listDevices(fx.tenantId);
  assert.equal(listed.length, 3);
  assert.ok(listed.every((d) => d.identityKeyFingerprint !== null));
  await assert.rejects(
    importVendorManifest(
      fx.core,
      { actor: 'op' },
      { ...input, jws: jwsOf({ version: 1, vendor: 'ChipCo', devices }) },
    ),
    (e) => hasCode(e, 'ERR_MANIFEST_KEY_IN_USE'),
  );
});
