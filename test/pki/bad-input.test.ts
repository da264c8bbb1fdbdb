import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { OCSPResponse } from '@peculiar/asn1-ocsp';
import { hasCode } from '../../src/core/errors.ts';
import { fromPemAll, toPem } from '../../src/core/encoding.ts';
import type { IssueRequest } from '../../src/pki/issue.ts';
import { count, createPki, makeCsr, openssl, opensslSelfSignedCa, type PkiFixture } from './helpers.ts';
import { startPublic } from './scenario.ts';

describe('bad input is refused with its own code and changes nothing', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki();
  });
  after(async () => {
    await f.close();
  });

  async function refused(
    req: Partial<IssueRequest> & { csr: string | Uint8Array },
    code: string,
  ): Promise<void> {
    const certs = await count(f.core, 'certificates');
    const audit = await count(f.core, 'audit_entries');
    await assert.rejects(
      f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', ...req }),
      (e) => hasCode(e, code),
      code,
    );
    assert.equal(await count(f.core, 'certificates'), certs, `${code}: a certificate was stored`);
    assert.equal(await count(f.core, 'audit_entries'), audit, `${code}: an audit entry was written`);
  }

  it('refuses input that is neither PEM nor DER', async () => {
    await refused({ csr: 'hello, world!' }, 'ERR_CSR_MALFORMED');
    await refused({ csr: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]) }, 'ERR_CSR_MALFORMED');
    await refused(
      { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' },
      'ERR_CSR_MALFORMED',
    );
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const { csrPem } = makeCsr(f.dir, 'bad-sig', '/serialNumber=SN0001');
    const der = fromPemAll(csrPem, 'CERTIFICATE REQUEST')[0]!;
    const tampered = Uint8Array.from(der);
    // Change one character of the serial in the signed subject: the signature no longer covers it.
    const at = Buffer.from(tampered).indexOf('SN0001');
    tampered[at + 5] = '2'.charCodeAt(0);
    await refused({ csr: toPem('CERTIFICATE REQUEST', tampered) }, 'ERR_CSR_BAD_SIGNATURE');
    const sigFlip = Uint8Array.from(der);
    sigFlip[sigFlip.length - 3] = (sigFlip[sigFlip.length - 3] ?? 0) ^ 0x01;
    await refused({ csr: sigFlip }, 'ERR_CSR_BAD_SIGNATURE');
  });

  it('refuses a P-256 key whose point is not on the curve (fast JWK import path)', async () => {
    const { csrPem } = makeCsr(f.dir, 'off-curve', '/serialNumber=SN0001');
    const der = Uint8Array.from(fromPemAll(csrPem, 'CERTIFICATE REQUEST')[0]!);
    // The uncompressed point follows 03 42 00 04 in the SPKI; move y off the curve.
    const at = Buffer.from(der).indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04]));
    assert.ok(at > 0);
    der[at + 4 + 63] = (der[at + 4 + 63] ?? 0) ^ 0x01;
    await refused({ csr: der }, 'ERR_CSR_KEY_UNSUPPORTED');
  });

  it('refuses weak and unsupported keys', async () => {
    await refused(
      { csr: makeCsr(f.dir, 'rsa1024', '/serialNumber=SN0001', 'rsa1024').csrPem },
      'ERR_CSR_KEY_WEAK',
    );
    await refused(
      { csr: makeCsr(f.dir, 'rsa2048', '/serialNumber=SN0001', 'rsa2048').csrPem },
      'ERR_CSR_KEY_WEAK',
    );
    await refused(
      { csr: makeCsr(f.dir, 'p521', '/serialNumber=SN0001', 'p521').csrPem },
      'ERR_CSR_KEY_UNSUPPORTED',
    );
    const key = `${f.dir}/e3.key`;
    openssl([
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:3072',
      '-pkeyopt',
      'rsa_keygen_pubexp:3',
      '-out',
      key,
    ]);
    const csr = openssl(['req', '-new', '-key', key, '-subj', '/serialNumber=SN0001']);
    await refused({ csr }, 'ERR_CSR_KEY_WEAK');
  });

  it('refuses subjects that are not a registered device of the tenant and model', async () => {
    await refused(
      { csr: makeCsr(f.dir, 'unknown', '/serialNumber=NOPE-1').csrPem },
      'ERR_CSR_DEVICE_UNKNOWN',
    );
    await refused({ csr: makeCsr(f.dir, 'no-serial', '/CN=SN0001').csrPem }, 'ERR_CSR_SUBJECT_INVALID');
    await refused(
      { csr: makeCsr(f.dir, 'model', '/serialNumber=SN0001').csrPem, model: 'other-model' },
      'ERR_CSR_MODEL_MISMATCH',
    );
    await refused(
      { csr: makeCsr(f.dir, 'tenant', '/serialNumber=SN0001').csrPem, tenantId: 'ten_nope' },
      'ERR_CA_NOT_FOUND',
    );
    // A device of another manufacturer is invisible to this tenant.
    const other = await f.core.registry.createTenant(f.by, 'Other', 'manufacturer');
    const m = await f.core.registry.createModel(f.by, other.id, 'gadget');
    await f.core.registry.createDevice(f.by, { manufacturerId: other.id, modelId: m.id, serial: 'OTHER-1' });
    await refused(
      { csr: makeCsr(f.dir, 'foreign', '/serialNumber=OTHER-1').csrPem },
      'ERR_CSR_DEVICE_UNKNOWN',
    );
  });

  it('refuses extensions and options the profile does not allow', async () => {
    const ca = makeCsr(f.dir, 'ext-ca', '/serialNumber=SN0001', 'p256', [
      'basicConstraints=critical,CA:TRUE',
    ]).csrPem;
    await refused({ csr: ca }, 'ERR_CSR_EXTENSION_NOT_ALLOWED');
    const dns = makeCsr(f.dir, 'ext-dns', '/serialNumber=SN0001', 'p256', [
      'subjectAltName=DNS:evil.example',
    ]).csrPem;
    await refused({ csr: dns }, 'ERR_CSR_EXTENSION_NOT_ALLOWED');
    const code = makeCsr(f.dir, 'ext-code', '/CN=Signer', 'p256', ['subjectAltName=DNS:x.example']).csrPem;
    await refused({ csr: code, profile: 'code-signing' }, 'ERR_CSR_EXTENSION_NOT_ALLOWED');
    const ok = makeCsr(f.dir, 'opts', '/serialNumber=SN0001').csrPem;
    await refused({ csr: ok, profile: 'ldevid', noExpiry: true }, 'ERR_CSR_VALIDITY_INVALID');
    await refused({ csr: ok, validityDays: 365 * 100 }, 'ERR_CSR_VALIDITY_INVALID');
    await refused({ csr: ok, profile: 'nope' }, 'ERR_PROFILE_UNKNOWN');
    const tls = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'tls')!;
    await refused({ csr: ok, caId: tls.id }, 'ERR_PROFILE_CA_MISMATCH');
    await refused({ csr: ok, hwType: 'not-an-oid' }, 'ERR_CSR_SAN_INVALID');
  });

  it('refuses a key already bound to another device and audits the cloned-key alarm', async () => {
    const first = makeCsr(f.dir, 'dup1', '/serialNumber=SN0001');
    await f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr: first.csrPem });
    const device = await f.core.registry.findDeviceBySerial(f.tenantId, 'SN0001');
    assert.match(device!.identityKeyFingerprint ?? '', /^[0-9a-f]{64}$/);
    const clone = openssl(['req', '-new', '-key', first.keyPath, '-subj', '/serialNumber=SN0002']);
    const certs = await count(f.core, 'certificates');
    const audit = await count(f.core, 'audit_entries');
    await assert.rejects(f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr: clone }), (e) =>
      hasCode(e, 'ERR_CSR_KEY_IN_USE'),
    );
    assert.equal(await count(f.core, 'certificates'), certs);
    assert.equal(await count(f.core, 'audit_entries'), audit + 1);
    const alarm = await f.core.store.db
      .selectFrom('audit_entries')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.equal(alarm.action, 'security.cloned_key');
    assert.match(alarm.details, new RegExp(device!.id));
    const sn2 = await f.core.registry.findDeviceBySerial(f.tenantId, 'SN0002');
    assert.equal(sn2!.identityKeyFingerprint, null);
    // The same key for a TLS client certificate is refused too.
    const tls = openssl(['req', '-new', '-key', first.keyPath, '-subj', '/CN=someone']);
    await assert.rejects(f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'tls-client', csr: tls }), (e) =>
      hasCode(e, 'ERR_CSR_KEY_IN_USE'),
    );
    // A new key for a device that already has an identity key is refused.
    await refused(
      { csr: makeCsr(f.dir, 'rekey', '/serialNumber=SN0001').csrPem },
      'ERR_CSR_IDENTITY_KEY_MISMATCH',
    );
  });

  it('refuses bad revocations', async () => {
    const leaf = await f.pki.issue(f.by, {
      tenantId: f.tenantId,
      profile: 'idevid',
      csr: makeCsr(f.dir, 'rv', '/serialNumber=SN0003').csrPem,
    });
    const serial = leaf.certificate.serialHex;
    await assert.rejects(f.pki.revoke(f.by, { tenantId: f.tenantId, serial, reason: 'because' }), (e) =>
      hasCode(e, 'ERR_REVOCATION_REASON_INVALID'),
    );
    await assert.rejects(f.pki.revoke(f.by, { tenantId: f.tenantId, serial, reason: 'removeFromCRL' }), (e) =>
      hasCode(e, 'ERR_REVOCATION_REASON_INVALID'),
    );
    await assert.rejects(f.pki.revoke(f.by, { tenantId: f.tenantId, serial: 'abcdef', reason: 1 }), (e) =>
      hasCode(e, 'ERR_CERT_NOT_FOUND'),
    );
    await assert.rejects(f.pki.revoke(f.by, { tenantId: f.tenantId, serial: 'zz', reason: 1 }), (e) =>
      hasCode(e, 'ERR_CERT_SELECTOR_INVALID'),
    );
    const other = (await f.core.registry.findTenantByName('Other'))!;
    await assert.rejects(f.pki.revoke(f.by, { tenantId: other.id, serial, reason: 1 }), (e) =>
      hasCode(e, 'ERR_CERT_NOT_FOUND'),
    );
    await f.pki.revoke(f.by, { tenantId: f.tenantId, serial, reason: 'cessationOfOperation' });
    await assert.rejects(f.pki.revoke(f.by, { tenantId: f.tenantId, serial, reason: 1 }), (e) =>
      hasCode(e, 'ERR_CERT_ALREADY_REVOKED'),
    );
  });

  it('answers malformed OCSP requests with malformedRequest and other issuers with unauthorized', async () => {
    const status = (der: Uint8Array) => AsnConvert.parse(der, OCSPResponse).responseStatus;
    assert.equal(status(await f.pki.respondOcsp(new Uint8Array([1, 2, 3]))), 1);
    assert.equal(status(await f.pki.respondOcsp(new Uint8Array(0))), 1);
    const server = await startPublic(f);
    try {
      let res = await fetch(`${server.url}/ocsp`, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        body: 'garbage',
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/ocsp-response');
      assert.equal(status(new Uint8Array(await res.arrayBuffer())), 1);
      res = await fetch(`${server.url}/ocsp/${encodeURIComponent('!!not base64!!')}`);
      assert.equal(status(new Uint8Array(await res.arrayBuffer())), 1);
      // A well-formed request about a certificate of a CA we do not run.
      opensslSelfSignedCa(`${f.dir}/x.key`, `${f.dir}/x.pem`, '/CN=X');
      openssl(['ocsp', '-issuer', `${f.dir}/x.pem`, '-serial', '0x05', '-reqout', `${f.dir}/x.req`]);
      const req = new Uint8Array(readFileSync(`${f.dir}/x.req`));
      res = await fetch(`${server.url}/ocsp/${encodeURIComponent(Buffer.from(req).toString('base64'))}`);
      assert.equal(status(new Uint8Array(await res.arrayBuffer())), 6);
      assert.equal(status(await f.pki.respondOcsp(req)), 6);
      // Trailing garbage after a valid request is malformed, not ignored.
      assert.equal(status(await f.pki.respondOcsp(new Uint8Array([...req, 0]))), 1);
    } finally {
      await server.app.close();
    }
  });
});
