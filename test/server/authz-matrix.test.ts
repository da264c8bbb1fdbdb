import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { routesOf, type RouteEntry } from '../../src/server/app.ts';
import { ROLES, type Role } from '../../src/server/types.ts';
import { bearer, createTestApp, type TestApp } from '../helpers/app.ts';

/**
 * The authorisation matrix: every route × every role × the other tenant × no token.
 * EXPECTED is written out by hand so that a change to a route's access rule must be made twice, on purpose.
 */
const R = ['admin', 'operator', 'auditor'] as const;
const EXPECTED: Record<string, 'public' | readonly Role[]> = {
  'GET /healthz': 'public',
  'GET /metrics': 'public',
  'GET /api/v1/openapi.json': 'public',
  'GET /api/v1/tenants': R,
  'POST /api/v1/tenants': ['admin'],
  'GET /api/v1/tenants/:id': R,
  'GET /api/v1/models': R,
  'POST /api/v1/models': ['admin', 'operator'],
  'GET /api/v1/devices': R,
  'GET /api/v1/devices/:id': R,
  'POST /api/v1/devices': ['admin', 'operator'],
  'GET /api/v1/whoami': ROLES,
  'GET /api/v1/tokens': ['admin'],
  'POST /api/v1/tokens': ['admin'],
  'DELETE /api/v1/tokens/:id': ['admin'],
  'GET /api/v1/audit/entries': ['admin', 'auditor'],
  'GET /api/v1/audit/tree-head': ['admin', 'auditor'],
  'GET /api/v1/audit/public-key': ['admin', 'auditor'],
  'GET /api/v1/audit/proofs/inclusion': ['admin', 'auditor'],
  'GET /api/v1/audit/proofs/consistency': ['admin', 'auditor'],
};

describe('authorisation matrix', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  const url = (r: RouteEntry) => r.url.replace(':id', t.manufacturer.deviceId).replace(/:(\w+)/g, 'x');

  it('every mounted route has an access rule and an expectation', () => {
    for (const r of routesOf(t.app)) {
      assert.ok(r.access !== undefined, `${r.method} ${r.url} has no access rule`);
      assert.ok(`${r.method} ${r.url}` in EXPECTED, `${r.method} ${r.url} is missing from the matrix`);
    }
  });

  it('access rules are exactly the expected ones', () => {
    for (const r of routesOf(t.app)) {
      const want = EXPECTED[`${r.method} ${r.url}`];
      if (want === 'public') assert.equal(r.access, 'public', `${r.method} ${r.url}`);
      else
        assert.deepEqual(
          [...(r.access as { roles: Role[] }).roles].sort(),
          [...(want ?? [])].sort(),
          `${r.method} ${r.url}`,
        );
    }
  });

  it('no token: every protected route answers 401, public ones do not', async () => {
    for (const r of routesOf(t.app)) {
      const res = await t.app.inject({
        method: r.method as 'GET',
        url: url(r),
        ...(r.method === 'GET' ? {} : { payload: {} }),
      });
      if (EXPECTED[`${r.method} ${r.url}`] === 'public')
        assert.notEqual(res.statusCode, 401, `${r.method} ${r.url}`);
      else {
        assert.equal(res.statusCode, 401, `${r.method} ${r.url}`);
        assert.equal(res.json().error.code, 'ERR_AUTH_REQUIRED');
      }
    }
  });

  it('each role: allowed routes pass authorisation, others answer 403 ERR_FORBIDDEN_ROLE', async () => {
    for (const r of routesOf(t.app)) {
      const want = EXPECTED[`${r.method} ${r.url}`];
      if (want === 'public') continue;
      for (const role of ROLES) {
        const res = await t.app.inject({
          method: r.method as 'GET',
          url: url(r),
          headers: bearer(t.tokenA[role]),
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }),
        });
        const where = `${role} ${r.method} ${r.url} -> ${res.statusCode} ${res.body.slice(0, 120)}`;
        if (want?.includes(role)) assert.ok(res.statusCode !== 401 && res.statusCode !== 403, where);
        else {
          assert.equal(res.statusCode, 403, where);
          assert.equal(res.json().error.code, 'ERR_FORBIDDEN_ROLE', where);
        }
      }
    }
  });

  it("another tenant's tokens cannot see or change this tenant's records", async () => {
    const B = t.tokenB;
    const dev = await t.app.inject({
      url: `/api/v1/devices/${t.manufacturer.deviceId}`,
      headers: bearer(B.admin),
    });
    assert.equal(dev.statusCode, 404);
    assert.equal(dev.json().error.code, 'ERR_DEVICE_NOT_FOUND');
    const list = await t.app.inject({ url: '/api/v1/devices', headers: bearer(B.admin) });
    assert.deepEqual(list.json(), []);
    const tenant = await t.app.inject({
      url: `/api/v1/tenants/${t.manufacturer.id}`,
      headers: bearer(B.auditor),
    });
    assert.equal(tenant.statusCode, 404);
    const tokensOfA = (await t.tokens.list(t.manufacturer.id))[0]!;
    const revoke = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/tokens/${tokensOfA.id}`,
      headers: bearer(B.admin),
    });
    assert.equal(revoke.statusCode, 404);
    assert.equal(
      (await t.tokens.list(t.manufacturer.id)).find((x) => x.id === tokensOfA.id)?.revokedAt,
      null,
    );
    const register = await t.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: bearer(B.admin),
      payload: { serial: 'SN-X', modelId: t.manufacturer.modelId },
    });
    assert.equal(register.statusCode, 403);
    assert.equal(register.json().error.code, 'ERR_FORBIDDEN_TENANT');
    const mintForA = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(B.admin),
      payload: { name: 'x', role: 'admin', tenantId: t.manufacturer.id },
    });
    assert.equal(mintForA.statusCode, 403);
    const models = await t.app.inject({ url: '/api/v1/models', headers: bearer(B.operator) });
    assert.deepEqual(models.json(), []);
    const tenants = await t.app.inject({ url: '/api/v1/tenants', headers: bearer(B.admin) });
    assert.deepEqual(
      tenants.json().map((x: { id: string }) => x.id),
      [t.owner.id],
    );
  });
});
