import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import { systemRandom } from '../../src/core/random.ts';
import { PkiService } from '../../src/pki/service.ts';
import { createPki, openssl, type PkiFixture } from './helpers.ts';
import { issueWithOpenssl, startPublic, writeCas } from './scenario.ts';

function certStatus(der: Uint8Array): 'good' | 'revoked' | 'unknown' {
  const res = AsnConvert.parse(der, OCSPResponse);
  const basic = AsnConvert.parse(res.responseBytes!.response.buffer, BasicOCSPResponse);
  const s = basic.tbsResponseData.responses[0]!.certStatus;
  return s.revoked !== undefined ? 'revoked' : s.unknown !== undefined ? 'unknown' : 'good';
}

describe('OCSP: GET, pre-signed cache and invalidation across processes', () => {
  let f: PkiFixture;
  let req: Uint8Array;
  let serial: string;
  before(async () => {
    f = await createPki();
    const { pem } = await writeCas(f);
    const leaf = await issueWithOpenssl(f, 'leaf', 'idevid', '/serialNumber=SN0001');
    serial = leaf.serialHex;
    openssl([
      'ocsp',
      '-issuer',
      pem.manufacturer!,
      '-cert',
      leaf.path,
      '-no_nonce',
      '-reqout',
      `${f.dir}/leaf.req`,
    ]);
    req = new Uint8Array(readFileSync(`${f.dir}/leaf.req`));
  });
  after(async () => {
    await f.close();
  });

  it('serves GET requests (RFC 6960 A.1) and reuses the pre-signed response', async () => {
    const server = await startPublic(f);
    try {
      const url = `${server.url}/ocsp/${encodeURIComponent(Buffer.from(req).toString('base64'))}`;
      const a = new Uint8Array(await (await fetch(url)).arrayBuffer());
      const b = new Uint8Array(await (await fetch(url, { method: 'GET' })).arrayBuffer());
      assert.equal(certStatus(a), 'good');
      assert.deepEqual(a, b, 'a request without nonce is served from the cache');
    } finally {
      await server.app.close();
    }
  });

  it('invalidates at once in the revoking process and within the epoch TTL elsewhere', async () => {
    // A second "server process" on the same database with its own cache.
    const other = new PkiService(
      { ...f.core, random: systemRandom },
      { urls: { baseUrl: 'http://127.0.0.1:8443' }, ocspEpochTtlMs: 5000 },
    );
    assert.equal(certStatus(await other.respondOcsp(req)), 'good');
    assert.equal(certStatus(await f.pki.respondOcsp(req)), 'good');
    await f.pki.revoke(f.by, { tenantId: f.tenantId, serial, reason: 'keyCompromise' });
    assert.equal(certStatus(await f.pki.respondOcsp(req)), 'revoked');
    assert.equal(
      certStatus(await other.respondOcsp(req)),
      'good',
      'still within the other process epoch TTL',
    );
    f.core.clock.advance(5001);
    assert.equal(certStatus(await other.respondOcsp(req)), 'revoked');
  });
});
