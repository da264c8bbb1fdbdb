/**
 * The OCSP fast routes (fast-ocsp.ts) answer exactly as the Fastify routes do, inside the app as
 * `imprint serve` assembles it (buildApp with every feature): one PKI service, two servers (fast path on and
 * off), the same requests, the same status, headers and bytes; requests the fast path is not written for fall
 * through to Fastify on both servers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { BasicOCSPResponse, OCSPResponse } from '@peculiar/asn1-ocsp';
import Fastify, { type FastifyInstance } from 'fastify';
import { toPem } from '../../src/core/encoding.ts';
import { pkiPublicRoutes } from '../../src/pki/routes-public.ts';
import { buildApp } from '../../src/server/app.ts';
import { errorHandler } from '../../src/server/error-handler.ts';
import { FastRouter, fastRouterOf } from '../../src/server/fast-routes.ts';
import { createFeatures, featureRoutes, type Features } from '../../src/server/features.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { makeCsr, openssl, opensslSelfSignedCa, write } from './helpers.ts';

const by = { actor: 'test' };
let t: TestApp;
let f: Features;
let slow: FastifyInstance;
let fastPort: number;
let slowPort: number;
const reqs: Record<string, Buffer> = {};

before(async () => {
  t = await createTestApp({
    prepare: async (p) => {
      f = createFeatures(p);
      return { extra: { features: featureRoutes(p, f) } };
    },
  });
  // The same assembly with the OCSP routes left to Fastify alone, over the same PKI service (and so the same
  // pre-signed response cache: both servers answer the same bytes).
  slow = await buildApp({
    ...t.platform,
    rateLimitPerMinute: 100_000,
    features: [(app) => pkiPublicRoutes(app, { pki: f.pki }, { fastPath: false })],
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  await slow.listen({ host: '127.0.0.1', port: 0 });
  fastPort = (t.app.server.address() as AddressInfo).port;
  slowPort = (slow.server.address() as AddressInfo).port;

  const tenantId = t.manufacturer.id;
  await f.pki.initHierarchy(by, tenantId);
  const dir = t.core.dir;
  const man = (await f.pki.listCas(tenantId)).find((c) => c.role === 'manufacturer')!;
  const issuer = write(dir, 'man.pem', toPem('CERTIFICATE', man.certificate));
  await t.core.registry.createDevice(by, {
    manufacturerId: tenantId,
    modelId: t.manufacturer.modelId,
    serial: 'SN-0002',
  });
  const issue = async (name: string, serial: string) => {
    const csr = makeCsr(dir, name, `/serialNumber=${serial}/CN=${serial}`);
    const out = await f.pki.issue(by, { tenantId, profile: 'idevid', csr: csr.csrPem });
    return { path: write(dir, `${name}.pem`, out.pem), id: out.certificate.id };
  };
  const good = await issue('good', 'SN-0001');
  const revoked = await issue('revoked', 'SN-0002');
  await f.pki.revoke(by, { tenantId, certificateId: revoked.id, reason: 'keyCompromise' });
  const reqFor = (name: string, args: string[]) => {
    openssl(['ocsp', '-issuer', issuer, ...args, '-reqout', `${dir}/${name}.req`]);
    reqs[name] = readFileSync(`${dir}/${name}.req`);
  };
  reqFor('good', ['-cert', good.path, '-no_nonce']);
  reqFor('revoked', ['-cert', revoked.path, '-no_nonce']);
  reqFor('unknown', ['-serial', '0x0badc0de', '-no_nonce']);
  reqFor('nonce', ['-cert', good.path]);
  opensslSelfSignedCa(`${dir}/x.key`, `${dir}/x.pem`, '/CN=Foreign CA');
  openssl(['ocsp', '-issuer', `${dir}/x.pem`, '-serial', '0x05', '-no_nonce', '-reqout', `${dir}/x.req`]);
  reqs.foreign = readFileSync(`${dir}/x.req`);
});
after(async () => {
  await slow.close();
  await t.close();
});

interface Case {
  readonly name: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Buffer;
  readonly headers?: Record<string, string>;
  /** Whether the fast path takes it (otherwise Fastify answers on both servers). */
  readonly fast: boolean;
  /** The OCSP responseStatus expected (0 successful, 1 malformedRequest, 6 unauthorized), if OCSP. */
  readonly ocsp?: number;
  /** A freshly signed answer (nonce, unknown serial: not cached): compared without its signature. */
  readonly signed?: boolean;
}

