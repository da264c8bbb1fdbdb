import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import { toPem } from '../../src/core/encoding.ts';
import { defaultHierarchy, type HierarchyProfile } from '../../src/pki/hierarchy.ts';
import type { KeyAlgorithm } from '../../src/keys/types.ts';
import { count, createPki, openssl, opensslTry, write, type PkiFixture } from './helpers.ts';
import { fetchCrl, issueWithOpenssl, judgeCas, ocspQuery, startPublic, writeCas } from './scenario.ts';

const PASS = 'correct horse battery staple';

describe('CA hierarchy with the root key exported and offline', () => {
  let f: PkiFixture;
  let rootKeyPem: string;
  before(async () => {
    f = await createPki({ init: false });
    const profile = defaultHierarchy('Acme');
    const result = await f.pki.initHierarchy(f.by, f.tenantId, {
      ...profile,
      root: { ...profile.root, exportPassphrase: PASS },
    });
    rootKeyPem = result.rootKeyPem!;
  });
  after(async () => {
    await f.close();
  });

  it('exports the root key as openssl-compatible encrypted PKCS#8 and keeps no copy', async () => {
    assert.match(rootKeyPem, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const keyPath = write(f.dir, 'root.key', rootKeyPem);
    assert.match(openssl(['asn1parse', '-in', keyPath]), /PBES2[\s\S]*PBKDF2[\s\S]*aes-256-cbc/);
    const pub = openssl(['pkey', '-in', keyPath, '-passin', `pass:${PASS}`, '-pubout']);
    const { cas, pem } = await writeCas(f);
    assert.equal(openssl(['x509', '-in', pem.root!, '-noout', '-pubkey']), pub);
    assert.notEqual(
      opensslTry(['pkey', '-in', keyPath, '-passin', 'pass:wrong passphrase', '-pubout']).code,
      0,
    );
    const root = cas.find((c) => c.role === 'root')!;
    assert.equal(root.state, 'offline');
    assert.equal(root.keyId, null);
    // 4 issuing CA keys + 4 OCSP responder keys; the root's is not among them.
    assert.equal((await f.core.keys.list()).length, 8);
    judgeCas(pem, ['manufacturer', 'operational', 'code-signing', 'tls']);
  });

  it('keeps issuing, revoking and publishing CRLs without the root', async () => {
    const { cas, pem } = await writeCas(f);
    const server = await startPublic(f);
    try {
      const leaf = await issueWithOpenssl(f, 'dev1', 'idevid', '/serialNumber=SN0001');
      await f.pki.revoke(f.by, { tenantId: f.tenantId, certificateId: leaf.id, reason: 'superseded' });
      const man = cas.find((c) => c.role === 'manufacturer')!;
      const root = cas.find((c) => c.role === 'root')!;
      const crls = write(
        f.dir,
        'all.crl',
        [
          openssl(['crl', '-in', await fetchCrl(f, server.url, man.id, 'm.crl')]),
          openssl(['crl', '-in', await fetchCrl(f, server.url, root.id, 'r.crl')]),
        ].join(''),
      );
      const r = opensslTry([
        'verify',
        '-crl_check_all',
        '-CAfile',
        pem.root!,
        '-untrusted',
        pem.manufacturer!,
        '-CRLfile',
        crls,
        leaf.path,
      ]);
      assert.match(r.out, /certificate revoked/);
      const other = await issueWithOpenssl(f, 'dev2', 'idevid', '/serialNumber=SN0002');
      const ok = opensslTry([
        'verify',
        '-crl_check_all',
        '-CAfile',
        pem.root!,
        '-untrusted',
        pem.manufacturer!,
        '-CRLfile',
        crls,
        other.path,
      ]);
      assert.equal(ok.code, 0, ok.out);
      await assert.rejects(f.pki.publishCrl(f.by, f.tenantId, root.id), (e) => hasCode(e, 'ERR_CA_OFFLINE'));
    } finally {
      await server.app.close();
    }
  });

  it('refuses a second hierarchy for the tenant and a weak export passphrase', async () => {
    await assert.rejects(f.pki.initHierarchy(f.by, f.tenantId), (e) => hasCode(e, 'ERR_CA_EXISTS'));
    const g = await createPki({ init: false });
    try {
      const p = defaultHierarchy('Acme');
      const before = await g.core.keys.list();
      await assert.rejects(
        g.pki.initHierarchy(g.by, g.tenantId, { ...p, root: { ...p.root, exportPassphrase: 'short' } }),
        (e) => hasCode(e, 'ERR_CA_PASSPHRASE_WEAK'),
      );
      assert.equal((await g.pki.listCas(g.tenantId)).length, 0);
      assert.deepEqual(await g.core.keys.list(), before);
    } finally {
      await g.close();
    }
  });
});

function single(alg: KeyAlgorithm): (org: string) => HierarchyProfile {
  return (org) => ({
    organization: org,
    root: { name: 'root', commonName: `${org} ${alg} Root`, algorithm: alg, validityYears: 20 },
    issuing: [
      {
        role: 'manufacturer',
        name: 'manufacturer',
        commonName: `${org} ${alg} Manufacturer`,
        algorithm: alg,
        validityYears: 10,
      },
    ],
  });
}

for (const alg of ['ed25519', 'rsa-3072', 'ecdsa-p384'] as const) {
  describe(`CA keys of type ${alg}`, () => {
    let f: PkiFixture;
    before(async () => {
      f = await createPki({ profile: single(alg) });
    });
    after(async () => {
      await f.close();
    });

    it('signs certificates, CRLs and OCSP responses openssl accepts', async () => {
      const { cas, pem, bundle } = await writeCas(f);
      const server = await startPublic(f);
      try {
        const leaf = await issueWithOpenssl(f, 'd', 'idevid', '/serialNumber=SN0003');
        assert.equal(
          opensslTry(['verify', '-CAfile', pem.root!, '-untrusted', pem.manufacturer!, leaf.path]).code,
          0,
        );
        const man = cas.find((c) => c.role === 'manufacturer')!;
        const crl = await fetchCrl(f, server.url, man.id, 'm.crl');
        assert.match(
          opensslTry(['crl', '-in', crl, '-noout', '-CAfile', bundle.manufacturer!]).out,
          /verify OK/i,
        );
        const out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: leaf.path });
        assert.match(out, /Response verify OK/, out);
        assert.match(out, /d\.pem: good/, out);
      } finally {
        await server.app.close();
      }
    });
  });
}

