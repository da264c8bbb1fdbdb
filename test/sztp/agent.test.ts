import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { runAgent, type AgentResult } from '../../src/device/sztp/agent.ts';
import {
  encodeDhcpBootstrapServerList,
  parseDhcpBootstrapServerList,
} from '../../src/device/sztp/discovery.ts';
import { softwareIdentity, type PreconfiguredState } from '../../src/device/sztp/identity.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { hasCode } from '../../src/core/errors.ts';
import { unsignedConveyed } from '../../src/sztp/cms/content.ts';
import { degenerateCms, keyObjectSigner, signCms } from '../../src/sztp/cms/signed-data.ts';
import { serializeConveyedInformation } from '../../src/sztp/conveyed-info.ts';
import { parseBootstrapInput, serializeBootstrapOutput } from '../../src/sztp/rpc-bootstrap.ts';
import { parseProgressInput } from '../../src/sztp/rpc-progress.ts';
import {
  OID,
  type ConveyedInformation,
  type GetBootstrappingDataInput,
  type GetBootstrappingDataOutput,
} from '../../src/sztp/types.ts';
import { signVoucher, type Voucher } from '../../src/sztp/voucher.ts';
import { makeCert, keyPem, pem, serverCert, type TestCert } from './pki-helpers.ts';

const image = new TextEncoder().encode('image v2');
const hash = new Uint8Array(createHash('sha256').update(image).digest());
const SERIAL = 'SN-42';

interface Rogue {
  port: number;
  server: Server;
  requests: number;
  reports: string[];
  handler: (input: GetBootstrappingDataInput, self: Rogue) => Promise<GetBootstrappingDataOutput>;
}

let pki: {
  mfg: TestCert;
  idevid: TestCert;
  masaRoot: TestCert;
  masa: TestCert;
  ownerRoot: TestCert;
  owner: TestCert;
  otherRoot: TestCert;
  tlsCa: TestCert;
  tls: TestCert;
};
const rogues: Rogue[] = [];
const clock = new ManualClock(new Date());

before(async () => {
  const mfg = await makeCert('CN=Mfg CA', { ca: true });
  const masaRoot = await makeCert('CN=MASA Root', { ca: true });
  const ownerRoot = await makeCert('CN=Owner Root', { ca: true });
  const tlsCa = await makeCert('CN=TLS CA', { ca: true });
  pki = {
    mfg,
    idevid: await makeCert('CN=dev', { issuer: mfg, serialAttr: SERIAL }),
    masaRoot,
    masa: await makeCert('CN=MASA', { issuer: masaRoot }),
    ownerRoot,
    owner: await makeCert('CN=Owner', { issuer: ownerRoot }),
    otherRoot: await makeCert('CN=Someone Else', { ca: true }),
    tlsCa,
    tls: await serverCert(tlsCa),
  };
});
after(async () => {
  for (const r of rogues) await new Promise((res) => r.server.close(res));
});

async function rogue(handler: Rogue['handler']): Promise<Rogue> {
  const r: Rogue = { port: 0, server: undefined as unknown as Server, requests: 0, reports: [], handler };
  r.server = createServer(
    { key: keyPem(pki.tls), cert: pem(pki.tls), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (req.url?.endsWith(':report-progress')) {
          r.reports.push(parseProgressInput(body, 'json').progressType);
          res.writeHead(204).end();
          return;
        }
        r.requests++;
        r.handler(parseBootstrapInput(body, 'json'), r).then(
          (out) =>
            res
              .writeHead(200, { 'content-type': 'application/yang-data+json' })
              .end(serializeBootstrapOutput(out, 'json')),
          () => res.writeHead(500).end(),
        );
      });
    },
  );
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.port = (r.server.address() as AddressInfo).port;
  rogues.push(r);
  return r;
}

function onboarding(h = hash): ConveyedInformation {
  return {
    kind: 'onboarding',
    onboarding: {
      bootImage: {
        osName: 'os',
        osVersion: '2',
        downloadUris: ['mem://image'],
        imageVerification: [{ hashAlgorithm: 'sha-256', hashValue: h }],
      },
      configurationHandling: 'replace',
      configuration: new TextEncoder().encode('cfg'),
    },
  };
}

type Tweak = {
  voucher?: Partial<Voucher>;
  tamper?: 'voucher' | 'conveyed' | 'owner';
  info?: ConveyedInformation;
  nonce?: 'match' | 'other' | 'none';
};

