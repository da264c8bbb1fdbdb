import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import '../../src/server/fastify-types.ts';
import { ForbiddenError } from '../../src/core/errors.ts';
import { errorHandler } from '../../src/server/error-handler.ts';
import { pkiApiRoutes } from '../../src/pki/routes-api.ts';
import { pkiPublicRoutes } from '../../src/pki/routes-public.ts';
import type { Principal, Role } from '../../src/server/types.ts';
import { count, createPki, makeCsr, type PkiFixture } from './helpers.ts';

/** A bare Fastify with the PKI plugins; the caller's role comes from the x-test-role header. */
async function buildTestApp(f: PkiFixture, tenantOf: (role: string) => string): Promise<FastifyInstance> {
  const app = Fastify();
  app.setErrorHandler(errorHandler);
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public' || access === 'device') return;
    const header = String(request.headers['x-test-role'] ?? '');
    // `outsider` is an auditor of another tenant.
    const role = (header === 'outsider' ? 'auditor' : header) as Role;
    const principal: Principal = {
      kind: 'token',
      id: `tok_${role}`,
      tenantId: tenantOf(header),
      role,
      actor: `token:tok_${role}`,
    };
    request.principal = principal;
    if (!access.roles.includes(role)) throw new ForbiddenError('ERR_FORBIDDEN_ROLE', `role ${role} may not`);
  });
  await app.register(async (scope) => pkiApiRoutes(scope, { pki: f.pki }));
  await app.register(async (scope) => pkiPublicRoutes(scope, { pki: f.pki }));
  await app.ready();
  return app;
}

describe('PKI HTTP API', () => {
  let f: PkiFixture;
  let app: FastifyInstance;
  let otherTenant: string;
  before(async () => {
    f = await createPki();
    otherTenant = (await f.core.registry.createTenant(f.by, 'Elsewhere', 'owner')).id;
    app = await buildTestApp(f, (role) => (role === 'outsider' ? otherTenant : f.tenantId));
  });
  after(async () => {
    await app.close();
    await f.close();
  });

  const call = (method: 'GET' | 'POST', url: string, role: string, payload?: object) =>
    app.inject({
      method,
      url,
      headers: { 'x-test-role': role },
      ...(payload === undefined ? {} : { payload }),
    });

  it('lists and shows CAs to readers, and hides them from other tenants', async () => {
    const list = await call('GET', '/api/v1/cas', 'auditor');
    assert.equal(list.statusCode, 200);
    const cas = list.json<{ id: string; role: string; certificatePem: string }[]>();
    assert.equal(cas.length, 5);
    const man = cas.find((c) => c.role === 'manufacturer')!;
    const show = await call('GET', `/api/v1/cas/${man.id}`, 'operator');
    assert.equal(show.statusCode, 200);
    assert.equal((show.json<{ chainPem: string }>().chainPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    const hidden = await call('GET', `/api/v1/cas/${man.id}`, 'outsider');
    assert.equal(hidden.statusCode, 404);
    assert.equal(hidden.json<{ error: { code: string } }>().error.code, 'ERR_CA_NOT_FOUND');
    assert.equal((await call('GET', '/api/v1/cas', 'outsider')).json<unknown[]>().length, 0);
  });

  it('issues and revokes for admin and operator, never for auditor or station', async () => {
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    const { csrPem } = makeCsr(f.dir, 'api', '/serialNumber=SN0001');
    const before = await count(f.core, 'certificates');
    for (const role of ['auditor', 'station']) {
      const r = await call('POST', `/api/v1/cas/${man.id}/issue`, role, { csr: csrPem, profile: 'idevid' });
      assert.equal(r.statusCode, 403, role);
    }
    assert.equal(await count(f.core, 'certificates'), before);
    const bad = await call('POST', `/api/v1/cas/${man.id}/issue`, 'operator', {
      csr: 'nope',
      profile: 'idevid',
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json<{ error: { code: string } }>().error.code, 'ERR_CSR_MALFORMED');
    const unknownProfile = await call('POST', `/api/v1/cas/${man.id}/issue`, 'operator', {
      csr: csrPem,
      profile: 'root',
    });
    assert.equal(unknownProfile.statusCode, 400);
    const issued = await call('POST', `/api/v1/cas/${man.id}/issue`, 'operator', {
      csr: csrPem,
      profile: 'idevid',
      model: 'sensor-1',
      noExpiry: true,
    });
    assert.equal(issued.statusCode, 201, issued.body);
    const cert = issued.json<{ certificate: { id: string; serialHex: string; notAfter: string } }>()
      .certificate;
    assert.equal(cert.notAfter, '9999-12-31T23:59:59.000Z');
    assert.equal(await count(f.core, 'certificates'), before + 1);

    const listed = await call('GET', `/api/v1/certificates?caId=${man.id}&profile=idevid`, 'auditor');
    assert.deepEqual(
      listed.json<{ id: string }[]>().map((c) => c.id),
      [cert.id],
    );
    assert.equal((await call('GET', `/api/v1/certificates/${cert.id}`, 'auditor')).statusCode, 200);
    assert.equal((await call('GET', `/api/v1/certificates/${cert.id}`, 'outsider')).statusCode, 404);

    const denied = await call('POST', `/api/v1/cas/${man.id}/revoke`, 'auditor', {
      serial: cert.serialHex,
      reason: 'keyCompromise',
    });
    assert.equal(denied.statusCode, 403);
    const revoked = await call('POST', `/api/v1/cas/${man.id}/revoke`, 'admin', {
      serial: cert.serialHex,
      reason: 'keyCompromise',
    });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.equal(revoked.json<{ crlNumber: number }>().crlNumber, 2);
    const again = await call('POST', `/api/v1/cas/${man.id}/revoke`, 'admin', {
      serial: cert.serialHex,
      reason: 'keyCompromise',
    });
    assert.equal(again.statusCode, 409);
    const crl = await call('GET', `/api/v1/cas/${man.id}/crl`, 'auditor');
    assert.equal(crl.json<{ number: number }>().number, 2);
    const fresh = await call('POST', `/api/v1/cas/${man.id}/crl`, 'operator');
    assert.equal(fresh.statusCode, 201);
    assert.equal(fresh.json<{ number: number }>().number, 3);
    const pub = await app.inject({ method: 'GET', url: `/crl/${man.id}.crl` });
    assert.equal(pub.statusCode, 200);
    assert.equal(pub.headers['content-type'], 'application/pkix-crl');
    const caCert = await app.inject({ method: 'GET', url: `/ca/${man.id}.crt` });
    assert.equal(caCert.headers['content-type'], 'application/pkix-cert');
    assert.equal((await app.inject({ method: 'GET', url: '/crl/ca_nope.crl' })).statusCode, 404);
  });
});
