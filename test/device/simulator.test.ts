import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'cbor2';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { sealTo, secretsInfo } from '../../src/device/hpke.ts';
import { hasCode } from '../../src/core/errors.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-dev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('fuses only go from 0 to 1 and persist across a restart', (t) => {
  const path = join(tempDir(t), 'd.cbor');
  const d = SimulatedDevice.create(path, { model: 'sensor-1' });
  assert.deepEqual(d.fuses(), { secureBoot: false, debugLocked: false, provisioned: false });
  d.burnFuses(['secureBoot']);
  assert.throws(
    () => d.burnFuses(['bogus']),
    (e) => hasCode(e, 'ERR_DEVICE_FUSE_UNKNOWN'),
  );
  const again = SimulatedDevice.open(path);
  assert.deepEqual(again.fuses(), { secureBoot: true, debugLocked: false, provisioned: false });
  assert.equal(again.serial, d.serial);
  assert.deepEqual(again.uid, d.uid);
  assert.deepEqual(readdirSync(join(path, '..')), ['d.cbor'], 'no temp file left behind');
});

test('monotonic counters refuse to go back and the root-of-trust burns once', (t) => {
  const d = SimulatedDevice.create(join(tempDir(t), 'd.cbor'), { model: 'm' });
  d.advanceCounter('fw', 3);
  assert.throws(
    () => d.advanceCounter('fw', 2),
    (e) => hasCode(e, 'ERR_DEVICE_COUNTER_ROLLBACK'),
  );
  assert.equal(d.counter('fw'), 3);
  d.burnRotpkHash(new Uint8Array(32).fill(7));
  d.burnRotpkHash(new Uint8Array(32).fill(7));
  assert.throws(
    () => d.burnRotpkHash(new Uint8Array(32).fill(8)),
    (e) => hasCode(e, 'ERR_DEVICE_ROTPK_SET'),
  );
});

test('flash slots hold firmware and config across restarts', (t) => {
  const path = join(tempDir(t), 'd.cbor');
  const d = SimulatedDevice.create(path, { model: 'm' });
  d.writeSlot('primary', new Uint8Array([1, 2, 3]));
  d.writeSlot('config', new Uint8Array([4]));
  const e = SimulatedDevice.open(path);
  assert.deepEqual(e.readSlot('primary'), new Uint8Array([1, 2, 3]));
  e.eraseSlot('primary');
  assert.equal(SimulatedDevice.open(path).readSlot('primary'), undefined);
});

test('the secure element signs with a key it never returns and opens HPKE secrets bound to the serial', async (t) => {
  const path = join(tempDir(t), 'd.cbor');
  const d = SimulatedDevice.create(path, { model: 'm', serial: 'SN-1' });
  const se = d.secureElement;
  await assert.rejects(se.sign(new Uint8Array(1)), (e) => hasCode(e, 'ERR_SE_NO_IDENTITY_KEY'));
  const spki = await se.generateIdentityKey();
  const sig = await se.sign(new Uint8Array([1, 2]));
  const pub = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  assert.ok(verify('sha256', new Uint8Array([1, 2]), pub, sig));
  for (const v of Object.values(se)) assert.ok(!(v instanceof Uint8Array));
  const tk = await se.transportPublicKey();
  assert.equal(tk.length, 32);
  const secret = encode({ wifi: new Uint8Array([1, 2, 3]) });
  const aad = new Uint8Array(0);
  const sealed = await sealTo(tk, secret, secretsInfo('SN-1'), aad);
  await assert.rejects(se.openSealed(sealed, secretsInfo('SN-2'), aad), (e) =>
    hasCode(e, 'ERR_SE_OPEN_FAILED'),
  );
  assert.deepEqual(await se.secretNames(), []);
  assert.deepEqual(await se.openSealed(sealed, secretsInfo('SN-1'), aad), ['wifi']);
  const reopened = SimulatedDevice.open(path);
  assert.deepEqual(await reopened.secureElement.secretNames(), ['wifi']);
  assert.deepEqual(await reopened.secureElement.identityPublicKey(), spki);
});

test('a corrupt state file is refused with a clear code', (t) => {
  const path = join(tempDir(t), 'd.cbor');
  SimulatedDevice.create(path, { model: 'm' });
  assert.throws(
    () => SimulatedDevice.create(path, { model: 'm' }),
    (e) => hasCode(e, 'ERR_DEVICE_STATE_EXISTS'),
  );
  const bad = join(path, '..', 'bad.cbor');
  writeFileSync(bad, Buffer.from([0xbf, 0x61]));
  assert.throws(
    () => SimulatedDevice.open(bad),
    (e) => hasCode(e, 'ERR_DEVICE_STATE_UNREADABLE'),
  );
});

test('the simulator is the boot hardware of src/firmware/boot (slots, counter, fuses, persisted swap state)', async (t) => {
  const { bootHardwareOf, IMAGE_COUNTER } = await import('../../src/firmware/boot/adapter.ts');
  const path = join(tempDir(t), 'd.cbor');
  const d = SimulatedDevice.create(path, { model: 'm' });
  d.burnFuses(['secureBoot']);
  d.burnRotpkHash(new Uint8Array(32).fill(3));
  const hw = bootHardwareOf(d, { romKeys: [], slotSize: 1024, state: d.bootState() });
  hw.secondary.write(new Uint8Array([5, 6]));
  hw.counter.advance(2);
  hw.state.write('pending-test');
  assert.equal(hw.fuses.secureBoot, true);
  assert.deepEqual(hw.fuses.keyHashes, [new Uint8Array(32).fill(3)]);
  const again = SimulatedDevice.open(path);
  assert.deepEqual(again.readSlot('secondary'), new Uint8Array([5, 6]));
  assert.equal(again.counter(IMAGE_COUNTER), 2);
  assert.equal(again.bootState().read(), 'pending-test');
});
