import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { toPem } from '../../src/core/encoding.ts';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { parseErrors } from '../../src/sztp/restconf-errors.ts';
import { makeCert, keyPem, pem, type TestCert } from './pki-helpers.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

const image = new TextEncoder().encode('ImprintOS 2.0 image bytes');
const hash = new Uint8Array(createHash('sha256').update(image).digest());
const platform = () =>
  new MemoryPlatform({
    fetch: (uri) =>
      uri.endsWith('imprintos-2.0.img') ? Promise.resolve(image) : Promise.reject(new Error('404')),
  });

let w: World;
before(async () => {
  w = await makeWorld();
});
after(() => w.close());

function raw(
  path: string,
  opts: {
    body?: string;
    type?: string;
    accept?: string;
    client?: TestCert | null;
    auth?: string;
    method?: string;
  },
) {
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: w.port,
        path,
        method: opts.method ?? 'POST',
        ca: pem(w.tlsCa),
        ...(opts.client ? { cert: pem(opts.client), key: keyPem(opts.client) } : {}),
        headers: {
          ...(opts.type ? { 'content-type': opts.type } : {}),
          ...(opts.accept ? { accept: opts.accept } : {}),
          ...(opts.auth ? { authorization: opts.auth } : {}),
        },
      },
      (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: b }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body ?? '');
  });
}
const GBD = '/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data';

test('unknown or unbound devices get RESTCONF errors in the negotiated encoding', async () => {
  const stranger = await makeCert('CN=x', {
    issuer: await makeCert('CN=Other CA', { ca: true }),
    serialAttr: 'SN-0001',
  });
  const r1 = await raw(GBD, {
    client: stranger,
    type: 'application/yang-data+json',
    body: '{"ietf-sztp-bootstrap-server:input":{}}',
  });
  assert.equal(r1.status, 403);
  assert.equal(parseErrors(r1.body, 'json')[0]?.tag, 'access-denied');
  const r2 = await raw(GBD, {
    client: null,
    type: 'application/yang-data+xml',
    body: '<input xmlns="urn:ietf:params:xml:ns:yang:ietf-sztp-bootstrap-server"/>',
  });
  assert.equal(r2.status, 403);
  assert.match(r2.type, /yang-data\+xml/);
  assert.equal(parseErrors(r2.body, 'xml')[0]?.tag, 'access-denied');
  const r3 = await raw(GBD, { client: w.idevid, type: 'application/yang-data+json', body: '' });
  assert.equal(r3.status, 409);
  assert.equal(parseErrors(r3.body, 'json')[0]?.tag, 'data-missing');
  const r4 = await raw(GBD, {
    client: w.idevid,
    type: 'application/yang-data+json',
    body: '{"ietf-sztp-bootstrap-server:input":{"bogus":1}}',
  });
  assert.equal(r4.status, 400);
  assert.equal(parseErrors(r4.body, 'json')[0]?.tag, 'malformed-message');
  const hm = await raw('/.well-known/host-meta', { method: 'GET' });
  assert.match(hm.body, /rel="restconf" href="\/restconf"/);
});

