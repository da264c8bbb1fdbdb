/**
 * The fast path in front of Fastify (fast-rpc.ts) answers exactly as the Fastify routes do: one world, one
 * bootstrap service, two servers (fast path on and off), the same requests, byte-identical answers, the same
 * log entries; requests the fast path is not written for fall through to Fastify.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { readLog } from '../../src/sztp/bootstrap-log.ts';
import { fastRouterOf } from '../../src/server/fast-routes.ts';
import { makeCert, keyPem, pem, type TestCert } from './pki-helpers.ts';
import { makeWorld, onboardingDoc, serveSztp, type World } from './world.ts';

const GBD = '/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data';
const RP = '/restconf/operations/ietf-sztp-bootstrap-server:report-progress';
const by = { actor: 'test' };

let w: World;
let slow: Awaited<ReturnType<typeof serveSztp>>;
let stranger: TestCert;
before(async () => {
  w = await makeWorld();
  slow = await serveSztp(w.bootstrap, w.admin, { fastPath: false });
  stranger = await makeCert('CN=x', {
    issuer: await makeCert('CN=Other CA', { ca: true }),
    serialAttr: 'SN-0001',
  });
  await w.admin.bind(by, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-0001'] });
  const image = new TextEncoder().encode('image');
  await w.admin.setRecord(by, {
    ownerId: w.ownerId,
    scope: 'owner',
    scopeId: w.ownerId,
    document: onboardingDoc(image, new Uint8Array(createHash('sha256').update(image).digest())),
  });
});
after(async () => {
  await slow.app.close();
  await w.close();
});

interface Case {
  readonly name: string;
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly client?: 'idevid' | 'stranger' | 'none';
  /** Whether the fast path takes it (otherwise Fastify answers on both servers). */
  readonly fast: boolean;
}

const J = 'application/yang-data+json';
const X = 'application/yang-data+xml';
const NS = 'urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server';
const CASES: Case[] = [
  {
    name: 'json',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{"hw-model":"sensor-1"}}',
    headers: { 'content-type': J },
    fast: true,
  },
  {
    name: 'xml',
    path: GBD,
    body: `<input xmlns="${NS}"><hw-model>sensor-1</hw-model></input>`,
    headers: { 'content-type': X },
    fast: true,
  },
  {
    name: 'json in, xml out',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': J, accept: X },
    fast: true,
  },
  { name: 'empty body', path: GBD, body: '', headers: { 'content-type': J }, fast: true },
  { name: 'malformed json', path: GBD, body: '{"ietf-sztp', headers: { 'content-type': J }, fast: true },
  {
    name: 'unknown member',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{"bogus":1}}',
    headers: { 'content-type': J },
    fast: true,
  },
  {
    name: 'malformed xml',
    path: GBD,
    body: '<input',
    headers: { 'content-type': 'application/xml' },
    fast: true,
  },
  {
    name: 'bad nonce',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{"nonce":"AAAA"}}',
    headers: { 'content-type': J },
    fast: true,
  },
  {
    name: 'no certificate',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': J },
    client: 'none',
    fast: true,
  },
  {
    name: 'unknown issuer',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': J },
    client: 'stranger',
    fast: true,
  },
  {
    name: 'bad basic auth',
    path: GBD,
    body: '',
    headers: { 'content-type': J, authorization: `Basic ${Buffer.from('SN-0001:nope').toString('base64')}` },
    client: 'none',
    fast: true,
  },
  {
    name: 'basic names another serial',
    path: GBD,
    body: '',
    headers: { 'content-type': J, authorization: `Basic ${Buffer.from('SN-9:x').toString('base64')}` },
    fast: true,
  },
  {
    name: 'progress',
    path: RP,
    body: '{"ietf-sztp-bootstrap-server:input":{"progress-type":"bootstrap-initiated"}}',
    headers: { 'content-type': J },
    fast: true,
  },
  {
    name: 'progress xml',
    path: RP,
    body: `<input xmlns="${NS}"><progress-type>parsing-initiated</progress-type></input>`,
    headers: { 'content-type': X },
    fast: true,
  },
  {
    name: 'bad progress type',
    path: RP,
    body: '{"ietf-sztp-bootstrap-server:input":{"progress-type":"nope"}}',
    headers: { 'content-type': J },
    fast: true,
  },
  { name: 'progress without input', path: RP, body: '', headers: { 'content-type': J }, fast: true },
  // Left to Fastify: its own parsers and error shapes.
  {
    name: 'application/json',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': 'application/json' },
    fast: false,
  },
  {
    name: 'bad application/json',
    path: GBD,
    body: '{',
    headers: { 'content-type': 'application/json' },
    fast: false,
  },
  { name: 'text/plain', path: GBD, body: 'hello', headers: { 'content-type': 'text/plain' }, fast: false },
  {
    name: 'charset parameter',
    path: GBD,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': `${J}; charset=utf-8` },
    fast: false,
  },
  { name: 'no content type', path: GBD, body: '', fast: false },
  {
    name: 'query string',
    path: `${GBD}?x=1`,
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
    headers: { 'content-type': J },
    fast: false,
  },
  {
    name: 'too large',
    path: GBD,
    body: 'x'.repeat(1024 * 1024 + 1),
    headers: { 'content-type': J },
    fast: false,
  },
];

