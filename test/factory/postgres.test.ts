import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer, type LinkHandler } from '../../src/factory/link/server.ts';
import type { LinkError } from '../../src/factory/link/errors.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { ManifestService, verifyManifest } from '../../src/factory/manifest.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { factoryFixture } from './helpers/factory.ts';
import { duplexPair } from './helpers/duplex-pair.ts';

function connect(device: SimulatedDevice, wrap?: (h: LinkHandler) => LinkHandler): LinkClient {
  const [a, b] = duplexPair();
  const h = new DeviceAgent(device).handle;
  new LinkServer(b, wrap === undefined ? h : wrap(h));
  return new LinkClient(a, { timeoutMs: 1000, retries: 1 });
}

test(
  'on PostgreSQL: provisioning, parallel quota, abort with revocation, and a manifest',
  { timeout: 120_000 },
  async (t) => {
    const pg = await startPostgres();
    t.after(() => pg.stop());
    const fx = await factoryFixture({ quantity: 3, location: { kind: 'postgres', url: pg.url } });
    t.after(() => fx.core.close());
    const devices = Array.from({ length: 5 }, () =>
      SimulatedDevice.create(undefined, { model: fx.modelName }),
    );
    const bad =
      (h: LinkHandler): LinkHandler =>
      (m, p) =>
        m === 'config.write' ? Promise.reject(new Error('flash failure')) : h(m, p);
    const results = await Promise.allSettled(
      devices.map((d, i) =>
        provisionDevice(connect(d, i === 0 ? bad : undefined), fx.api, { batchId: fx.batch.id }),
      ),
    );
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as LinkError).code] : []));
    assert.ok(codes.includes('ERR_AGENT_INTERNAL'));
    assert.ok(codes.every((c) => c === 'ERR_AGENT_INTERNAL' || c === 'ERR_FACTORY_QUOTA_EXCEEDED'));
    // Refused devices try again once the failed one has returned its quota unit.
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected' && i > 0) {
        await provisionDevice(connect(devices[i]!), fx.api, { batchId: fx.batch.id }).catch((e: LinkError) =>
          assert.equal(e.code, 'ERR_FACTORY_QUOTA_EXCEEDED'),
        );
      }
    }
    const good = await fx.core.store.db
      .selectFrom('certificates')
      .select('id')
      .where('profile', '=', 'idevid')
      .where('status', '=', 'good')
      .execute();
    assert.equal(good.length, 3, 'exactly the quota of devices got identities');
    const revoked = await fx.core.store.db
      .selectFrom('certificates')
      .select('revocation_reason')
      .where('status', '=', 'revoked')
      .execute();
    assert.deepEqual(
      revoked.map((r) => r.revocation_reason),
      [5],
    );
    assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, 3);
    const { jws } = await new ManifestService(fx.core).sign({ actor: 'op' }, fx.tenantId, fx.batch.id);
    assert.equal(
      verifyManifest(jws, [fx.cas.find((c) => c.role === 'root')!.certificate]).manifest.devices.length,
      3,
    );
  },
);
