import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../helpers/app.ts';

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA and a leaf signed by it, made by the openssl CLI. */
function makePki(dir: string, name: string, leafCn: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.pem`,
    '-subj',
    `/CN=${name} CA`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
  openssl(
    dir,
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}-leaf.key`,
    '-out',
    `${name}-leaf.csr`,
    '-subj',
    `/CN=${leafCn}`,
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}-leaf.csr`,
    '-CA',
    `${name}-ca.pem`,
    '-CAkey',
    `${name}-ca.key`,
    '-CAcreateserial',
    '-out',
    `${name}-leaf.pem`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  );
}

describe('mutual TLS', () => {
  let dir: string;
  let t: TestApp;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imprint-mtls-'));
    execFileSync(
      'sh',
      [
        '-c',
        `printf 'extendedKeyUsage=clientAuth\\n' > client.ext; printf 'extendedKeyUsage=serverAuth\\nsubjectAltName=DNS:localhost\\n' > server.ext; cp client.ext rogue.ext`,
      ],
      { cwd: dir },
    );
    makePki(dir, 'client', 'station-1');
    makePki(dir, 'server', 'localhost');
    makePki(dir, 'rogue', 'station-1');
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    t = await createTestApp({
      tls: { key: read('server-leaf.key'), cert: read('server-leaf.pem'), ca: [read('client-ca.pem')] },
      extra: {
        certificateResolvers: [
          (chain) => {
            const cn = new X509Certificate(chain[0]!).subject.replace(/^CN=/, '');
            return Promise.resolve(
              cn === 'station-1'
                ? {
                    kind: 'station' as const,
                    id: 'stn_1',
                    tenantId: t.manufacturer.id,
                    role: 'station' as const,
                    actor: 'station:stn_1',
                  }
                : undefined,
            );
          },
        ],
      },
    });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, client?: 'client' | 'rogue') =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const read = (f: string) => readFileSync(join(dir, f));
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          servername: 'localhost',
          ca: read('server-ca.pem'),
          ...(client === undefined
            ? {}
            : { key: read(`${client}-leaf.key`), cert: read(`${client}-leaf.pem`) }),
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('authenticates a station by its client certificate', async () => {
    const res = await get('/api/v1/whoami', 'client');
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(JSON.parse(res.body), {
      kind: 'station',
      id: 'stn_1',
      tenantId: t.manufacturer.id,
      role: 'station',
    });
  });

  it('a station certificate does not grant operator routes', async () => {
    const res = await get('/api/v1/devices', 'client');
    assert.equal(res.status, 403);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_FORBIDDEN_ROLE');
  });

  it('refuses a certificate from an untrusted CA with the same subject', async () => {
    const res = await get('/api/v1/whoami', 'rogue');
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error.code, 'ERR_AUTH_REQUIRED');
  });

  it('refuses no certificate and no token', async () => {
    const res = await get('/api/v1/whoami');
    assert.equal(res.status, 401);
  });
});
