import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceAgent } from '../../src/device/agent.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { ClaimService } from '../../src/factory/claims.ts';
import { decodeLabelPng, labelText, parseLabel, renderLabel } from '../../src/factory/label.ts';
import { hasCode } from '../../src/core/errors.ts';
import { factoryFixture } from './helpers/factory.ts';
import { duplexPair } from './helpers/duplex-pair.ts';

test('a label QR (PNG and SVG) decodes back, and claims bind the device to its owner exactly once', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const [a, b] = duplexPair();
  new LinkServer(b, new DeviceAgent(SimulatedDevice.create(undefined, { model: fx.modelName })).handle);
  const r = await provisionDevice(new LinkClient(a), fx.api, { batchId: fx.batch.id });
  const payload = { deviceId: r.deviceId, fingerprint: r.fingerprint!, claimCode: r.claimCode! };
  const { png, svg } = await renderLabel(payload);
  assert.match(svg, /^<svg/);
  assert.deepEqual(decodeLabelPng(png), payload);
  assert.throws(
    () => decodeLabelPng(new Uint8Array([1, 2, 3])),
    (e) => hasCode(e, 'ERR_CLAIM_QR_UNREADABLE'),
  );
  const blank = await renderLabel(payload);
  blank.png.fill(0, 60);
  assert.throws(
    () => decodeLabelPng(blank.png),
    (e) => hasCode(e, 'ERR_CLAIM_QR_UNREADABLE'),
  );
  assert.throws(
    () => parseLabel('hello'),
    (e) => hasCode(e, 'ERR_CLAIM_QR_INVALID'),
  );

  const owner = await fx.core.registry.createTenant({ actor: 'test' }, 'Buyer', 'owner');
  const claims = new ClaimService(fx.core);
  const by = { actor: 'token:owner' };
  await assert.rejects(claims.claim(by, owner.id, { ...payload, claimCode: 'AAAAAAAAAAAAAAAAAAAA' }), (e) =>
    hasCode(e, 'ERR_CLAIM_INVALID'),
  );
  await assert.rejects(claims.claim(by, fx.tenantId, payload), (e) => hasCode(e, 'ERR_CLAIM_TENANT_INVALID'));
  assert.equal(
    (await fx.core.registry.getDevice(r.deviceId)).tenantId,
    fx.tenantId,
    'refused claims change nothing',
  );
  const claimed = await claims.claim(by, owner.id, parseLabel(labelText(payload)));
  assert.equal(claimed.tenantId, owner.id);
  assert.equal(claimed.state, 'claimed');
  const other = await fx.core.registry.createTenant({ actor: 'test' }, 'Thief', 'owner');
  await assert.rejects(claims.claim(by, other.id, payload), (e) => hasCode(e, 'ERR_CLAIM_USED'));
  assert.equal((await fx.core.registry.getDevice(r.deviceId)).tenantId, owner.id);
  const row = await fx.core.store.db.selectFrom('claim_codes').selectAll().executeTakeFirstOrThrow();
  assert.notEqual(row.code_hash, payload.claimCode, 'the claim code is stored hashed');
  const refused = await fx.core.store.db
    .selectFrom('audit_entries')
    .select('action')
    .where('action', '=', 'device.claim.refused')
    .execute();
  assert.equal(refused.length, 3);
});
