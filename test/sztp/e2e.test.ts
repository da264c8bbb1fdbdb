import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { runAgent } from '../../src/device/sztp/agent.ts';
import { MemoryPlatform } from '../../src/device/sztp/platform.ts';
import { degenerateCms } from '../../src/sztp/cms/signed-data.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

const worlds: World[] = [];
after(async () => {
  for (const w of worlds) await w.close();
});

test('end to end: the manufacturer redirects to the owner, the device verifies the voucher and bootstraps', async () => {
  const image = new TextEncoder().encode('ImprintOS 2.0');
  const hash = new Uint8Array(createHash('sha256').update(image).digest());
  // The owner's Imprint: holds the owner signing key; knows the device (imported manifest), no MASA.
  const owner = await makeWorld({ serial: 'SN-E2E', masa: false });
  worlds.push(owner);
  // The manufacturer's Imprint: same IDevID CA and device; the owner's chain without its key; the MASA key.
  const mfg = await makeWorld({
    serial: 'SN-E2E',
    mfgCa: owner.mfgCa,
    idevid: owner.idevid,
    ownerChainPem: owner.ownerChainPem,
  });
  worlds.push(mfg);
  const by = { actor: 'test' };

  await mfg.admin.bind(by, { tenantId: mfg.mfgTenantId, ownerId: mfg.ownerId, serials: ['SN-E2E'] });
  await mfg.admin.setRecord(by, {
    ownerId: mfg.ownerId,
    scope: 'owner',
    scopeId: mfg.ownerId,
    document: {
      'ietf-sztp-conveyed-info:redirect-information': {
        'bootstrap-server': [
          {
            address: '127.0.0.1',
            port: owner.port,
            'trust-anchor': Buffer.from(degenerateCms([owner.tlsCa.der])).toString('base64'),
          },
        ],
      },
    },
  });
  // The manufacturer issues the voucher through its API; the owner imports it.
  const issued = await mfg.app.inject({
    method: 'POST',
    url: `/api/v1/sztp/devices/${mfg.device.id}/voucher`,
    headers: { 'x-test-tenant': mfg.mfgTenantId },
  });
  assert.equal(issued.statusCode, 200, issued.body);
  const v = issued.json<{ cms: string; expiresAt: string }>();
  const imported = await owner.app.inject({
    method: 'POST',
    url: `/api/v1/sztp/owners/${owner.ownerId}/vouchers`,
    headers: { 'x-test-tenant': owner.ownerTenantId },
    payload: { deviceId: owner.device.id, cms: v.cms, expiresAt: v.expiresAt },
  });
  assert.equal(imported.statusCode, 201, imported.body);
  await owner.admin.bind(by, { tenantId: owner.mfgTenantId, ownerId: owner.ownerId, serials: ['SN-E2E'] });
  await owner.admin.setRecord(by, {
    ownerId: owner.ownerId,
    scope: 'owner',
    scopeId: owner.ownerId,
    document: onboardingDoc(image, hash),
  });

  // The device knows only its IDevID, the manufacturer's bootstrap server and trust anchors.
  const platform = new MemoryPlatform({ fetch: () => Promise.resolve(image) });
  const result = await runAgent({
    state: {
      ...owner.state(),
      bootstrapServers: [{ address: '127.0.0.1', port: mfg.port }],
      serverTrustAnchors: [mfg.tlsCa.der],
      voucherTrustAnchors: [mfg.masaRoot.der],
    },
    platform,
  });
  assert.equal(result.ok, true, JSON.stringify(result.events));
  assert.deepEqual(
    result.events.map((e) => e.what),
    ['redirect', 'bootstrap-complete'],
  );
  assert.deepEqual(platform.bootImage, image);

  const mfgLog = await mfg.admin.log(mfg.mfgTenantId, mfg.device.id);
  assert.equal(mfgLog[0]?.details['kind'], 'redirect');
  const log = await owner.admin.log(owner.ownerTenantId, owner.device.id);
  assert.equal(log[0]?.kind, 'request');
  assert.equal(log[0]?.details['signed'], true);
  assert.deepEqual(
    log
      .filter((l) => l.kind === 'progress')
      .map((l) => l.progressType)
      .at(-1),
    'bootstrap-complete',
  );
  assert.equal((await owner.core.registry.getDevice(owner.device.id)).state, 'onboarded');
  const res = await owner.app.inject({
    method: 'GET',
    url: `/api/v1/sztp/devices/${owner.device.id}/log`,
    headers: { 'x-test-tenant': owner.ownerTenantId },
  });
  assert.equal(res.json<unknown[]>().length, log.length);
});
