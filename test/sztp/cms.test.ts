import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, diffieHellman, createPublicKey, privateDecrypt, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fromBase64, fromPemAll } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { parseCert } from '../../src/sztp/cms/certs.ts';
import { cmsKind, unsignedConveyed, unsignedContent } from '../../src/sztp/cms/content.ts';
import { decryptCms, encryptCms, type CmsDecryptor } from '../../src/sztp/cms/enveloped.ts';
import {
  cmsCertificates,
  degenerateCms,
  keyObjectSigner,
  signCms,
  verifyCms,
} from '../../src/sztp/cms/signed-data.ts';
import { OID } from '../../src/sztp/types.ts';
import { openVoucher, parseVoucher, signVoucher } from '../../src/sztp/voucher.ts';
import { keyPem, makeCert, pem, type TestAlg, type TestCert } from './pki-helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'imprint-sztp-cms-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const f = (name: string, data: string | Uint8Array) => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};
const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
const content = new TextEncoder().encode(
  '{"ietf-sztp-conveyed-info:redirect-information":{"bootstrap-server":[{"address":"a"}]}}',
);

function decryptorFor(c: TestCert): CmsDecryptor {
  const key: KeyObject = c.key;
  return {
    certificate: c.der,
    rsaDecrypt: (ek, padding) =>
      Promise.resolve(
        new Uint8Array(
          privateDecrypt(
            {
              key,
              padding: padding === 'pkcs1' ? constants.RSA_PKCS1_PADDING : constants.RSA_PKCS1_OAEP_PADDING,
              oaepHash: 'sha1',
            },
            ek,
          ),
        ),
      ),
    ecdh: (peer) =>
      Promise.resolve(
        new Uint8Array(
          diffieHellman({
            privateKey: key,
            publicKey: createPublicKey({ key: Buffer.from(peer), format: 'der', type: 'spki' }),
          }),
        ),
      ),
  };
}

