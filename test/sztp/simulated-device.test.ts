/**
 * Zero-touch onboarding of a factory-provisioned simulated device: the station provisions it (the IDevID
 * chain lands in its secure element), then the device bootstraps by SZTP with nothing but that identity and
 * its trust anchors, through the library and through `imprint device onboard --state`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deviceIdevidCommand, deviceOnboardCommand } from '../../src/cli/device-onboard.ts';
import { fromPemAll, toPem } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { simulatedDeviceState } from '../../src/device/sztp/simulated.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { SztpAdminService } from '../../src/sztp/admin-service.ts';
import { SztpBootstrapService } from '../../src/sztp/bootstrap-service.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import { factoryFixture, type FactoryFixture } from '../factory/helpers/factory.ts';
import { sztpTxtName, sztpTxtRecords } from '../../src/device/sztp/discovery.ts';
import { startDns } from './dns-server.ts';
import { onboardingDoc, serveSztp } from './world.ts';

const by = { actor: 'test' };
const dir = mkdtempSync(join(tmpdir(), 'imprint-sztp-sim-'));
const image = new TextEncoder().encode('ImprintOS 2.0 for simulated devices');
const hash = new Uint8Array(createHash('sha256').update(image).digest());
const imageServer = createServer((_req, res) => res.end(Buffer.from(image)));
let fx: FactoryFixture;
let admin: SztpAdminService;
let server: Awaited<ReturnType<typeof serveSztp>>;
let masaPem: string;
let ownerId: string;
let ownerTenantId: string;
let bootstrap: SztpBootstrapService;

/** Provisions a fresh simulated device (state file in `dir`) at the station; returns its path. */
async function provisioned(name: string): Promise<string> {
  const path = join(dir, name);
  const d = SimulatedDevice.create(path, { model: fx.modelName });
  const [a, b] = duplexPair();
  new LinkServer(b, new DeviceAgent(d).handle);
  const r = await provisionDevice(new LinkClient(a, { timeoutMs: 5000 }), fx.api, { batchId: fx.batch.id });
  assert.equal(r.outcome, 'provisioned');
  a.destroy();
  return path;
}

before(async () => {
  await new Promise<void>((r) => imageServer.listen(0, '127.0.0.1', r));
  fx = await factoryFixture();
  admin = new SztpAdminService(fx.core);
  bootstrap = new SztpBootstrapService(fx.core);
  // The manufacturer: its IDevID CA authenticates devices; its MASA key (generated here) signs vouchers.
  const mfgCa = fx.cas.find((c) => c.role === 'manufacturer');
  assert.ok(mfgCa !== undefined);
  await admin.addManufacturerCa(by, fx.tenantId, toPem('CERTIFICATE', mfgCa.certificate));
  masaPem = (await admin.generateMasa(by, { tenantId: fx.tenantId })).certificatePem;
  // The owner: a key generated in the key store, its certificate its own pinned-domain-cert.
  ownerTenantId = (await fx.core.registry.createTenant(by, 'Globex', 'owner')).id;
  ownerId = (await admin.generateOwner(by, { tenantId: ownerTenantId, name: 'globex' })).id;
  const doc = onboardingDoc(image, hash) as Record<string, Record<string, Record<string, unknown>>>;
  doc['ietf-sztp-conveyed-info:onboarding-information']!['boot-image']!['download-uri'] = [
    `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}/img`,
  ];
  await admin.setRecord(by, { ownerId, scope: 'owner', scopeId: ownerId, document: doc });
  server = await serveSztp(bootstrap, admin);
});

