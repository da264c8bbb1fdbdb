/**
 * RFC 8572 §4.2 DNS discovery through Node's real resolver against a test DNS server: device-specific TXT
 * records at `<serial-number>._sztp.<domain>` carrying the binary artifacts as `ci=`, `oc=`, `ov=`, and
 * device-independent SRV records at `_sztp._tcp.<domain>`.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/device/sztp/agent.ts';
import {
  discoverByDns,
  parseSztpTxtRecords,
  sztpSrvName,
  sztpTxtName,
  sztpTxtRecords,
} from '../../src/device/sztp/discovery.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { unsignedConveyed } from '../../src/sztp/cms/content.ts';
import { parseConveyedJson, serializeConveyedInformation } from '../../src/sztp/conveyed-info.ts';
import type { GetBootstrappingDataOutput } from '../../src/sztp/types.ts';
import { startDns, type TestDns } from './dns-server.ts';
import { makeWorld, type World } from './world.ts';

const SERIAL = 'SN-DNS-1';
const by = { actor: 'test' };
let w: World;
let signed: GetBootstrappingDataOutput;
let unsigned: GetBootstrappingDataOutput;
const servers: TestDns[] = [];

function resolverFor(dns: TestDns): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([dns.address]);
  return r;
}

before(async () => {
  w = await makeWorld({ serial: SERIAL });
  await w.admin.bind(by, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: [SERIAL] });
  await w.admin.setRecord(by, {
    ownerId: w.ownerId,
    scope: 'owner',
    scopeId: w.ownerId,
    document: {
      'ietf-sztp-conveyed-info:onboarding-information': {
        configuration: Buffer.from('{"hostname":"from-dns"}').toString('base64'),
      },
    },
  });
  // What an owner publishes in DNS: the same artifacts a bootstrap server returns, nonceless (expiring) voucher.
  const caller = await w.bootstrap.authenticate([w.idevid.der]);
  // DNS carries the three artifacts only (no reporting-level).
  const { reportingLevel: _level, ...artifacts } = await w.bootstrap.getBootstrappingData(caller, {
    signedDataPreferred: true,
  });
  signed = artifacts;
  assert.ok(signed.ownershipVoucher !== undefined && signed.ownerCertificate !== undefined);
  unsigned = { conveyedInformation: (await makeUnsigned()).conveyedInformation };
});

async function makeUnsigned(): Promise<GetBootstrappingDataOutput> {
  const u = await makeWorld({ serial: SERIAL, ownerKey: false, masa: false });
  try {
    await u.admin.bind(by, { tenantId: u.mfgTenantId, ownerId: u.ownerId, serials: [SERIAL] });
    await u.admin.setRecord(by, {
      ownerId: u.ownerId,
      scope: 'owner',
      scopeId: u.ownerId,
      document: {
        'ietf-sztp-conveyed-info:onboarding-information': {
          configuration: Buffer.from('{"hostname":"evil"}').toString('base64'),
        },
      },
    });
    return await u.bootstrap.getBootstrappingData(await u.bootstrap.authenticate([u.idevid.der]), {
      signedDataPreferred: false,
    });
  } finally {
    await u.close();
  }
}

after(async () => {
  for (const s of servers) await s.close();
  await w.close();
});

test('record names and TXT layout follow RFC 8572 §4.2: binary ci/oc/ov values, no base64', () => {
  assert.equal(sztpTxtName('SN-1', 'example.com'), 'SN-1._sztp.example.com');
  assert.equal(sztpTxtName('SN-1', 'local.'), 'SN-1._sztp.local');
  assert.equal(sztpSrvName('example.com'), '_sztp._tcp.example.com');
  const records = sztpTxtRecords(signed);
  assert.equal(records.length, 3);
  const whole = records.map((r) => Buffer.concat(r.map((s) => Buffer.from(s))));
  assert.deepEqual(
    whole.map((b) => b.subarray(0, 3).toString('latin1')),
    ['ci=', 'oc=', 'ov='],
  );
  // The value is the DER artifact itself (a CMS ContentInfo SEQUENCE), not its base64 text.
  assert.deepEqual(new Uint8Array(whole[0]!.subarray(3)), signed.conveyedInformation);
  assert.equal(whole[0]![3], 0x30);
  assert.ok(records.every((r) => r.every((s) => s.length <= 255)));
  // Keys are case-insensitive; unknown keys are ignored; oc without ov is not signed data.
  const latin = (b: Uint8Array[]) => b.map((s) => Buffer.from(s).toString('latin1'));
  const back = parseSztpTxtRecords([['x=1'], ...records.map(latin)]);
  assert.deepEqual(back, signed);
  const upper = parseSztpTxtRecords([['CI=', 'abc']]);
  assert.deepEqual(upper?.conveyedInformation, new TextEncoder().encode('abc'));
  assert.equal(parseSztpTxtRecords([latin(records[0]!), latin(records[1]!)]), undefined);
});

test('a device bootstraps from its device-specific TXT records, looked up over real DNS (TCP for size)', async () => {
  const dns = await startDns({
    txt: { [sztpTxtName(SERIAL, 'example.test').toLowerCase()]: sztpTxtRecords(signed) },
  });
  servers.push(dns);
  const found = await discoverByDns(resolverFor(dns), 'example.test', SERIAL);
  assert.equal(found.data.length, 1);
  assert.deepEqual(found.data[0]!.output, signed);
  assert.deepEqual(found.servers, []);
  const platform = new MemoryPlatform();
  const result = await runAgent({
    state: w.state({ bootstrapServers: [] }),
    platform,
    bootstrappingData: found.data,
  });
  assert.equal(result.ok, true, JSON.stringify(result.events));
  assert.equal(new TextDecoder().decode(platform.configuration), '{"hostname":"from-dns"}');
  assert.deepEqual(result.reports, [], 'no bootstrap server to report to');
  assert.equal(result.events[0]?.server, `dns:${SERIAL}._sztp.example.test`);
});

test('tampered or unsigned TXT data is not applied; SRV records give bootstrap servers by priority', async () => {
  const tampered = { ...signed, conveyedInformation: signed.conveyedInformation.slice() };
  const last = tampered.conveyedInformation.length - 1;
  tampered.conveyedInformation[last] = (tampered.conveyedInformation[last] ?? 0) ^ 1;
  for (const [out, code] of [
    [tampered, 'ERR_SZTP_CONVEYED_SIGNATURE'],
    [unsigned, 'ERR_SZTP_ONBOARDING_UNTRUSTED'],
  ] as const) {
    const platform = new MemoryPlatform();
    const r = await runAgent({
      state: w.state({ bootstrapServers: [] }),
      platform,
      bootstrappingData: [{ source: 'dns:test', output: out }],
    });
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, code);
    assert.equal(platform.configuration, undefined);
  }

  const dns = await startDns({
    srv: {
      [sztpSrvName('example.test')]: [
        { priority: 20, weight: 0, port: 9, target: 'unused.example.test' },
        { priority: 10, weight: 5, port: w.port, target: '127.0.0.1' },
        { priority: 10, weight: 0, port: 9, target: 'backup.example.test' },
      ],
    },
  });
  servers.push(dns);
  const found = await discoverByDns(resolverFor(dns), 'example.test', SERIAL);
  assert.deepEqual(found.data, [], 'no TXT records for this device');
  assert.deepEqual(found.servers, [
    { address: '127.0.0.1', port: w.port },
    { address: 'backup.example.test', port: 9 },
    { address: 'unused.example.test', port: 9 },
  ]);
  // The SRV-discovered server is untrusted: only owner-signed data is applied, and it is.
  const platform = new MemoryPlatform();
  const r = await runAgent({
    state: w.state({ bootstrapServers: [] }),
    platform,
    discovered: found.servers.slice(0, 1),
  });
  assert.equal(r.ok, true, JSON.stringify(r.events));
  assert.equal(r.events[0]?.trusted, false);
});

test('an unsigned redirect in TXT records is followed provisionally; the owner-signed answer is then applied', async () => {
  // Only `ci`, unsigned: redirect information to the bootstrap server (no trust anchor: it cannot be trusted).
  const redirect = unsignedConveyed(
    serializeConveyedInformation(
      parseConveyedJson(
        JSON.stringify({
          'ietf-sztp-conveyed-info:redirect-information': {
            'bootstrap-server': [{ address: '127.0.0.1', port: w.port }],
          },
        }),
      ),
      'json',
    ),
    'json',
  );
  const dns = await startDns({
    txt: {
      [sztpTxtName(SERIAL, 'example.test').toLowerCase()]: sztpTxtRecords({ conveyedInformation: redirect }),
    },
  });
  servers.push(dns);
  const found = await discoverByDns(resolverFor(dns), 'example.test', SERIAL);
  assert.equal(found.data[0]?.output.ownershipVoucher, undefined);
  const platform = new MemoryPlatform();
  const r = await runAgent({
    state: w.state({ bootstrapServers: [] }),
    platform,
    bootstrappingData: found.data,
  });
  assert.equal(r.ok, true, JSON.stringify(r.events));
  assert.deepEqual(
    r.events.map((e) => [e.what, e.trusted]),
    [
      ['redirect (provisional)', false],
      ['bootstrap-complete', false],
    ],
  );
  assert.equal(new TextDecoder().decode(platform.configuration), '{"hostname":"from-dns"}');
  assert.equal(r.reports.at(-1)?.type, 'bootstrap-complete', 'reports only after the owner was verified');
  assert.ok(!r.reports.some((x) => x.type === 'bootstrap-initiated'));
});