async function signedOutput(
  input: GetBootstrappingDataInput,
  t: Tweak = {},
): Promise<GetBootstrappingDataOutput> {
  const nonceMode = t.nonce ?? 'match';
  const v: Voucher = {
    createdOn: new Date(clock.now().getTime() - 60_000).toISOString(),
    assertion: 'verified',
    serialNumber: SERIAL,
    pinnedDomainCert: pki.ownerRoot.der,
    ...(nonceMode === 'match' && input.nonce
      ? { nonce: input.nonce }
      : nonceMode === 'other'
        ? { nonce: new Uint8Array(16).fill(1) }
        : { expiresOn: new Date(clock.now().getTime() + 86400_000).toISOString() }),
    ...t.voucher,
  };
  const voucher = await signVoucher(v, keyObjectSigner(pki.masa.key, pki.masa.der));
  const conveyed = await signCms(
    OID.conveyedJson,
    serializeConveyedInformation(t.info ?? onboarding(), 'json'),
    keyObjectSigner(pki.owner.key, pki.owner.der),
  );
  const ownerCert = degenerateCms([pki.owner.der, pki.ownerRoot.der]);
  const flip = (b: Uint8Array, at: number) => {
    const c = new Uint8Array(b);
    c[at] = (c[at] ?? 0) ^ 0x01;
    return c;
  };
  const ci =
    t.tamper === 'conveyed'
      ? flip(conveyed, Buffer.from(conveyed).indexOf(Buffer.from('configuration')) + 2)
      : conveyed;
  const ov =
    t.tamper === 'voucher'
      ? flip(voucher, Buffer.from(voucher).indexOf(Buffer.from('serial-number')) + 2)
      : voucher;
  // Flip a byte inside the owner certificate's own signature (the end of the first certificate).
  const oc =
    t.tamper === 'owner'
      ? flip(ownerCert, Buffer.from(ownerCert).indexOf(Buffer.from(pki.owner.der)) + pki.owner.der.length - 3)
      : ownerCert;
  return { reportingLevel: 'verbose', conveyedInformation: ci, ownerCertificate: oc, ownershipVoucher: ov };
}

function state(servers: { port: number }[], trusted = true): PreconfiguredState {
  return {
    identity: softwareIdentity(SERIAL, [pki.idevid.der], pki.idevid.key),
    bootstrapServers: trusted ? servers.map((s) => ({ address: '127.0.0.1', port: s.port })) : [],
    serverTrustAnchors: [pki.tlsCa.der],
    voucherTrustAnchors: [pki.masaRoot.der],
    clock,
  };
}

const platform = () =>
  new MemoryPlatform({ os: { name: 'os', version: '1' }, fetch: () => Promise.resolve(image) });

function untouched(p: MemoryPlatform): void {
  assert.equal(p.bootImage, undefined);
  assert.equal(p.configuration, undefined);
  assert.equal(p.os.version, '1');
}

async function expectRejected(t: Tweak, code: string, lastReports: string[]): Promise<AgentResult> {
  const r = await rogue((input) => signedOutput(input, t));
  const p = platform();
  const res = await runAgent({ state: state([r]), platform: p });
  assert.equal(res.ok, false);
  assert.equal(res.error?.code, code, JSON.stringify(res.events));
  assert.deepEqual(r.reports.slice(-lastReports.length), lastReports);
  untouched(p);
  return res;
}

test('a correctly signed answer from a trusted server is applied', async () => {
  const r = await rogue((input) => signedOutput(input));
  const p = platform();
  const res = await runAgent({ state: state([r]), platform: p });
  assert.equal(res.ok, true, JSON.stringify(res.events));
  assert.deepEqual(p.bootImage, image);
  assert.equal(r.reports.at(-1), 'bootstrap-complete');
});

const reject = ['parsing-error', 'bootstrap-error'];
test('tampered voucher is rejected', async () => {
  await expectRejected({ tamper: 'voucher' }, 'ERR_SZTP_VOUCHER_SIGNATURE', reject);
});
test('tampered conveyed information is rejected', async () => {
  await expectRejected({ tamper: 'conveyed' }, 'ERR_SZTP_CONVEYED_SIGNATURE', reject);
});
test('tampered owner certificate is rejected', async () => {
  await expectRejected({ tamper: 'owner' }, 'ERR_SZTP_OWNER_CERT_UNTRUSTED', reject);
});
test('voucher for another serial is rejected', async () => {
  await expectRejected({ voucher: { serialNumber: 'SN-43' } }, 'ERR_SZTP_VOUCHER_SERIAL', reject);
});
test('expired voucher is rejected', async () => {
  await expectRejected(
    { nonce: 'none', voucher: { expiresOn: new Date(clock.now().getTime() - 1000).toISOString() } },
    'ERR_SZTP_VOUCHER_EXPIRED',
    reject,
  );
});
test('nonce mismatch is rejected', async () => {
  await expectRejected({ nonce: 'other' }, 'ERR_SZTP_VOUCHER_NONCE', reject);
});
test('owner certificate not chaining to the pinned domain cert is rejected', async () => {
  await expectRejected(
    { voucher: { pinnedDomainCert: pki.otherRoot.der } },
    'ERR_SZTP_OWNER_CERT_UNTRUSTED',
    reject,
  );
});
test('unaccepted assertion and wrong idevid-issuer are rejected', async () => {
  await expectRejected({ voucher: { idevidIssuer: new Uint8Array(20) } }, 'ERR_SZTP_VOUCHER_ISSUER', reject);
  const r = await rogue((input) => signedOutput(input, { voucher: { assertion: 'proximity' } }));
  const res = await runAgent({
    state: { ...state([r]), acceptedAssertions: ['verified'] },
    platform: platform(),
  });
  assert.equal(res.error?.code, 'ERR_SZTP_VOUCHER_ASSERTION');
});
test('revocation checks requested by the voucher are honoured', async () => {
  await expectRejected(
    { voucher: { domainCertRevocationChecks: true } },
    'ERR_SZTP_OWNER_CERT_REVOKED',
    reject,
  );
  const r = await rogue((input) => signedOutput(input, { voucher: { domainCertRevocationChecks: true } }));
  const res = await runAgent({
    state: { ...state([r]), checkRevocation: (chain) => Promise.resolve(chain.length === 2) },
    platform: platform(),
  });
  assert.equal(res.ok, true);
});
test('boot image whose hash does not match is not installed', async () => {
  await expectRejected({ info: onboarding(new Uint8Array(32)) }, 'ERR_SZTP_BOOT_IMAGE_HASH_MISMATCH', [
    'boot-image-initiated',
    'boot-image-error',
    'bootstrap-error',
  ]);
});

