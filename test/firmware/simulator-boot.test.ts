import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { bootHardwareOf, IMAGE_COUNTER } from '../../src/firmware/boot/adapter.ts';
import { bootDevice, confirmImage, stageUpdate } from '../../src/firmware/boot/bootloader.ts';
import { sampleImage, testSigner } from './helpers.ts';

describe('secure boot on the device simulator', () => {
  it('verifies against the burned root-of-trust hash, updates, refuses rollback', async () => {
    const { signer, key } = testSigner();
    const device = SimulatedDevice.create(undefined, { model: 'sensor-1' });
    device.burnRotpkHash(key.hash);
    device.burnFuses(['secureBoot']);
    const v = (minor: number, sec: number) =>
      sampleImage(signer, { version: { major: 1, minor, revision: 0, build: 0 }, securityCounter: sec });
    device.writeSlot('primary', await v(0, 1));
    const hw = bootHardwareOf(device, { romKeys: [key.bytes] });
    assert.equal(bootDevice(hw).measurement?.version, '1.0.0');
    assert.equal(device.counter(IMAGE_COUNTER), 1);
    stageUpdate(hw, await v(1, 2));
    assert.equal(bootDevice(hw).measurement?.version, '1.1.0');
    confirmImage(hw);
    bootDevice(hw);
    assert.equal(device.counter(IMAGE_COUNTER), 2);
    stageUpdate(hw, await v(0, 1));
    const r = bootDevice(hw);
    assert.equal(r.refusal?.code, 'ERR_BOOT_COUNTER_TOO_LOW');
    assert.equal(r.measurement?.version, '1.1.0');
    device.writeSlot('primary', await sampleImage(testSigner().signer));
    assert.equal(bootDevice(hw).booted, false);
  });
});
