/**
 * The fast path inside the real app assembly (buildApp with every feature, as `imprint serve` builds it):
 * it shares the rate-limit budget with Fastify's routes (same counters, same headers, 429 from Fastify once
 * over), counts in the request metrics and writes the request log line; the rate-limit counters are bounded.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fastRouterOf } from '../../src/server/fast-routes.ts';
import { RateLimitCounters } from '../../src/server/rate-limit-store.ts';
import { createTestApp, type TestApp } from '../helpers/app.ts';
import { makeCert, pem, serverCert, type TestCert } from './pki-helpers.ts';

const GBD = '/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data';
let t: TestApp;
let tlsCa: TestCert;
let port: number;

before(async () => {
  tlsCa = await makeCert('CN=App TLS CA', { ca: true });
  const tls = await serverCert(tlsCa);
  t = await createTestApp({
    features: true,
    rateLimitPerMinute: 3,
    tls: { key: tls.key.export({ type: 'pkcs8', format: 'pem' }), cert: pem(tls), ca: [pem(tlsCa)] },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
});
after(() => t.close());

function send(path: string, method = 'POST') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (resolve, reject) => {
      const body = method === 'POST' ? '{"ietf-sztp-bootstrap-server:input":{}}' : '';
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          ca: pem(tlsCa),
          agent: false,
          headers:
            method === 'POST'
              ? { 'content-type': 'application/yang-data+json', 'content-length': body.length }
              : {},
        },
        (res) => {
          let b = '';
          res.on('data', (d: Buffer) => (b += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

test('fast and Fastify routes share one rate-limit budget; the fast path is metered and logged', async () => {
  const router = fastRouterOf(t.app);
  assert.ok(router !== undefined);
  const before = router.handled;
  const a = await send(GBD);
  assert.equal(a.status, 403); // no device credentials: RESTCONF access-denied, from the fast path
  assert.match(a.body, /"error-tag":"access-denied"/);
  assert.equal(a.headers['x-ratelimit-limit'], '3');
  assert.equal(a.headers['x-ratelimit-remaining'], '2');
  assert.equal(router.handled, before + 1);
  const b = await send('/healthz', 'GET'); // a Fastify route, same caller
  assert.equal(b.status, 200);
  assert.equal(b.headers['x-ratelimit-remaining'], '1');
  const c = await send(GBD);
  assert.equal(c.status, 403);
  assert.equal(c.headers['x-ratelimit-remaining'], '0');
  const d = await send(GBD); // over the limit: Fastify's rate limiter answers
  assert.equal(d.status, 429);
  assert.equal((JSON.parse(d.body) as { error: { code: string } }).error.code, 'ERR_RATE_LIMITED');
  assert.equal(d.headers['retry-after'] !== undefined, true);
  assert.equal(router.handled, before + 2);
  const e = await send('/healthz', 'GET');
  assert.equal(e.status, 429);

  // Another address has its own budget; the metrics count the fast requests under their route.
  const m = await t.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.0.0.9' });
  assert.equal(m.statusCode, 200);
  assert.match(
    m.body,
    /imprint_http_requests_total\{method="POST",route="\/restconf\/operations\/ietf-sztp-bootstrap-server:get-bootstrapping-data",status="403"\} 2/,
  );
  const fastLines = t.logs.filter(
    (l) => l.includes('"request completed"') && l.includes(GBD) && l.includes('"statusCode":403'),
  );
  assert.equal(fastLines.length, 2);
});

test('rate-limit counters: fixed window, separate child counters, bounded key count', () => {
  const c = new RateLimitCounters(2);
  assert.deepEqual(c.hit('a', 1000, 0), { current: 1, ttl: 1000 });
  assert.deepEqual(c.hit('a', 1000, 400), { current: 2, ttl: 600 });
  assert.deepEqual(c.peek('a', 1000, 500), { current: 2, ttl: 500 });
  assert.deepEqual(c.hit('a', 1000, 1000), { current: 1, ttl: 1000 }); // a new window
  c.hit('b', 1000, 1000);
  c.hit('c', 1000, 1000); // the least recently used key ('a') is dropped
  assert.deepEqual(c.peek('a', 1000, 1001), { current: 0, ttl: 0 });
  const store = c.asStore();
  const child = store.child({} as Parameters<typeof store.child>[0]);
  child.incr('b', () => undefined, 1000, 10);
  assert.equal(c.peek('b', 1000, 1001).current, 1); // the child counted on its own
});
