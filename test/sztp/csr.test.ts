import 'reflect-metadata';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { softwareCsrMaker } from '../../src/device/sztp/csr.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { parseCert, subjectAttribute } from '../../src/sztp/cms/certs.ts';
import { ldevidFromConfiguration } from '../../src/sztp/ldevid.ts';
import { makeCert, type TestCert } from './pki-helpers.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

let w: World;
let opCa: TestCert;
const issued: string[] = [];
before(async () => {
  opCa = await makeCert('CN=Operational CA', { ca: true });
  w = await makeWorld({
    serial: 'SN-CSR',
    // Stand-in for the PKI service's operational CA: verify the CSR, certify its key.
    issueLdevid: async (device, csrDer) => {
      const csr = new x509.Pkcs10CertificateRequest(new Uint8Array(csrDer));
      assert.ok(await csr.verify());
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: '0a0b',
        subject: `CN=${device.serial}`,
        issuer: opCa.cert.subject,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86400_000),
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        publicKey: await csr.publicKey.export(),
        signingKey: opCa.keys.privateKey,
      });
      issued.push(device.serial);
      return [new Uint8Array(cert.rawData), opCa.der];
    },
  });
});
after(() => w.close());

test('RFC 9646: the server asks for a CSR and conveys the LDevID in the configuration', async () => {
  const image = new TextEncoder().encode('img');
  const hash = new Uint8Array(createHash('sha256').update(image).digest());
  await w.admin.bind({ actor: 't' }, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-CSR'] });
  await w.admin.setRecord(
    { actor: 't' },
    {
      ownerId: w.ownerId,
      scope: 'owner',
      scopeId: w.ownerId,
      document: onboardingDoc(image, hash),
      ldevid: true,
    },
  );
  const platform = new MemoryPlatform({ fetch: () => Promise.resolve(image) });
  const state = w.state();
  const result = await runAgent({
    state: {
      ...state,
      csr: { support: { supportedFormats: ['p10-csr'] }, make: softwareCsrMaker('SN-CSR', w.idevid.key) },
    },
    platform,
  });
  assert.equal(result.ok, true, JSON.stringify(result.events));
  assert.equal(result.events[0]?.what, 'csr requested');
  assert.deepEqual(issued, ['SN-CSR']);
  const chain = ldevidFromConfiguration(platform.configuration);
  assert.equal(chain?.length, 2);
  const ldevid = parseCert(chain[0]!);
  assert.equal(ldevid.spki.length > 0, true);
  assert.deepEqual(ldevid.spki, parseCert(w.idevid.der).spki);
  assert.equal(subjectAttribute(ldevid, '2.5.4.3'), 'SN-CSR');
  // The original configuration is kept next to the keystore entry.
  assert.match(new TextDecoder().decode(platform.configuration), /"hostname":"sensor"/);
  const log = await w.admin.log(w.ownerTenantId, w.device.id);
  assert.equal(log[0]?.message, 'missing-attribute');
  assert.equal(log[1]?.details['ldevid'], 'issued');

  // A device that cannot make CSRs still onboards, without an LDevID.
  const p2 = new MemoryPlatform({ fetch: () => Promise.resolve(image) });
  const r2 = await runAgent({ state, platform: p2 });
  assert.equal(r2.ok, true);
  assert.equal(ldevidFromConfiguration(p2.configuration), undefined);
});