const OCSP_REQ = { 'content-type': 'application/ocsp-request' };
const b64 = (b: Buffer) => b.toString('base64');
const cases = (): Case[] => [
  { name: 'good', method: 'POST', path: '/ocsp', body: reqs.good!, headers: OCSP_REQ, fast: true, ocsp: 0 },
  {
    name: 'revoked',
    method: 'POST',
    path: '/ocsp',
    body: reqs.revoked!,
    headers: OCSP_REQ,
    fast: true,
    ocsp: 0,
  },
  {
    name: 'unknown',
    method: 'POST',
    path: '/ocsp',
    body: reqs.unknown!,
    headers: OCSP_REQ,
    fast: true,
    ocsp: 0,
    signed: true,
  },
  {
    name: 'nonce',
    method: 'POST',
    path: '/ocsp',
    body: reqs.nonce!,
    headers: OCSP_REQ,
    fast: true,
    ocsp: 0,
    signed: true,
  },
  {
    name: 'another issuer',
    method: 'POST',
    path: '/ocsp',
    body: reqs.foreign!,
    headers: OCSP_REQ,
    fast: true,
    ocsp: 6,
  },
  {
    name: 'malformed',
    method: 'POST',
    path: '/ocsp',
    body: Buffer.from('garbage'),
    headers: OCSP_REQ,
    fast: true,
    ocsp: 1,
  },
  { name: 'GET good', method: 'GET', path: `/ocsp/${b64(reqs.good!)}`, fast: true, ocsp: 0 },
  {
    name: 'GET url-encoded',
    method: 'GET',
    path: `/ocsp/${encodeURIComponent(b64(reqs.revoked!))}`,
    fast: true,
    ocsp: 0,
  },
  {
    name: 'GET nonce',
    method: 'GET',
    path: `/ocsp/${encodeURIComponent(b64(reqs.nonce!))}`,
    fast: true,
    ocsp: 0,
    signed: true,
  },
  { name: 'GET another issuer', method: 'GET', path: `/ocsp/${b64(reqs.foreign!)}`, fast: true, ocsp: 6 },
  { name: 'GET not base64', method: 'GET', path: '/ocsp/AB*CD', fast: false, ocsp: 1 },
  { name: 'GET bad base64', method: 'GET', path: '/ocsp/A=B', fast: true, ocsp: 1 },
  { name: 'GET garbage DER', method: 'GET', path: '/ocsp/Z2FyYmFnZQ==', fast: true, ocsp: 1 },
  { name: 'GET other escapes', method: 'GET', path: '/ocsp/%21%21not%20base64', fast: false, ocsp: 1 },
  { name: 'GET bad escape', method: 'GET', path: '/ocsp/AB%2', fast: false },
  { name: 'GET double-encoded', method: 'GET', path: `/ocsp/AB%252FCD`, fast: false, ocsp: 1 },
  // Left to Fastify: its own parsers and error shapes.
  { name: 'GET no request', method: 'GET', path: '/ocsp', fast: false },
  { name: 'GET empty', method: 'GET', path: '/ocsp/', fast: false },
  { name: 'GET query string', method: 'GET', path: `/ocsp/${b64(reqs.good!)}?x=1`, fast: false, ocsp: 0 },
  {
    name: 'POST query string',
    method: 'POST',
    path: '/ocsp?x=1',
    body: reqs.good!,
    headers: OCSP_REQ,
    fast: false,
    ocsp: 0,
  },
  {
    name: 'POST text/plain',
    method: 'POST',
    path: '/ocsp',
    body: reqs.good!,
    headers: { 'content-type': 'text/plain' },
    fast: false,
  },
  {
    name: 'POST media type parameter',
    method: 'POST',
    path: '/ocsp',
    body: reqs.good!,
    headers: { 'content-type': 'application/ocsp-request; x=1' },
    fast: false,
  },
  { name: 'POST no content type', method: 'POST', path: '/ocsp', body: reqs.good!, fast: false },
  {
    name: 'POST empty',
    method: 'POST',
    path: '/ocsp',
    body: Buffer.alloc(0),
    headers: OCSP_REQ,
    fast: false,
  },
  {
    name: 'POST too large',
    method: 'POST',
    path: '/ocsp',
    body: Buffer.alloc(16 * 1024 + 1, 0x30),
    headers: OCSP_REQ,
    fast: false,
  },
  {
    name: 'POST chunked',
    method: 'POST',
    path: '/ocsp',
    body: reqs.good!,
    headers: { ...OCSP_REQ, 'transfer-encoding': 'chunked' },
    fast: false,
    ocsp: 0,
  },
  { name: 'HEAD', method: 'HEAD' as 'GET', path: `/ocsp/${b64(reqs.good!)}`, fast: false },
];

interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Buffer;
}

function send(port: number, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunked = c.headers?.['transfer-encoding'] === 'chunked';
    const headers: Record<string, string | number> = { ...c.headers };
    if (c.body !== undefined && !chunked) headers['content-length'] = c.body.length;
    const req = request(
      { host: '127.0.0.1', port, path: c.path, method: c.method, agent: false, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const { date: _date, ...rest } = res.headers;
          resolve({ status: res.statusCode ?? 0, headers: rest, body: Buffer.concat(chunks) });
        });
      },
    );
    req.on('error', reject);
    req.end(c.body);
  });
}

/** An OCSP answer without what differs between two signings (signature; producedAt is to the second). */
function unsigned(der: Buffer): unknown {
  const r = AsnConvert.parse(der, OCSPResponse);
  assert.ok(r.responseBytes !== undefined);
  const basic = AsnConvert.parse(r.responseBytes.response.buffer, BasicOCSPResponse);
  const tbs = basic.tbsResponseData;
  return {
    status: r.responseStatus,
    responder: Buffer.from(AsnConvert.serialize(tbs.responderID)).toString('hex'),
    responses: tbs.responses.map((s) => Buffer.from(AsnConvert.serialize(s)).toString('hex')),
    extensions: (tbs.responseExtensions ?? []).map((e) =>
      Buffer.from(AsnConvert.serialize(e)).toString('hex'),
    ),
    certs: (basic.certs ?? []).length,
  };
}

test('the fast and the Fastify OCSP routes answer the same status, headers and bytes', async () => {
  const router = fastRouterOf(t.app);
  assert.ok(router !== undefined);
  assert.equal(fastRouterOf(slow)?.handled ?? 0, 0);
  for (const c of cases()) {
    const handledBefore: number = router.handled;
    const fast = await send(fastPort, c);
    assert.equal(router.handled - handledBefore, c.fast ? 1 : 0, `${c.name}: taken by the fast path`);
    const viaFastify = await send(slowPort, c);
    assert.equal(fast.status, viaFastify.status, c.name);
    // The rate-limit headers count per server; their presence and limit must match, the remaining count moves.
    const strip = (h: Record<string, unknown>) => {
      const { 'x-ratelimit-remaining': _r, 'x-ratelimit-reset': _s, ...rest } = h;
      return rest;
    };
    // A fresh ECDSA signature is 70-72 bytes: its answer's length may differ by one or two.
    const length = (h: Record<string, unknown>) =>
      c.signed === true ? { ...h, 'content-length': 'signed' } : h;
    assert.deepEqual(length(strip(fast.headers)), length(strip(viaFastify.headers)), c.name);
    assert.equal(
      'x-ratelimit-remaining' in fast.headers,
      'x-ratelimit-remaining' in viaFastify.headers,
      c.name,
    );
    if (c.ocsp !== undefined) {
      assert.equal(fast.headers['content-type'], 'application/ocsp-response', c.name);
      assert.equal(AsnConvert.parse(fast.body, OCSPResponse).responseStatus, c.ocsp, c.name);
    }
    if (c.signed === true) assert.deepEqual(unsigned(fast.body), unsigned(viaFastify.body), c.name);
    else assert.deepEqual(fast.body, viaFastify.body, c.name);
  }
  assert.equal(fastRouterOf(slow)?.handled ?? 0, 0);
});

