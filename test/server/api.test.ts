import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, createTestApp, type TestApp } from '../helpers/app.ts';

async function counts(t: TestApp) {
  const db = t.core.store.db;
  const n = async (table: 'device_models' | 'devices' | 'tenants' | 'api_tokens' | 'audit_entries') =>
    Number(
      (
        await db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  return {
    models: await n('device_models'),
    devices: await n('devices'),
    tenants: await n('tenants'),
    tokens: await n('api_tokens'),
    audit: await n('audit_entries'),
  };
}

describe('operator API', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  it('creates a model and a device, each audited', async () => {
    const before = await counts(t);
    const m = await t.app.inject({
      method: 'POST',
      url: '/api/v1/models',
      headers: bearer(t.tokenA.operator),
      payload: { name: 'gateway-2' },
    });
    assert.equal(m.statusCode, 201);
    const d = await t.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: bearer(t.tokenA.operator),
      payload: { serial: 'GW-1', modelId: m.json().id },
    });
    assert.equal(d.statusCode, 201);
    assert.equal(d.json().state, 'registered');
    const after = await counts(t);
    assert.equal(after.models, before.models + 1);
    assert.equal(after.devices, before.devices + 1);
    assert.equal(after.audit, before.audit + 2);
    const get = await t.app.inject({
      url: `/api/v1/devices/${d.json().id}`,
      headers: bearer(t.tokenA.auditor),
    });
    assert.equal(get.json().serial, 'GW-1');
  });

  const bad: [string, Record<string, unknown>, number, string][] = [
    [
      'malformed JSON',
      { payload: '{"name":', headers: { 'content-type': 'application/json' } },
      400,
      'ERR_BODY_MALFORMED',
    ],
    ['wrong type', { payload: { name: 42 } }, 400, 'ERR_VALIDATION'],
    ['unknown field', { payload: { name: 'ok-name', admin: true } }, 400, 'ERR_VALIDATION'],
    ['missing field', { payload: {} }, 400, 'ERR_VALIDATION'],
    ['bad name', { payload: { name: '../etc' } }, 400, 'ERR_MODEL_NAME_INVALID'],
    [
      'oversize body',
      { payload: { name: 'x', description: 'y'.repeat(2 * 1024 * 1024) } },
      413,
      'ERR_BODY_TOO_LARGE',
    ],
    [
      'wrong content type',
      { payload: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      415,
      'ERR_UNSUPPORTED_MEDIA_TYPE',
    ],
  ];
  for (const [name, req, status, code] of bad) {
    it(`refuses ${name} with ${status} ${code} and writes nothing`, async () => {
      const before = await counts(t);
      const res = await t.app.inject({
        method: 'POST',
        url: '/api/v1/models',
        ...req,
        headers: {
          ...bearer(t.tokenA.admin),
          ...((req.headers as Record<string, string> | undefined) ?? {}),
        },
      } as never);
      assert.equal(res.statusCode, status, res.body);
      assert.equal(res.json().error.code, code);
      assert.deepEqual(await counts(t), before);
    });
  }

  it('refuses a duplicate serial with 409 and writes nothing', async () => {
    const before = await counts(t);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: bearer(t.tokenA.admin),
      payload: { serial: 'SN-0001', modelId: t.manufacturer.modelId },
    });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().error.code, 'ERR_DEVICE_EXISTS');
    assert.deepEqual(await counts(t), before);
  });

  const badTokens: [string, string, string][] = [
    ['garbage', 'Bearer not-a-token', 'ERR_AUTH_TOKEN_MALFORMED'],
    ['not bearer', 'Basic dXNlcjpwYXNz', 'ERR_AUTH_TOKEN_MALFORMED'],
    ['unknown id', `Bearer tok_${'0'.repeat(20)}.${'A'.repeat(43)}`, 'ERR_AUTH_TOKEN_INVALID'],
  ];
  for (const [name, header, code] of badTokens) {
    it(`refuses a ${name} token with 401 ${code}`, async () => {
      const res = await t.app.inject({ url: '/api/v1/devices', headers: { authorization: header } });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().error.code, code);
    });
  }

  it('refuses a right id with a wrong secret, and audits the refusal', async () => {
    const real = t.tokenA.operator;
    const forged = `${real.split('.')[0]}.${'B'.repeat(43)}`;
    const res = await t.app.inject({ url: '/api/v1/devices', headers: bearer(forged) });
    assert.equal(res.json().error.code, 'ERR_AUTH_TOKEN_INVALID');
    const last = await t.core.store.db
      .selectFrom('audit_entries')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.equal(last.action, 'auth.denied');
    assert.equal(last.actor, `token:${real.split('.')[0]}`);
  });

  it('audits a wrong-role refusal', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(t.tokenA.auditor),
      payload: { name: 'x', role: 'admin' },
    });
    assert.equal(res.statusCode, 403);
    const last = await t.core.store.db
      .selectFrom('audit_entries')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.equal(last.action, 'authz.denied');
  });

  it('a revoked token stops working', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(t.tokenA.admin),
      payload: { name: 'temp', role: 'auditor' },
    });
    assert.equal(created.statusCode, 201);
    const { token, info } = created.json<{ token: string; info: { id: string } }>();
    assert.equal((await t.app.inject({ url: '/api/v1/whoami', headers: bearer(token) })).statusCode, 200);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${info.id}`,
      headers: bearer(t.tokenA.admin),
    });
    assert.equal(del.statusCode, 200);
    const res = await t.app.inject({ url: '/api/v1/whoami', headers: bearer(token) });
    assert.equal(res.json().error.code, 'ERR_AUTH_TOKEN_REVOKED');
  });

  it('an expired token is refused', async () => {
    const { token } = await t.tokens.create(
      { actor: 'test' },
      {
        tenantId: t.manufacturer.id,
        name: 'short',
        role: 'auditor',
        expiresAt: new Date(t.core.clock.now().getTime() + 1000).toISOString(),
      },
    );
    t.core.clock.advance(2000);
    const res = await t.app.inject({ url: '/api/v1/whoami', headers: bearer(token) });
    assert.equal(res.json().error.code, 'ERR_AUTH_TOKEN_EXPIRED');
  });

  it('never stores, logs or returns a token secret after creation', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(t.tokenA.admin),
      payload: { name: 'secret-check', role: 'operator' },
    });
    const token = created.json().token as string;
    const secret = token.split('.')[1]!;
    await t.app.inject({ url: '/api/v1/whoami', headers: bearer(token) });
    const listed = await t.app.inject({ url: '/api/v1/tokens', headers: bearer(t.tokenA.admin) });
    assert.ok(!listed.body.includes(secret));
    assert.ok(!t.logs.join('').includes(secret), 'secret reached the log');
    const rows = await t.core.store.db.selectFrom('api_tokens').selectAll().execute();
    for (const r of rows) assert.ok(!Buffer.from(r.secret_hash).toString('base64url').includes(secret));
    const audit = await t.core.store.db.selectFrom('audit_entries').select('details').execute();
    assert.ok(!audit.some((a) => a.details.includes(secret)));
  });

  it('answers unknown routes with 404 ERR_ROUTE_NOT_FOUND', async () => {
    const res = await t.app.inject({ url: '/api/v1/nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'ERR_ROUTE_NOT_FOUND');
  });

  it('serves health, metrics and an OpenAPI document covering every API route', async () => {
    assert.deepEqual((await t.app.inject({ url: '/healthz' })).json(), { status: 'ok' });
    const metrics = await t.app.inject({ url: '/metrics' });
    assert.match(metrics.body, /imprint_http_requests_total\{method="GET",route="\/healthz",status="200"\}/);
    const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json<{
      openapi: string;
      paths: Record<string, unknown>;
    }>();
    assert.equal(doc.openapi, '3.1.0');
    for (const p of [
      '/api/v1/devices',
      '/api/v1/devices/{id}',
      '/api/v1/tokens',
      '/api/v1/tenants',
      '/api/v1/models',
    ]) {
      assert.ok(p in doc.paths, `${p} missing from OpenAPI`);
    }
  });
});

describe('rate limits', () => {
  it('answers 429 ERR_RATE_LIMITED past the per-client limit, per token', async () => {
    const t = await createTestApp({ rateLimitPerMinute: 5 });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 7; i++)
        codes.push(
          (await t.app.inject({ url: '/api/v1/whoami', headers: bearer(t.tokenA.admin) })).statusCode,
        );
      assert.deepEqual(codes, [200, 200, 200, 200, 200, 429, 429]);
      const res = await t.app.inject({ url: '/api/v1/whoami', headers: bearer(t.tokenA.admin) });
      assert.equal(res.json().error.code, 'ERR_RATE_LIMITED');
      // Another client still gets through.
      assert.equal(
        (await t.app.inject({ url: '/api/v1/whoami', headers: bearer(t.tokenA.operator) })).statusCode,
        200,
      );
    } finally {
      await t.close();
    }
  });
});
