import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { hasCode } from '../../src/core/errors.ts';
import { systemRandom } from '../../src/core/random.ts';
import { PkiService } from '../../src/pki/service.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { count, createPki, makeCsr, openssl, opensslTry, write, type PkiFixture } from './helpers.ts';
import { fetchCrl, startPublic, writeCas } from './scenario.ts';

function certStatus(der: Uint8Array): string {
  const basic = AsnConvert.parse(
    AsnConvert.parse(der, OCSPResponse).responseBytes!.response.buffer,
    BasicOCSPResponse,
  );
  const s = basic.tbsResponseData.responses[0]!.certStatus;
  return s.revoked !== undefined ? 'revoked' : s.unknown !== undefined ? 'unknown' : 'good';
}

describe('PKI on PostgreSQL with two stateless service instances', () => {
  let pg: PostgresServer;
  let f: PkiFixture;
  let other: PkiService;
  const serials = Array.from({ length: 12 }, (_, i) => `PG${i}`);
  before(async () => {
    pg = await startPostgres('imprint_pki');
    f = await createPki({ location: { kind: 'postgres', url: pg.url }, devices: serials });
    other = new PkiService(
      { ...f.core, random: systemRandom },
      { urls: { baseUrl: 'http://127.0.0.1:8443' } },
    );
  });
  after(async () => {
    await f?.close();
    await pg?.stop();
  });

  it('issues concurrently from both instances, refuses a cloned key, revokes with CRL and OCSP', async () => {
    const csrs = serials.map((s) => makeCsr(f.dir, s, `/serialNumber=${s}`));
    const issued = await Promise.all(
      csrs.slice(0, 10).map((c, i) =>
        (i % 2 === 0 ? f.pki : other).issue(f.by, {
          tenantId: f.tenantId,
          profile: 'idevid',
          csr: c.csrPem,
        }),
      ),
    );
    assert.equal(new Set(issued.map((x) => x.certificate.serialHex)).size, 10);
    const { pem } = await writeCas(f);
    const before = await count(f.core, 'certificates');
    const clone = openssl(['req', '-new', '-key', csrs[0]!.keyPath, '-subj', '/serialNumber=PG11']);
    await assert.rejects(other.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr: clone }), (e) =>
      hasCode(e, 'ERR_CSR_KEY_IN_USE'),
    );
    assert.equal(await count(f.core, 'certificates'), before);

    const target = issued[3]!;
    const targetPath = write(f.dir, 't.pem', target.pem);
    openssl([
      'ocsp',
      '-issuer',
      pem.manufacturer!,
      '-cert',
      targetPath,
      '-no_nonce',
      '-reqout',
      `${f.dir}/t.req`,
    ]);
    const req = new Uint8Array(readFileSync(`${f.dir}/t.req`));
    assert.equal(certStatus(await other.respondOcsp(req)), 'good');
    // Two revocations at once from the two instances: CRL numbers must not collide.
    await Promise.all([
      f.pki.revoke(f.by, {
        tenantId: f.tenantId,
        serial: target.certificate.serialHex,
        reason: 'keyCompromise',
      }),
      other.revoke(f.by, {
        tenantId: f.tenantId,
        serial: issued[4]!.certificate.serialHex,
        reason: 'superseded',
      }),
    ]);
    assert.equal(certStatus(await f.pki.respondOcsp(req)), 'revoked');
    f.core.clock.advance(1500);
    assert.equal(certStatus(await other.respondOcsp(req)), 'revoked');
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    assert.equal((await f.pki.latestCrl(man.id)).number, 3);
    const server = await startPublic({ ...f, pki: other });
    try {
      const crl = await fetchCrl(f, server.url, man.id, 'pg.crl');
      const r = opensslTry([
        'verify',
        '-crl_check',
        '-CAfile',
        pem.root!,
        '-untrusted',
        pem.manufacturer!,
        '-CRLfile',
        crl,
        targetPath,
      ]);
      assert.match(r.out, /certificate revoked/);
      assert.match(openssl(['crl', '-in', crl, '-noout', '-text']), /Superseded/);
    } finally {
      await server.app.close();
    }
  });

  it('renews the OCSP signer once under a race; the other instance follows; LDevID follows a sale', async () => {
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    const leaf = await f.pki.issue(f.by, {
      tenantId: f.tenantId,
      profile: 'idevid',
      csr: makeCsr(f.dir, 'pg-ocsp', '/serialNumber=PG11').csrPem,
    });
    const { pem } = await writeCas(f);
    openssl([
      'ocsp',
      '-issuer',
      pem.manufacturer!,
      '-cert',
      write(f.dir, 'pg-ocsp.pem', leaf.pem),
      '-no_nonce',
      '-reqout',
      `${f.dir}/o.req`,
    ]);
    const req = new Uint8Array(readFileSync(`${f.dir}/o.req`));
    const signerCert = (der: Uint8Array): string =>
      Buffer.from(
        AsnConvert.serialize(
          AsnConvert.parse(
            AsnConvert.parse(der, OCSPResponse).responseBytes!.response.buffer,
            BasicOCSPResponse,
          ).certs![0]!,
        ),
      ).toString('hex');
    const before = signerCert(await other.respondOcsp(req));
    const results = await Promise.allSettled([
      f.pki.renewOcspSigner(f.by, f.tenantId, man.id),
      other.renewOcspSigner(f.by, f.tenantId, man.id),
    ]);
    // Usually both read the old signer and one loses the guarded switch; if they ran one after the
    // other, both renewals are legitimate. Either way the CA ends with exactly one current signer.
    for (const r of results)
      if (r.status === 'rejected') assert.ok(hasCode(r.reason, 'ERR_OCSP_SIGNER_CONFLICT'), String(r.reason));
    assert.ok(results.some((r) => r.status === 'fulfilled'));
    const current = await f.core.store.db
      .selectFrom('cas')
      .innerJoin('certificates', 'certificates.id', 'cas.ocsp_cert_id')
      .select('certificates.der')
      .where('cas.id', '=', man.id)
      .executeTakeFirstOrThrow();
    const expected = Buffer.from(current.der).toString('hex');
    f.core.clock.advance(1500); // past the epoch TTL: both instances see the switch
    assert.notEqual(expected, before);
    assert.equal(signerCert(await other.respondOcsp(req)), expected);
    assert.equal(signerCert(await f.pki.respondOcsp(req)), expected);

    const owner = await f.core.registry.createTenant(f.by, 'PG Owner', 'owner');
    await f.pki.initHierarchy(f.by, owner.id);
    const device = (await f.core.registry.findDeviceBySerial(f.tenantId, 'PG10'))!;
    await f.core.store.transaction((tx) =>
      f.core.registry.updateDevice(tx, f.by, device.id, { tenantId: owner.id }, 'device.transferred'),
    );
    const ld = await other.issue(f.by, {
      tenantId: owner.id,
      profile: 'ldevid',
      csr: makeCsr(f.dir, 'pg-ld', '/serialNumber=PG10').csrPem,
    });
    const op = (await f.pki.listCas(owner.id)).find((c) => c.role === 'operational')!;
    assert.equal(ld.certificate.caId, op.id);
    assert.equal(ld.certificate.deviceId, device.id);
  });
});