test('the fast OCSP route is metered under the Fastify route pattern', async () => {
  await send(fastPort, { name: 'good', method: 'GET', path: `/ocsp/${b64(reqs.good!)}`, fast: true });
  const metrics = await send(fastPort, { name: 'metrics', method: 'GET', path: '/metrics', fast: false });
  assert.match(
    metrics.body.toString(),
    /imprint_http_requests_total\{method="GET",route="\/ocsp\/\*",status="200"\}/,
  );
  assert.match(
    metrics.body.toString(),
    /imprint_http_requests_total\{method="POST",route="\/ocsp",status="200"\}/,
  );
});

test('a responder failure gets the error handler answer on both paths', async () => {
  // A store or key failure (bad input never throws): the Fastify route's error handler answers 500 JSON.
  const failing = {
    respondOcsp: () => Promise.reject(new Error('database is locked')),
  } as unknown as Features['pki'];
  const apps = await Promise.all(
    [true, false].map(async (fastPath) => {
      const app = Fastify({ logger: false });
      app.setErrorHandler(errorHandler);
      await app.register(async (s) => pkiPublicRoutes(s, { pki: failing }, { fastPath }));
      await app.listen({ host: '127.0.0.1', port: 0 });
      return app;
    }),
  );
  try {
    const [fastApp, slowApp] = apps as [FastifyInstance, FastifyInstance];
    const c: Case = {
      name: 'good',
      method: 'POST',
      path: '/ocsp',
      body: reqs.good!,
      headers: OCSP_REQ,
      fast: true,
    };
    const fast = await send((fastApp.server.address() as AddressInfo).port, c);
    const viaFastify = await send((slowApp.server.address() as AddressInfo).port, c);
    assert.equal(fastRouterOf(fastApp)?.handled, 1);
    assert.equal(fast.status, 500);
    assert.deepEqual(fast, viaFastify);
    assert.deepEqual(JSON.parse(fast.body.toString()), {
      error: { code: 'ERR_INTERNAL', message: 'internal error' },
    });
  } finally {
    for (const app of apps) await app.close();
  }
});

test('a prefix fast route is registered once per method and prefix; exact routes are tried first', async () => {
  const router = new FastRouter();
  const seen: string[] = [];
  router.addPrefix('GET', '/p/', '/p/*', () => (seen.push('prefix'), true));
  router.add('GET', '/p/exact', () => (seen.push('exact'), true));
  assert.throws(
    () => router.addPrefix('GET', '/p/', '/p/*', () => true),
    (e: unknown) => (e as { code?: string }).code === 'ERR_FAST_ROUTE_DUPLICATE',
  );
  const req = (method: string, url: string) => ({ method, url }) as IncomingMessage;
  const res = {} as ServerResponse;
  assert.equal(router.dispatch(req('GET', '/p/exact'), res), true);
  assert.equal(router.dispatch(req('GET', '/p/x'), res), true);
  assert.equal(router.dispatch(req('POST', '/p/x'), res), false);
  assert.equal(router.dispatch(req('GET', '/q/x'), res), false);
  assert.deepEqual(seen, ['exact', 'prefix']);
  assert.equal(router.handled, 2);
});
