import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toPem } from '../../src/core/encoding.ts';
import { clientCas, type Features } from '../../src/server/features.ts';
import type { TestApp } from '../helpers/app.ts';
import { createHttpsTestApp, issueClientCertificate, type HttpsTestApp } from '../helpers/https-app.ts';

/**
 * The server as `imprint serve` assembles it: HTTPS with a certificate from Imprint's TLS CA, client CAs from
 * the PKI, and stations authenticated by client certificates that Imprint issued (profile tls-client).
 */
describe('stations over mutual TLS with Imprint-issued certificates', () => {
  let dir: string;
  let app: HttpsTestApp;
  let t: TestApp;
  let f: Features;
  let port: number;
  let stationId: string;
  let certId: string;
  let caPem: string;

  const stationCert = (cn: string, name: string) => issueClientCertificate(app, dir, name, cn);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imprint-stn-'));
    app = await createHttpsTestApp();
    ({ t, f, caPem } = app);
    port = Number(new URL(app.base).port);
    stationId = (
      await f.factory.factory.batches.createStation({ actor: 'test' }, t.manufacturer.id, 'line-1')
    ).id;
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (path: string, client?: { key: Buffer; cert: string }, method = 'GET') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          servername: 'localhost',
          ca: caPem,
          headers: { 'content-type': 'application/json' },
          ...(client ?? {}),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(method === 'POST' ? '{}' : undefined);
    });

  it('the server presents a certificate from its own TLS CA', async () => {
    assert.equal((await call('/healthz')).status, 200);
  });

  it('a station certificate issued by the TLS CA authenticates as that station', async () => {
    const c = await stationCert(stationId, 'good');
    certId = c.id;
    const who = await call('/api/v1/whoami', c);
    assert.equal(who.status, 200, who.body);
    assert.deepEqual(JSON.parse(who.body), {
      kind: 'station',
      id: stationId,
      tenantId: t.manufacturer.id,
      role: 'station',
    });
    // The station protocol accepts it (and validates the body): past authentication and the role check.
    const begin = await call('/api/v1/factory/begin', c, 'POST');
    assert.equal(begin.status, 400, begin.body);
    assert.equal(JSON.parse(begin.body).error.code, 'ERR_VALIDATION');
    // It is not an operator.
    assert.equal((await call('/api/v1/devices', c)).status, 403);
  });

  it('a certificate naming an unknown station, or a revoked one, is not a principal', async () => {
    const stranger = await stationCert('stn_00000000000000000000', 'stranger');
    assert.equal((await call('/api/v1/whoami', stranger)).status, 401);
    const c = await stationCert(stationId, 'revoked');
    assert.equal((await call('/api/v1/whoami', c)).status, 200);
    await f.pki.revoke(
      { actor: 'test' },
      { tenantId: t.manufacturer.id, certificateId: c.id, reason: 'keyCompromise' },
    );
    const res = await call('/api/v1/whoami', c);
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_AUTH_REQUIRED');
    assert.ok(certId !== c.id);
  });

  it('the client CA list carries the PEM of every active CA', async () => {
    const cas = await clientCas(t.platform, f);
    assert.ok(cas.length >= 5);
    const tlsCa = (await f.pki.listCas(t.manufacturer.id)).find((ca) => ca.role === 'tls')!;
    assert.ok(cas.includes(toPem('CERTIFICATE', tlsCa.certificate)));
  });
});