test('a bound device bootstraps with signed onboarding information and the owner sees the log', async () => {
  await w.admin.bind(
    { actor: 'test' },
    { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-0001'] },
  );
  await w.admin.setRecord(
    { actor: 'test' },
    { ownerId: w.ownerId, scope: 'owner', scopeId: w.ownerId, document: onboardingDoc(image, hash) },
  );
  const p = platform();
  const result = await runAgent({ state: w.state(), platform: p });
  assert.equal(result.ok, true, JSON.stringify(result.error));
  assert.deepEqual(p.bootImage, image);
  assert.equal(p.os.version, '2.0');
  assert.equal(new TextDecoder().decode(p.configuration), '{"hostname":"sensor"}');
  assert.deepEqual(
    p.scripts.map((s) => s.phase),
    ['pre', 'post'],
  );
  assert.deepEqual(
    result.reports.map((r) => r.type),
    [
      'bootstrap-initiated',
      'parsing-initiated',
      'parsing-complete',
      'boot-image-initiated',
      'boot-image-complete',
      'pre-script-initiated',
      'pre-script-complete',
      'config-initiated',
      'config-complete',
      'post-script-initiated',
      'post-script-complete',
      'bootstrap-complete',
    ],
  );
  const log = await w.admin.log(w.ownerTenantId, w.device.id);
  assert.equal(log[0]?.message, 'data-missing'); // the earlier refused request is logged too
  assert.equal(log[1]?.kind, 'request');
  assert.equal(log[1]?.details['signed'], true);
  assert.equal(log.at(-1)?.progressType, 'bootstrap-complete');
  assert.equal(log.length, 14);
  assert.equal((await w.core.registry.getDevice(w.device.id)).state, 'onboarded');
  assert.equal(w.events.at(-1)?.progressType, 'bootstrap-complete');
  const audits = await w.core.store.db
    .selectFrom('audit_entries')
    .select('action')
    .where('subject', '=', w.device.id)
    .execute();
  assert.ok(audits.filter((a) => a.action === 'sztp.progress.reported').length === 12);
});

test('the most specific record wins, XML and encryption to the IDevID work end to end', async () => {
  await w.admin.setRecord(
    { actor: 'test' },
    { ownerId: w.ownerId, scope: 'model', scopeId: w.modelId, document: onboardingDoc(image, hash, 'model') },
  );
  await w.admin.setRecord(
    { actor: 'test' },
    {
      ownerId: w.ownerId,
      scope: 'device',
      scopeId: w.device.id,
      document: onboardingDoc(image, hash, 'device-specific'),
      encoding: 'xml',
      encrypt: true,
    },
  );
  const p = platform();
  const result = await runAgent({ state: w.state(), platform: p, encoding: 'xml' });
  assert.equal(result.ok, true, JSON.stringify(result.error));
  assert.equal(new TextDecoder().decode(p.configuration), 'device-specific');
  const log = await w.admin.log(w.ownerTenantId, w.device.id);
  assert.equal(log.filter((l) => l.kind === 'request').at(-1)?.details['encrypted'], true);
});

test('HTTP Basic alone authenticates; a serial mismatch with the certificate is refused', async () => {
  await w.admin.setDeviceSecret({ actor: 'test' }, w.device.id, 'correct horse battery staple');
  // Encrypted records need the IDevID; HTTP Basic alone gets the plain signed record.
  await w.admin.setRecord(
    { actor: 'test' },
    {
      ownerId: w.ownerId,
      scope: 'device',
      scopeId: w.device.id,
      document: onboardingDoc(image, hash, 'basic'),
    },
  );
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  const ok = await raw(GBD, {
    client: null,
    auth: basic('SN-0001:correct horse battery staple'),
    accept: 'application/yang-data+json',
  });
  assert.equal(ok.status, 200, ok.body);
  assert.match(ok.body, /"ietf-sztp-bootstrap-server:output"/);
  const bad = await raw(GBD, { client: null, auth: basic('SN-0001:wrong secret wrong secret') });
  assert.equal(bad.status, 403);
  const mismatch = await raw(GBD, { client: w.idevid, auth: basic('SN-0002:correct horse battery staple') });
  assert.equal(mismatch.status, 403);
});

test('admin API: owners, bindings and the log over HTTPS', async () => {
  const get = await raw('/api/v1/sztp/owners', { method: 'GET', client: null, accept: 'application/json' });
  assert.equal(get.status, 401); // no principal without the platform auth hook
  const headers = { 'x-test-tenant': w.ownerTenantId };
  const res = await w.app.inject({ method: 'GET', url: `/api/v1/sztp/devices/${w.device.id}/log`, headers });
  assert.equal(res.statusCode, 200);
  assert.ok(res.json<unknown[]>().length > 10);
  const root = await makeCert('CN=Second Root', { ca: true });
  const leaf = await makeCert('CN=Second', { issuer: root });
  const created = await w.app.inject({
    method: 'POST',
    url: '/api/v1/sztp/owners',
    headers,
    payload: { name: 'second', chainPem: pem(leaf) + pem(root) },
  });
  assert.equal(created.statusCode, 201, created.body);
  const badChain = await w.app.inject({
    method: 'POST',
    url: '/api/v1/sztp/owners',
    headers,
    payload: {
      name: 'third',
      chainPem: pem(leaf) + toPem('CERTIFICATE', (await makeCert('CN=Unrelated', { ca: true })).der),
    },
  });
  assert.equal(badChain.statusCode, 400);
  assert.equal((await w.admin.listOwners(w.ownerTenantId)).length, 2);
});

test('bad admin input is refused with a specific code and writes nothing', async () => {
  const { hasCode } = await import('../../src/core/errors.ts');
  const count = async () => ({
    bindings: (await w.core.store.db.selectFrom('sztp_bindings').select('device_id').execute()).length,
    records: (await w.core.store.db.selectFrom('sztp_onboarding').select('id').execute()).length,
    masa: (await w.core.store.db.selectFrom('sztp_masa').select('key_id').execute()).map((r) => r.key_id),
    audit: (await w.core.store.db.selectFrom('audit_entries').select('seq').execute()).length,
  });
  const before = await count();
  const by = { actor: 'test' };
  await assert.rejects(
    w.admin.bind(by, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-0001', 'SN-NOPE'] }),
    (e) => hasCode(e, 'ERR_DEVICE_NOT_FOUND'),
  );
  await assert.rejects(
    w.admin.setRecord(by, {
      ownerId: w.ownerId,
      scope: 'owner',
      scopeId: w.ownerId,
      document: { 'ietf-sztp-conveyed-info:onboarding-information': { nope: 1 } },
    }),
    (e) => hasCode(e, 'ERR_SZTP_CONVEYED_INFO_INVALID'),
  );
  const k = await w.core.keys.generate('unrelated', 'ecdsa-p256');
  await assert.rejects(
    w.admin.setMasa(by, { tenantId: w.mfgTenantId, keyId: k.id, chainPem: pem(w.mfgCa) }),
    (e) => hasCode(e, 'ERR_SZTP_KEY_MISMATCH'),
  );
  await assert.rejects(w.admin.addWebhook(by, w.ownerId, 'ftp://x'), (e) =>
    hasCode(e, 'ERR_SZTP_WEBHOOK_INVALID'),
  );
  await assert.rejects(w.admin.setDeviceSecret(by, w.device.id, 'short'), (e) =>
    hasCode(e, 'ERR_SZTP_SECRET_WEAK'),
  );
  assert.deepEqual(await count(), before);
});
