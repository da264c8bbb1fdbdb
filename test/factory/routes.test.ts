import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { mapError } from '../../src/server/error-handler.ts';
import type { Principal } from '../../src/server/types.ts';
import '../../src/server/fastify-types.ts';
import { factoryRoutes } from '../../src/factory/routes.ts';
import { httpFactoryApi } from '../../src/factory/http-api.ts';
import { mtlsFetch } from '../../src/factory/mtls-fetch.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { connectTcp, listenTcp } from '../../src/factory/link/transport.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { hasCode } from '../../src/core/errors.ts';
import { ManifestService } from '../../src/factory/manifest.ts';
import { ClaimService } from '../../src/factory/claims.ts';
import { labelText } from '../../src/factory/label.ts';
import { factoryFixture } from './helpers/factory.ts';
import { serveDevice } from './helpers/device.ts';

test('factoryRoutes: a station provisions a device over TCP through the HTTP API; other callers are refused', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const buyer = await fx.core.registry.createTenant({ actor: 'test' }, 'Buyer', 'owner');
  const app = Fastify({ forceCloseConnections: true });
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (req) => {
    const who = req.headers['x-test-principal'];
    const station: Principal = {
      kind: 'station',
      id: fx.station.stationId,
      tenantId: fx.tenantId,
      role: 'station',
      actor: fx.station.actor,
    };
    const operator: Principal = {
      kind: 'token',
      id: 'tok_1',
      tenantId: fx.tenantId,
      role: 'operator',
      actor: 'token:tok_1',
    };
    const owner: Principal = {
      kind: 'token',
      id: 'tok_2',
      tenantId: buyer.id,
      role: 'operator',
      actor: 'token:tok_2',
    };
    req.principal =
      who === 'station' ? station : who === 'operator' ? operator : who === 'owner' ? owner : undefined;
  });
  app.setErrorHandler((err, _req, reply) => {
    const m = mapError(err);
    return reply.code(m.status).send(m.body);
  });
  await app.register(factoryRoutes, {
    factory: fx.service,
    manifests: new ManifestService(fx.core),
    claims: new ClaimService(fx.core),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const addr = app.server.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;

  const device = SimulatedDevice.create(undefined, { model: fx.modelName });
  const { server, port } = await listenTcp(0, (s) => serveDevice(device, s));
  t.after(() => server.close());
  const api = httpFactoryApi({
    baseUrl,
    headers: { 'x-test-principal': 'station' },
    fetch: mtlsFetch(undefined),
  });
  const link = new LinkClient(await connectTcp('127.0.0.1', port));
  const r = await provisionDevice(link, api, { batchId: fx.batch.id });
  link.close();
  assert.equal(r.outcome, 'provisioned');
  assert.equal(r.claimCode?.length, 20);

  const asOperator = httpFactoryApi({ baseUrl, headers: { 'x-test-principal': 'operator' } });
  await assert.rejects(asOperator.firmware(fx.batch.id), (e) => hasCode(e, 'ERR_FACTORY_STATION_REQUIRED'));
  const anon = httpFactoryApi({ baseUrl });
  await assert.rejects(anon.firmware(fx.batch.id), (e) => hasCode(e, 'ERR_AUTH_REQUIRED'));
  const bad = await fetch(`${baseUrl}/api/v1/factory/issue`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-test-principal': 'station' },
    body: JSON.stringify({ batchId: fx.batch.id, serial: 'SN-X', publicKey: 'QUJD', csr: 'QUJD' }),
  });
  assert.equal(bad.status, 409);
  assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'ERR_FACTORY_RUN_STATE');

  const progress = await fetch(`${baseUrl}/api/v1/batches/${fx.batch.id}`, {
    headers: { 'x-test-principal': 'operator' },
  });
  const body = (await progress.json()) as { completed: number; batch: { issued: number } };
  assert.equal(body.completed, 1);
  assert.equal(body.batch.issued, 1);

  const mf = await fetch(`${baseUrl}/api/v1/batches/${fx.batch.id}/manifest`, {
    method: 'POST',
    headers: { 'x-test-principal': 'operator' },
  });
  assert.equal(mf.status, 201);
  assert.equal(((await mf.json()) as { devices: number }).devices, 1);
  const claim = (label: string) =>
    fetch(`${baseUrl}/api/v1/claims`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-test-principal': 'owner' },
      body: JSON.stringify({ label }),
    });
  const label = labelText({ deviceId: r.deviceId, fingerprint: r.fingerprint!, claimCode: r.claimCode });
  assert.equal((await claim(label)).status, 200);
  const again = await claim(label);
  assert.equal(again.status, 409);
  assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'ERR_CLAIM_USED');
});