for (const alg of ['p256', 'p384', 'rsa'] as TestAlg[]) {
  test(`SignedData (${alg}) is accepted by openssl cms -verify, and openssl's SignedData by us`, async () => {
    const root = await makeCert(`CN=Owner Root ${alg}`, { ca: true, alg });
    const ica = await makeCert(`CN=Owner ICA ${alg}`, { ca: true, alg, issuer: root });
    const owner = await makeCert(`CN=Owner ${alg}`, { alg, issuer: ica });
    const signed = await signCms(OID.conveyedJson, content, keyObjectSigner(owner.key, owner.der, [ica.der]));
    assert.equal(cmsKind(signed), 'signed');
    const out = openssl([
      'cms',
      '-verify',
      '-inform',
      'DER',
      '-in',
      f(`s-${alg}.der`, signed),
      '-CAfile',
      f(`root-${alg}.pem`, pem(root)),
      '-purpose',
      'any',
    ]);
    assert.deepEqual(new Uint8Array(out), content);
    assert.match(
      openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, `s-${alg}.der`)]).toString(),
      /eContentType: .*1\.2\.840\.113549\.1\.9\.16\.1\.43/,
    );
    const v = verifyCms(signed);
    assert.deepEqual(v.content, content);
    assert.equal(v.contentType, OID.conveyedJson);

    // openssl signs the same bytes with the same keys: we accept it (DER and streamed BER).
    for (const extra of [[], ['-stream']]) {
      const theirs = openssl([
        'cms',
        '-sign',
        '-binary',
        '-nodetach',
        '-in',
        f('c.json', content),
        '-signer',
        f(`o-${alg}.pem`, pem(owner)),
        '-inkey',
        f(`ok-${alg}.pem`, keyPem(owner)),
        '-certfile',
        f(`ica-${alg}.pem`, pem(ica)),
        '-econtent_type',
        OID.conveyedJson,
        '-outform',
        'DER',
        ...extra,
      ]);
      const vt = verifyCms(new Uint8Array(theirs));
      assert.deepEqual(vt.content, content);
      assert.equal(vt.contentType, OID.conveyedJson);
    }

    // Tampering with the content breaks the signature.
    const tampered = new Uint8Array(signed);
    const at = Buffer.from(tampered).indexOf(Buffer.from('redirect'));
    tampered[at] = 0x52;
    assert.throws(
      () => verifyCms(tampered),
      (e) => hasCode(e, 'ERR_SZTP_SIGNATURE_INVALID'),
    );
  });

  test(`EnvelopedData to a ${alg} IDevID: openssl decrypts ours, we decrypt openssl's`, async () => {
    const ca = await makeCert(`CN=Mfg CA ${alg}`, { ca: true, alg });
    const dev = await makeCert('CN=device', { alg, issuer: ca, serialAttr: 'SN1' });
    const inner = await signCms(OID.conveyedJson, content, keyObjectSigner(ca.key, ca.der));
    const sd = unsignedContentOfSigned(inner);
    const env = encryptCms(OID.signedData, sd, dev.der);
    assert.equal(cmsKind(env), 'enveloped');
    const dec = openssl([
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      f(`e-${alg}.der`, env),
      '-recip',
      f(`d-${alg}.pem`, pem(dev)),
      '-inkey',
      f(`dk-${alg}.pem`, keyPem(dev)),
    ]);
    assert.deepEqual(new Uint8Array(dec), sd);
    const mine = await decryptCms(env, decryptorFor(dev));
    assert.equal(mine.contentType, OID.signedData);
    assert.deepEqual(mine.content, sd);
    // Node 20 refuses RSA PKCS#1 v1.5 decryption (Marvin attack), so RSA recipients use OAEP.
    const keyopt = alg === 'rsa' ? ['-keyopt', 'rsa_padding_mode:oaep'] : [];
    const theirs = openssl([
      'cms',
      '-encrypt',
      '-binary',
      '-aes256',
      '-in',
      f('p.bin', content),
      '-outform',
      'DER',
      '-recip',
      f(`d-${alg}.pem`, pem(dev)),
      ...keyopt,
    ]);
    const got = await decryptCms(new Uint8Array(theirs), decryptorFor(dev));
    assert.deepEqual(got.content, content);
    const other = await makeCert('CN=other', { alg, issuer: ca });
    await assert.rejects(decryptCms(env, decryptorFor(other)), (e) => hasCode(e, 'ERR_SZTP_DECRYPT_FAILED'));
  });
}

/** The SignedData inside a ContentInfo (what EnvelopedData encrypts for sign-then-encrypt). */
function unsignedContentOfSigned(ci: Uint8Array): Uint8Array {
  // ContentInfo ::= SEQUENCE { OID, [0] EXPLICIT SignedData }: strip the two outer headers.
  const skip = (b: Uint8Array, i: number) => {
    const l = b[i + 1] ?? 0;
    return l < 0x80 ? i + 2 : i + 2 + (l & 0x7f);
  };
  let i = skip(ci, 0);
  i += 2 + (ci[i + 1] ?? 0);
  i = skip(ci, i);
  return ci.subarray(i);
}

test('unsigned conveyed information and degenerate certificate bags', async () => {
  const u = unsignedConveyed(content, 'json');
  assert.equal(cmsKind(u), 'unsigned');
  assert.deepEqual(unsignedContent(u), { contentType: OID.conveyedJson, content });
  assert.match(
    openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', f('u.der', u)]).toString(),
    /1\.2\.840\.113549\.1\.9\.16\.1\.43/,
  );
  const root = await makeCert('CN=Pinned Domain', { ca: true });
  const owner = await makeCert('CN=Owner', { issuer: root });
  const bag = degenerateCms([owner.der, root.der]);
  assert.match(
    openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', f('bag.der', bag)]).toString(),
    /signerInfos:\s*<?EMPTY>?/,
  );
  const certs = openssl(['pkcs7', '-inform', 'DER', '-in', join(dir, 'bag.der'), '-print_certs']).toString();
  assert.match(certs, /CN ?= ?Owner/);
  assert.deepEqual(
    cmsCertificates(bag).map((c) => c.der),
    [owner.der, root.der],
  );
  // A signed (non-degenerate) SignedData as owner certificate is tolerated too.
  const signedBag = await signCms(
    OID.data,
    new Uint8Array(0),
    keyObjectSigner(owner.key, owner.der, [root.der]),
  );
  assert.equal(cmsCertificates(signedBag).length, 2);
  assert.throws(
    () => cmsCertificates(new Uint8Array([1, 2, 3])),
    (e) => hasCode(e, 'ERR_SZTP_CMS_MALFORMED'),
  );
});

