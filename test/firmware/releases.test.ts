import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../src/core/errors.ts';
import { bucketOf, ReleaseService } from '../../src/firmware/releases.ts';
import { SigningService } from '../../src/firmware/signing-service.ts';
import { canonicalBytes } from '../../src/firmware/tuf/canonical.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { firmwareBytes } from './helpers.ts';

describe('releases and staged rollout', () => {
  let core: TestCore;
  let svc: ReleaseService;
  let by: { actor: string; tenantId: string };
  let modelId: string;
  let digest: string;
  const devices: string[] = [];
  const identity = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(identity.publicKey.export({ format: 'der', type: 'spki' }));

  before(async () => {
    core = await createTestCore();
    const { tenant, model } = await seedManufacturer(core);
    by = { actor: 'token:rm', tenantId: tenant.id };
    modelId = model.id;
    const signing = new SigningService(core);
    const { keyId } = await signing.createKey(by, 'rel', 'ed25519');
    digest = (
      await signing.requestSignature(by, keyId, firmwareBytes(3000), { version: '1.4.0', securityCounter: 5 })
    ).imageDigest!;
    for (let i = 0; i < 20; i++) {
      devices.push(
        (
          await core.registry.createDevice(
            { actor: 'test' },
            { manufacturerId: tenant.id, modelId, serial: `SN-${i}` },
          )
        ).id,
      );
    }
    const fp = (await import('node:crypto')).createHash('sha256').update(spki).digest('hex');
    await core.store.db
      .updateTable('devices')
      .set({ identity_key_fingerprint: fp })
      .where('id', '=', devices[0]!)
      .execute();
    svc = new ReleaseService(core);
  });
  after(() => core.close());

  it('stages group → percentage → all, only forward, and reports progress from signed device reports', async () => {
    let rel = await svc.create(by, digest, [modelId]);
    assert.equal(rel.stage, 'draft');
    assert.equal(rel.securityCounter, 5);
    assert.equal(await svc.eligible(by.tenantId, rel.id, { id: devices[0]!, modelId }), false);
    await svc.addToGroup(by, 'canary', devices.slice(0, 3));
    rel = await svc.stage(by, rel.id, { stage: 'group', group: 'canary' });
    assert.equal(await svc.eligible(by.tenantId, rel.id, { id: devices[0]!, modelId }), true);
    assert.equal(await svc.eligible(by.tenantId, rel.id, { id: devices[5]!, modelId }), false);
    rel = await svc.stage(by, rel.id, { stage: 'percentage', percent: 50 });
    const expected = devices.filter((d, i) => i < 3 || bucketOf(rel.id, d) < 50).length;
    assert.equal((await svc.progress(by.tenantId, rel.id)).total.eligible, expected);
    await assert.rejects(svc.stage(by, rel.id, { stage: 'percentage', percent: 40 }), (e) =>
      hasCode(e, 'ERR_FIRMWARE_STAGE_BACKWARDS'),
    );
    await assert.rejects(svc.stage(by, rel.id, { stage: 'group', group: 'canary' }), (e) =>
      hasCode(e, 'ERR_FIRMWARE_STAGE_BACKWARDS'),
    );
    rel = await svc.stage(by, rel.id, { stage: 'all' });

    const report = {
      deviceId: devices[0]!,
      version: '1.4.0',
      imageDigest: digest,
      time: core.clock.now().toISOString(),
    };
    const sig = sign('sha256', canonicalBytes(report), identity.privateKey);
    await svc.report(by.tenantId, report, sig, spki);
    const p = await svc.progress(by.tenantId, rel.id);
    assert.deepEqual(p.groups, [{ group: 'canary', devices: 3, installed: 1 }]);
    assert.deepEqual(p.total, { devices: 20, eligible: 20, installed: 1 });
  });

  it('records a signed report of a refused update in the audit log, changing nothing installed', async () => {
    const report = {
      deviceId: devices[0]!,
      version: '1.4.0',
      imageDigest: digest,
      time: core.clock.now().toISOString(),
      refused: { code: 'ERR_BOOT_COUNTER_TOO_LOW', target: 'x/firmware-1.0.0.bin' },
    };
    await svc.report(by.tenantId, report, sign('sha256', canonicalBytes(report), identity.privateKey), spki);
    const last = await core.store.db
      .selectFrom('audit_entries')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
    assert.equal(last.action, 'firmware.update_refused');
    assert.equal((JSON.parse(last.details) as { code: string }).code, 'ERR_BOOT_COUNTER_TOO_LOW');
    const row = await core.store.db
      .selectFrom('firmware_reports')
      .selectAll()
      .where('device_id', '=', devices[0]!)
      .executeTakeFirstOrThrow();
    assert.equal(row.version, '1.4.0');
  });

  it('refuses forged reports and bad releases without writing anything', async () => {
    const count = async () =>
      (await core.store.db.selectFrom('audit_entries').select('seq').execute()).length;
    const n = await count();
    const report = { deviceId: devices[1]!, version: '9.9.9', imageDigest: digest, time: 'now' };
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await assert.rejects(
      svc.report(by.tenantId, report, sign('sha256', canonicalBytes(report), other.privateKey), spki),
      (e) => hasCode(e, 'ERR_FIRMWARE_REPORT_UNTRUSTED'),
    );
    const forged = { ...report, deviceId: devices[0]! };
    await assert.rejects(
      svc.report(by.tenantId, forged, sign('sha256', canonicalBytes(report), identity.privateKey), spki),
      (e) => hasCode(e, 'ERR_FIRMWARE_REPORT_UNTRUSTED'),
    );
    await assert.rejects(svc.create(by, 'f'.repeat(64), [modelId]), (e) =>
      hasCode(e, 'ERR_FIRMWARE_IMAGE_NOT_FOUND'),
    );
    await assert.rejects(svc.create(by, digest, ['mdl_nope']), (e) => hasCode(e, 'ERR_FIRMWARE_BAD_RELEASE'));
    assert.equal(await count(), n);
  });
});