after(async () => {
  await server.app.close();
  await fx.core.close();
  await new Promise((r) => imageServer.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('the factory stores the IDevID chain in the secure element, and it survives a restart', async () => {
  const path = await provisioned('stored.cbor');
  const device = SimulatedDevice.open(path);
  const chain = await device.secureElement.identityChain();
  assert.ok(chain.length >= 2, 'leaf and its CA chain');
  const rec = await fx.core.registry.findDeviceBySerial(fx.tenantId, device.serial);
  const certs = await fx.core.store.db
    .selectFrom('certificates')
    .select('der')
    .where('device_id', '=', rec!.id)
    .execute();
  assert.deepEqual(chain[0], new Uint8Array(certs[0]!.der));
  assert.equal(device.fuses().provisioned, true);
});

test('a factory-provisioned simulated device bootstraps by SZTP (voucher, owner-signed data, boot image)', async () => {
  const path = await provisioned('lib.cbor');
  const device = SimulatedDevice.open(path);
  await admin.bind(by, { tenantId: fx.tenantId, ownerId, serials: [device.serial] });
  const state = await simulatedDeviceState(device, {
    bootstrapServers: [{ address: '127.0.0.1', port: server.port }],
    serverTrustAnchors: [server.tlsCa.der],
    voucherTrustAnchors: fromPemAll(masaPem, 'CERTIFICATE'),
    clock: fx.core.clock,
  });
  const platform = new MemoryPlatform();
  const result = await runAgent({ state, platform });
  assert.equal(result.ok, true, JSON.stringify(result.events));
  assert.deepEqual(platform.bootImage, image);
  assert.equal(new TextDecoder().decode(platform.configuration), '{"hostname":"sensor"}');
  assert.equal(result.reports.at(-1)?.type, 'bootstrap-complete');

  const rec = (await fx.core.registry.findDeviceBySerial(fx.tenantId, device.serial))!;
  assert.equal(rec.state, 'onboarded');
  assert.equal(rec.tenantId, ownerTenantId);
  const log = await admin.log(ownerTenantId, rec.id);
  assert.equal(log[0]?.details['signed'], true, 'owner-signed conveyed information with a voucher');
  assert.equal(log.at(-1)?.progressType, 'bootstrap-complete');
});

test('imprint device onboard --state bootstraps a simulated device from its state file', async () => {
  const path = await provisioned('cli.cbor');
  const serial = SimulatedDevice.open(path).serial;
  await admin.bind(by, { tenantId: fx.tenantId, ownerId, serials: [serial] });
  writeFileSync(join(dir, 'server-ca.pem'), toPem('CERTIFICATE', server.tlsCa.der));
  writeFileSync(join(dir, 'masa.pem'), masaPem);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // Only the commands' JSON (strings); the test runner's own binary reports still go through.
  process.stdout.write = (s: string | Uint8Array) => (typeof s === 'string' ? (out.push(s), true) : write(s));
  try {
    await deviceIdevidCommand().parseAsync(['--state', path], { from: 'user' });
    await deviceOnboardCommand().parseAsync(
      [
        '--state',
        path,
        '--server',
        `https://localhost:${server.port}`,
        '--server-ca',
        join(dir, 'server-ca.pem'),
        '--voucher-ca',
        join(dir, 'masa.pem'),
      ],
      { from: 'user' },
    );
  } finally {
    process.stdout.write = write;
  }
  const shown = JSON.parse(out[0] ?? '{}') as { serial: string; idevid: { chainLength: number } };
  assert.equal(shown.serial, serial);
  assert.ok(shown.idevid.chainLength >= 2);
  const result = JSON.parse(out[1] ?? '{}') as { ok: boolean; stateDir: string };
  assert.equal(result.ok, true, out[1]);
  assert.equal(result.stateDir, `${path}.sztp`);
  assert.deepEqual(new Uint8Array(readFileSync(join(`${path}.sztp`, 'boot-image.bin'))), image);
  assert.equal(JSON.parse(readFileSync(join(`${path}.sztp`, 'os.json'), 'utf8')).version, '2.0');
});

test('a device the factory never provisioned cannot bootstrap (no IDevID in its secure element)', async () => {
  const device = SimulatedDevice.create(undefined, { model: fx.modelName });
  await device.secureElement.generateIdentityKey();
  await assert.rejects(
    simulatedDeviceState(device, {
      bootstrapServers: [],
      serverTrustAnchors: [],
      voucherTrustAnchors: [],
      clock: fx.core.clock,
    }),
    (e) => hasCode(e, 'ERR_SZTP_NO_IDEVID'),
  );
});

test('an owner the device does not own is refused: a voucher for another MASA fails verification', async () => {
  const path = await provisioned('wrong-masa.cbor');
  const device = SimulatedDevice.open(path);
  await admin.bind(by, { tenantId: fx.tenantId, ownerId, serials: [device.serial] });
  const state = await simulatedDeviceState(device, {
    bootstrapServers: [{ address: '127.0.0.1', port: server.port }],
    serverTrustAnchors: [server.tlsCa.der],
    // The device trusts some other MASA: the voucher does not verify and nothing is applied.
    voucherTrustAnchors: [server.tlsCa.der],
    clock: fx.core.clock,
  });
  const platform = new MemoryPlatform();
  const result = await runAgent({ state, platform });
  assert.equal(result.ok, false);
  assert.equal(result.error?.code, 'ERR_SZTP_VOUCHER_SIGNATURE');
  assert.equal(platform.bootImage, undefined);
  assert.equal(platform.configuration, undefined);
});

test('imprint device onboard --dns-domain finds its bootstrapping data in TXT records (RFC 8572 §4.2)', async () => {
  const path = await provisioned('dns.cbor');
  const device = SimulatedDevice.open(path);
  await admin.bind(by, { tenantId: fx.tenantId, ownerId, serials: [device.serial] });
  // The owner publishes the device's signed artifacts (nonceless voucher) under <serial>._sztp.<domain>.
  const caller = await bootstrap.authenticate(await device.secureElement.identityChain());
  const artifacts = await bootstrap.getBootstrappingData(caller, { signedDataPreferred: true });
  const dns = await startDns({
    txt: { [sztpTxtName(device.serial, 'example.test').toLowerCase()]: sztpTxtRecords(artifacts) },
  });
  writeFileSync(join(dir, 'masa.pem'), masaPem);
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (s: string | Uint8Array) => (typeof s === 'string' ? (out.push(s), true) : write(s));
  try {
    await deviceOnboardCommand().parseAsync(
      [
        '--state',
        path,
        '--voucher-ca',
        join(dir, 'masa.pem'),
        '--dns-domain',
        'example.test',
        '--dns-server',
        dns.address,
      ],
      { from: 'user' },
    );
  } finally {
    process.stdout.write = write;
    await dns.close();
  }
  const result = JSON.parse(out.join('')) as { ok: boolean; events: { server: string }[] };
  assert.equal(result.ok, true, out.join(''));
  assert.equal(result.events[0]?.server, `dns:${device.serial}._sztp.example.test`);
  assert.deepEqual(new Uint8Array(readFileSync(join(`${path}.sztp`, 'boot-image.bin'))), image);
});