describe('scheduled CRLs and the server TLS certificate', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki();
  });
  after(async () => {
    await f.close();
  });

  it('issues the HTTPS certificate from the TLS CA', async () => {
    const id = await f.pki.issueTlsServerCertificate(f.by, {
      tenantId: f.tenantId,
      commonName: 'imprint',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const chain = write(f.dir, 'chain.pem', id.certChainPem);
    const root = write(f.dir, 'tls-root.pem', id.rootPem);
    const leaf = write(f.dir, 'tls-leaf.pem', toPem('CERTIFICATE', id.certificate.der));
    const r = opensslTry(['verify', '-CAfile', root, '-untrusted', chain, '-purpose', 'sslserver', leaf]);
    assert.equal(r.code, 0, r.out);
    const key = write(f.dir, 'tls.key', id.keyPem);
    assert.equal(
      openssl(['pkey', '-in', key, '-pubout']),
      openssl(['x509', '-in', leaf, '-noout', '-pubkey']),
    );
    assert.match(
      openssl(['x509', '-in', leaf, '-noout', '-ext', 'subjectAltName']),
      /DNS:localhost, IP Address:127\.0\.0\.1/,
    );
    await assert.rejects(
      f.pki.issueTlsServerCertificate(f.by, { tenantId: f.tenantId, commonName: 'x' }),
      (e) => hasCode(e, 'ERR_TLS_NAMES_INVALID'),
    );
  });

  it('re-signs CRLs when they are due and not before', async () => {
    assert.equal(await f.pki.runScheduled(), 0);
    const crlsBefore = await count(f.core, 'crls');
    f.core.clock.advance(20 * 3600_000);
    // Root (online in this hierarchy) and the four issuing CAs.
    assert.equal(await f.pki.runScheduled(), 5);
    assert.equal(await count(f.core, 'crls'), crlsBefore + 5);
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    assert.equal((await f.pki.latestCrl(man.id)).number, 2);
    assert.equal(await f.pki.runScheduled(), 0);
  });
});