test('more than 10 redirects are refused', async () => {
  const r = await rogue((_i, self) =>
    Promise.resolve({
      conveyedInformation: unsignedConveyed(
        serializeConveyedInformation(
          {
            kind: 'redirect',
            redirect: {
              bootstrapServers: [
                { address: '127.0.0.1', port: self.port, trustAnchor: degenerateCms([pki.tlsCa.der]) },
              ],
            },
          },
          'json',
        ),
        'json',
      ),
    }),
  );
  const p = platform();
  const res = await runAgent({ state: state([r]), platform: p });
  assert.equal(res.error?.code, 'ERR_SZTP_TOO_MANY_REDIRECTS');
  assert.equal(r.requests, 11);
  assert.equal(r.reports.at(-1), 'bootstrap-error');
  untouched(p);
});

test('untrusted sources: unsigned onboarding is ignored, unsigned redirects are followed provisionally, no reports to them', async () => {
  const unsignedOnboarding = await rogue(() =>
    Promise.resolve({
      reportingLevel: 'verbose',
      conveyedInformation: unsignedConveyed(serializeConveyedInformation(onboarding(), 'json'), 'json'),
    }),
  );
  const dhcp = parseDhcpBootstrapServerList(
    encodeDhcpBootstrapServerList([`https://127.0.0.1:${unsignedOnboarding.port}`]),
  );
  const p = platform();
  const res = await runAgent({ state: state([], false), platform: p, discovered: dhcp });
  assert.equal(res.error?.code, 'ERR_SZTP_ONBOARDING_UNTRUSTED');
  assert.deepEqual(unsignedOnboarding.reports, []);
  untouched(p);

  const owner = await rogue((input) => {
    assert.equal(input.signedDataPreferred, true);
    return signedOutput(input);
  });
  const redirector = await rogue(() =>
    Promise.resolve({
      conveyedInformation: unsignedConveyed(
        serializeConveyedInformation(
          { kind: 'redirect', redirect: { bootstrapServers: [{ address: '127.0.0.1', port: owner.port }] } },
          'json',
        ),
        'json',
      ),
    }),
  );
  const p2 = platform();
  const res2 = await runAgent({
    state: state([], false),
    platform: p2,
    discovered: [{ address: '127.0.0.1', port: redirector.port }],
  });
  assert.equal(res2.ok, true, JSON.stringify(res2.events));
  assert.deepEqual(redirector.reports, []);
  assert.equal(owner.reports.at(-1), 'bootstrap-complete');
  assert.ok(!owner.reports.includes('bootstrap-initiated'), 'no reports before the owner was verified');
  assert.equal(res2.events[0]?.what, 'redirect (provisional)');
});

test('discovery: DHCP option 143 payloads (DNS: dns-discovery.test.ts)', () => {
  const payload = encodeDhcpBootstrapServerList(['https://a.example', 'https://b.example:8443']);
  assert.deepEqual([...payload.subarray(0, 2)], [0, 17]);
  assert.deepEqual(parseDhcpBootstrapServerList(payload), [
    { address: 'a.example' },
    { address: 'b.example', port: 8443 },
  ]);
  assert.throws(
    () => parseDhcpBootstrapServerList(new Uint8Array([0, 50, 65])),
    (e) => hasCode(e, 'ERR_SZTP_DHCP_OPTION_INVALID'),
  );
  assert.throws(
    () => parseDhcpBootstrapServerList(encodeDhcpBootstrapServerList(['http://x'])),
    (e) => hasCode(e, 'ERR_SZTP_DHCP_OPTION_INVALID'),
  );
});
