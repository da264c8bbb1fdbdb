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
const EXPECTED: Record<string, 'public' | 'device' | readonly Role[]> = {
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
  // Feature routes (PKI, factory, SZTP, firmware).
  'GET /crl/:caId.crl': 'public',
  'GET /ca/:caId.crt': 'public',
  'POST /ocsp': 'public',
  'GET /ocsp/*': 'public',
  'GET /ocsp': 'public',
  'GET /api/v1/cas': R,
  'GET /api/v1/cas/:id': R,
  'POST /api/v1/cas/:id/issue': ['admin', 'operator'],
  'POST /api/v1/cas/:id/revoke': ['admin', 'operator'],
  'GET /api/v1/cas/:id/crl': R,
  'POST /api/v1/cas/:id/crl': ['admin', 'operator'],
  'POST /api/v1/cas/:id/ocsp-signer/renew': ['admin', 'operator'],
  'GET /api/v1/certificates': R,
  'GET /api/v1/certificates/:id': R,
  'POST /api/v1/factory/begin': ['station'],
  'POST /api/v1/factory/start': ['station'],
  'POST /api/v1/factory/issue': ['station'],
  'POST /api/v1/factory/seal': ['station'],
  'GET /api/v1/factory/batches/:id/firmware': ['station'],
  'POST /api/v1/factory/complete': ['station'],
  'POST /api/v1/factory/abort': ['station'],
  'POST /api/v1/stations': ['admin'],
  'POST /api/v1/batches': ['admin', 'operator'],
  'GET /api/v1/batches/:id': R,
  'POST /api/v1/batches/:id/close': ['admin', 'operator'],
  'POST /api/v1/batches/:id/manifest': ['admin', 'operator'],
  'POST /api/v1/claims': ['admin', 'operator'],
  'POST /restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data': 'public',
  'POST /restconf/operations/ietf-sztp-bootstrap-server:report-progress': 'public',
  'GET /.well-known/host-meta': 'public',
  'POST /api/v1/sztp/owners': ['admin'],
  'GET /api/v1/sztp/owners': R,
  'PUT /api/v1/sztp/masa': ['admin'],
  'POST /api/v1/sztp/manufacturer-cas': ['admin'],
  'POST /api/v1/sztp/owners/:id/bindings': ['admin', 'operator'],
  'PUT /api/v1/sztp/owners/:id/records': ['admin', 'operator'],
  'POST /api/v1/sztp/owners/:id/webhooks': ['admin'],
  'POST /api/v1/sztp/owners/:id/vouchers': ['admin'],
  'POST /api/v1/sztp/owners/:id/manifests': ['admin'],
  'POST /api/v1/sztp/devices/:id/voucher': ['admin'],
  'PUT /api/v1/sztp/devices/:id/secret': ['admin'],
  'GET /api/v1/sztp/devices/:id/log': R,
  'POST /api/v1/firmware/releases': ['release-manager'],
  'POST /api/v1/firmware/releases/:id/stage': ['release-manager'],
  'POST /api/v1/firmware/groups/:id': ['release-manager'],
  'GET /api/v1/firmware/releases/:id/progress': ['release-manager', 'admin', 'operator', 'auditor'],
  'POST /api/v1/firmware/reports': 'device',
  'GET /api/v1/firmware/rollout': 'device',
  'GET /tuf/:tenant/targets/*': 'public',
  'GET /tuf/:tenant/:name': 'public',
  'POST /api/v1/firmware/keys': ['release-manager'],
  'POST /api/v1/firmware/keys/code-signing-ca': ['release-manager'],
  'POST /api/v1/firmware/sign': ['release-manager'],
  'POST /api/v1/firmware/requests/:id/approve': ['release-manager'],
  'GET /api/v1/firmware/requests/:id': ['release-manager', 'admin', 'operator', 'auditor'],
  'GET /api/v1/firmware/images/:digest': ['release-manager', 'admin', 'operator', 'auditor'],
  'POST /api/v1/firmware/tuf/init': ['release-manager'],
  'POST /api/v1/firmware/tuf/targets': ['release-manager'],
  'POST /api/v1/firmware/tuf/rotate': ['release-manager'],
};

describe('authorisation matrix', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ features: true });
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
      if (want === 'public' || want === 'device') assert.equal(r.access, want, `${r.method} ${r.url}`);
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
      const want = EXPECTED[`${r.method} ${r.url}`];
      if (want === 'public') assert.notEqual(res.statusCode, 401, `${r.method} ${r.url}`);
      else {
        assert.equal(res.statusCode, 401, `${r.method} ${r.url}`);
        const code = want === 'device' ? 'ERR_AUTH_CLIENT_CERT_REQUIRED' : 'ERR_AUTH_REQUIRED';
        assert.equal(res.json().error.code, code, `${r.method} ${r.url}`);
      }
    }
  });

  it('each role: allowed routes pass authorisation, others answer 403 ERR_FORBIDDEN_ROLE', async () => {
    for (const r of routesOf(t.app)) {
      const want = EXPECTED[`${r.method} ${r.url}`];
      if (want === 'public') continue;
      for (const role of ROLES) {
        if (want === 'device') {
          // Device routes take a client certificate only; no API token of any role opens them.
          const res = await t.app.inject({
            method: r.method as 'GET',
            url: url(r),
            headers: bearer(t.tokenA[role]),
            payload: {},
          });
          assert.equal(res.statusCode, 401, `${role} ${r.method} ${r.url}`);
          continue;
        }
        const res = await t.app.inject({
          method: r.method as 'GET',
          url: url(r),
          headers: bearer(t.tokenA[role]),
          ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { payload: {} }),
        });
        const where = `${role} ${r.method} ${r.url} -> ${res.statusCode} ${res.body.slice(0, 120)}`;
        if ((want as readonly Role[]).includes(role)) {
          // Past authorisation; a feature may still refuse on its own terms (station routes want the
          // station's certificate, not a token), but never as a role refusal.
          assert.ok(res.statusCode !== 401, where);
          if (res.statusCode === 403) assert.notEqual(res.json().error.code, 'ERR_FORBIDDEN_ROLE', where);
        } else {
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