test('vouchers: ours verify under openssl; the anima fixture verifies but its chain fails with a reason', async () => {
  const masaRoot = await makeCert('CN=MASA Root', { ca: true });
  const masa = await makeCert('CN=MASA', { issuer: masaRoot });
  const pinned = await makeCert('CN=Owner Root', { ca: true });
  const voucher = {
    createdOn: '2026-01-01T00:00:00Z',
    expiresOn: '2027-01-01T00:00:00Z',
    assertion: 'verified' as const,
    serialNumber: 'SN1',
    pinnedDomainCert: pinned.der,
    domainCertRevocationChecks: false,
  };
  const signed = await signVoucher(voucher, keyObjectSigner(masa.key, masa.der));
  const out = openssl([
    'cms',
    '-verify',
    '-inform',
    'DER',
    '-in',
    f('v.der', signed),
    '-CAfile',
    f('masaroot.pem', pem(masaRoot)),
    '-purpose',
    'any',
  ]);
  assert.deepEqual(parseVoucher(new Uint8Array(out)), voucher);
  assert.match(
    openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, 'v.der')]).toString(),
    /eContentType: .*1\.2\.840\.113549\.1\.9\.16\.1\.40/,
  );
  assert.deepEqual(openVoucher(signed, [parseCert(masaRoot.der)], new Date()).voucher, voucher);

  const A = '../shared/fixtures/sztp/voucher-anima';
  const pemDer = (p: string) => fromPemAll(readFileSync(p, 'utf8'), 'CERTIFICATE')[0]!;
  const anima = new Uint8Array(readFileSync(join(A, 'voucher_00-D0-E5-F2-00-02.pkcs')));
  const masaCert = parseCert(pemDer(join(A, 'masa-00-D0-E5-F2-00-02.crt')));
  const v = verifyCms(anima, [masaCert]);
  assert.equal(v.contentType, OID.data);
  const av = parseVoucher(v.content);
  assert.equal(av.serialNumber, '00-D0-E5-F2-00-02');
  assert.equal(av.assertion, 'logged');
  assert.ok(av.nonce !== undefined);
  const vendor = parseCert(pemDer(join(A, 'vendor-00-D0-E5-F2-00-02.crt')));
  assert.throws(
    () => openVoucher(anima, [vendor], new Date()),
    (e) => hasCode(e, 'ERR_SZTP_CHAIN_INVALID'),
  );
  assert.throws(
    () => openVoucher(anima, [masaCert], new Date()),
    (e) => hasCode(e, 'ERR_SZTP_CHAIN_INVALID') && /validity/.test((e as Error).message),
  );
  const vr = verifyCms(new Uint8Array(readFileSync(join(A, 'vr_00-D0-E5-F2-00-02.pkcs'))), [
    parseCert(pemDer(join(A, '00-D0-E5-F2-00-02.crt'))),
  ]);
  assert.match(new TextDecoder().decode(vr.content), /ietf-voucher-request/);

  const os = fromBase64(
    readFileSync('../shared/fixtures/sztp/open-sztp/12345/ownershipVoucher.base64', 'utf8'),
  );
  const osv = verifyCms(os);
  assert.throws(
    () => parseVoucher(osv.content),
    (e) => hasCode(e, 'ERR_SZTP_VOUCHER_INVALID') && /XMLName/.test((e as Error).message),
  );
});
