import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { X509Certificate } from 'node:crypto';
import { allEntries } from '../../src/audit/reader.ts';
import { hasCode } from '../../src/core/errors.ts';
import { sha256Hex } from '../../src/pki/asn1.ts';
import { count, createPki, makeCsr, openssl, type PkiFixture } from './helpers.ts';

const SERIALS = ['SN0001', 'SN0002', 'SN0003', 'SN0004', 'SN0005', 'SN0006'];

describe('issuance group commit: batched identity binding, per-item refusals, CA check at commit', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki({ devices: SERIALS });
  });
  after(async () => {
    await f.close();
  });

  const issue = (csr: string) => f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr });
  const spkiFp = (pem: string) =>
    sha256Hex(new X509Certificate(pem).publicKey.export({ format: 'der', type: 'spki' }));

  it('binds every IDevID of a concurrent group and audits each binding like updateDevice', async () => {
    const csrs = ['SN0001', 'SN0002', 'SN0003'].map((s) => makeCsr(f.dir, s, `/serialNumber=${s}`).csrPem);
    const issued = await Promise.all(csrs.map(issue));
    const entries = await allEntries(f.core.store.db);
    for (const [i, serial] of ['SN0001', 'SN0002', 'SN0003'].entries()) {
      const device = await f.core.registry.findDeviceBySerial(f.tenantId, serial);
      assert.equal(device?.identityKeyFingerprint, spkiFp(issued[i]!.pem));
      assert.equal(issued[i]!.certificate.deviceId, device.id);
      const bound = entries.filter((e) => e.action === 'device.identity_bound' && e.subject === device.id);
      assert.equal(bound.length, 1);
      assert.deepEqual(bound[0]!.details, {
        serial,
        from: 'registered',
        identityKeyFingerprint: device.identityKeyFingerprint,
      });
      assert.equal(bound[0]!.tenantId, f.tenantId);
      assert.equal(bound[0]!.actor, 'test');
    }
    assert.equal(entries.filter((e) => e.action === 'cert.issued').length, 3);
  });

  it('refuses a cloned key inside a group without rolling back the others', async () => {
    const a = makeCsr(f.dir, 'SN0004', '/serialNumber=SN0004');
    // The same key asked for a second device in the same group.
    const clone = openssl(['req', '-new', '-key', a.keyPath, '-subj', '/serialNumber=SN0005']);
    const certsBefore = await count(f.core, 'certificates');
    const results = await Promise.allSettled([issue(a.csrPem), issue(clone)]);
    // Both are in flight at once: whichever the group takes first gets the key, the other is the clone.
    const won = results.findIndex((r) => r.status === 'fulfilled');
    const lost = results.find((r) => r.status === 'rejected');
    assert.ok(won >= 0 && lost !== undefined, 'exactly one of the two is issued');
    assert.ok(hasCode(lost.reason, 'ERR_CSR_KEY_IN_USE'));
    assert.equal(await count(f.core, 'certificates'), certsBefore + 1);
    const [winner, loser] = won === 0 ? ['SN0004', 'SN0005'] : ['SN0005', 'SN0004'];
    const refused = await f.core.registry.findDeviceBySerial(f.tenantId, loser);
    assert.equal(refused?.identityKeyFingerprint, null);
    const bound = await f.core.registry.findDeviceBySerial(f.tenantId, winner);
    assert.notEqual(bound?.identityKeyFingerprint, null);
    const alarms = (await allEntries(f.core.store.db)).filter((e) => e.action === 'security.cloned_key');
    assert.equal(alarms.length, 1);
  });

  it('stores nothing when the CA went offline after its record was read, then recovers', async () => {
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    // Another process takes the CA offline: this process still has the CA record and signer memoised.
    await f.core.store.db.updateTable('cas').set({ state: 'offline' }).where('id', '=', man.id).execute();
    const certsBefore = await count(f.core, 'certificates');
    const auditBefore = await count(f.core, 'audit_entries');
    const csr = makeCsr(f.dir, 'SN0006', '/serialNumber=SN0006').csrPem;
    await assert.rejects(issue(csr), (e) => hasCode(e, 'ERR_CA_OFFLINE'));
    assert.equal(await count(f.core, 'certificates'), certsBefore);
    assert.equal(await count(f.core, 'audit_entries'), auditBefore);
    const sn6 = await f.core.registry.findDeviceBySerial(f.tenantId, 'SN0006');
    assert.equal(sn6?.identityKeyFingerprint, null);
    await f.core.store.db.updateTable('cas').set({ state: 'active' }).where('id', '=', man.id).execute();
    const ok = await issue(csr);
    assert.equal(ok.certificate.profile, 'idevid');
  });

  it('bindIdentityKeys refuses an unknown device and the transaction binds nothing', async () => {
    const sn = await f.core.registry.createDevice(f.by, {
      manufacturerId: f.tenantId,
      modelId: f.modelId,
      serial: 'SN0100',
    });
    const auditBefore = await count(f.core, 'audit_entries');
    await assert.rejects(
      f.core.store.transaction((tx) =>
        f.core.registry.bindIdentityKeys(tx, [
          { by: f.by, deviceId: sn.id, fingerprint: 'aa'.repeat(32) },
          { by: f.by, deviceId: 'dev_missing', fingerprint: 'bb'.repeat(32) },
        ]),
      ),
      (e) => hasCode(e, 'ERR_DEVICE_NOT_FOUND'),
    );
    assert.equal((await f.core.registry.getDevice(sn.id)).identityKeyFingerprint, null);
    assert.equal(await count(f.core, 'audit_entries'), auditBefore);
    const extra = { actor: 'test', action: 'test.extra', subject: sn.id, tenantId: f.tenantId };
    await f.core.store.transaction((tx) =>
      f.core.registry.bindIdentityKeys(
        tx,
        [{ by: f.by, deviceId: sn.id, fingerprint: 'cc'.repeat(32) }],
        [extra],
      ),
    );
    assert.equal((await f.core.registry.getDevice(sn.id)).identityKeyFingerprint, 'cc'.repeat(32));
    assert.equal(await count(f.core, 'audit_entries'), auditBefore + 2);
    const tail = (await allEntries(f.core.store.db)).slice(-2).map((e) => e.action);
    assert.deepEqual(tail, ['device.identity_bound', 'test.extra']);
  });
});