function send(port: number, tlsCa: TestCert, c: Case) {
  const client = c.client === 'none' ? undefined : c.client === 'stranger' ? stranger : w.idevid;
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: c.path,
        method: 'POST',
        ca: pem(tlsCa),
        agent: false,
        ...(client !== undefined ? { cert: pem(client), key: keyPem(client) } : {}),
        headers: { ...c.headers, 'content-length': Buffer.byteLength(c.body ?? '') },
      },
      (res) => {
        let b = '';
        res.on('data', (d: Buffer) => (b += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: b }),
        );
      },
    );
    req.on('error', reject);
    req.end(c.body ?? '');
  });
}

test('the fast path gives the same status, media type, body and log entries as the Fastify routes', async () => {
  const fast = fastRouterOf(w.app);
  assert.ok(fast !== undefined);
  for (const c of CASES) {
    const taken: number = fast.handled;
    const logBefore = (await readLog(w.core, w.mfgTenantId, w.device.id)).length;
    const a = await send(w.port, w.tlsCa, c);
    assert.equal(fast.handled - taken, c.fast ? 1 : 0, `${c.name}: fast path taken`);
    const logMid = (await readLog(w.core, w.mfgTenantId, w.device.id)).length;
    const b = await send(slow.port, slow.tlsCa, c);
    const logAfter = (await readLog(w.core, w.mfgTenantId, w.device.id)).length;
    assert.equal(a.status, b.status, `${c.name}: status`);
    assert.equal(a.type, b.type, `${c.name}: media type`);
    assert.ok(a.body === b.body, `${c.name}: body ${a.body.slice(0, 300)} vs ${b.body.slice(0, 300)}`);
    assert.equal(logMid - logBefore, logAfter - logMid, `${c.name}: log entries`);
  }
  assert.equal(fastRouterOf(slow.app), undefined);
});

test('a successful fast answer carries the signed artifacts and is logged and audited', async () => {
  const ok = await send(w.port, w.tlsCa, CASES[0] as Case);
  assert.equal(ok.status, 200);
  assert.equal(ok.type, `${J}; charset=utf-8`);
  const out = JSON.parse(ok.body) as Record<string, Record<string, string>>;
  const o = out['ietf-sztp-bootstrap-server:output'] ?? {};
  assert.ok(o['conveyed-information'] && o['owner-certificate'] && o['ownership-voucher']);
  const log = await readLog(w.core, w.mfgTenantId, w.device.id);
  assert.equal(log.at(-1)?.kind, 'request');
  const audit = await w.core.store.db
    .selectFrom('audit_entries')
    .select('action')
    .where('subject', '=', w.device.id)
    .orderBy('seq', 'desc')
    .executeTakeFirstOrThrow();
  assert.equal(audit.action, 'sztp.bootstrap.requested');
});
