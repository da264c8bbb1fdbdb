import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootDevice, confirmImage, stageUpdate } from '../../src/firmware/boot/bootloader.ts';
import { memoryBootHardware } from '../../src/firmware/boot/memory.ts';
import type { BootHardware } from '../../src/firmware/boot/types.ts';
import { verifyBootImage } from '../../src/firmware/boot/verify.ts';
import { toHex } from '../../src/core/encoding.ts';
import { sampleImage, testSigner } from './helpers.ts';

const { signer, key } = testSigner();
const rogue = testSigner();
const VID = new Uint8Array(16).fill(0xaa);
const CID = new Uint8Array(16).fill(0xcc);
const v = (minor: number) => ({ major: 1, minor, revision: 0, build: 0 });
const img10 = await sampleImage(signer, { version: v(0), securityCounter: 3 });
const img11 = await sampleImage(signer, { version: v(1), securityCounter: 4 });
const img12 = await sampleImage(signer, { version: v(2), securityCounter: 5 });

function device(): BootHardware {
  const hw = memoryBootHardware({
    fuses: { secureBoot: true, keyHashes: [key.hash], vendorId: VID, classId: CID },
    romKeys: [key.bytes],
  });
  hw.primary.write(img10);
  return hw;
}

describe('secure boot', () => {
  it('boots a good image, measures it and raises the counter', () => {
    const hw = device();
    const r = bootDevice(hw);
    assert.equal(r.booted, true);
    assert.equal(r.measurement?.version, '1.0.0');
    assert.equal(r.measurement?.keyHash, toHex(key.hash));
    assert.equal(hw.counter.read(), 3);
  });

  it('refuses to boot an image by an unfused key, a wrong class id or a low counter', async () => {
    const hw = device();
    hw.primary.write(await sampleImage(rogue.signer));
    assert.deepEqual(bootDevice(hw).refusal?.code, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE');
    hw.primary.write(await sampleImage(signer, { classId: new Uint8Array(16).fill(1) }));
    assert.equal(bootDevice(hw).refusal?.code, 'ERR_BOOT_CLASS_MISMATCH');
    hw.primary.write(await sampleImage(signer, { vendorId: new Uint8Array(16).fill(1) }));
    assert.equal(bootDevice(hw).refusal?.code, 'ERR_BOOT_VENDOR_MISMATCH');
    const policy = { allowedKeyHashes: [key.hash], keys: [key], minSecurityCounter: 9 };
    assert.equal(
      (verifyBootImage(img10, policy) as { refusal: { code: string } }).refusal.code,
      'ERR_BOOT_COUNTER_TOO_LOW',
    );
    assert.equal(
      (verifyBootImage(new Uint8Array(0), policy) as { refusal: { code: string } }).refusal.code,
      'ERR_BOOT_EMPTY_SLOT',
    );
  });

  it('a fused key hash alone suffices for a PUBKEY image', async () => {
    const hw = memoryBootHardware({ fuses: { secureBoot: true, keyHashes: [key.hash] }, romKeys: [] });
    hw.primary.write(await sampleImage(signer, { publicKeyFormat: 'full' }));
    assert.equal(bootDevice(hw).booted, true);
  });

  it('updates, confirms, refuses a replayed older image, reverts an unconfirmed one', () => {
    const hw = device();
    bootDevice(hw);
    stageUpdate(hw, img11);
    let r = bootDevice(hw);
    assert.equal(r.action, 'upgraded');
    assert.equal(r.measurement?.version, '1.1.0');
    assert.equal(hw.counter.read(), 3, 'counter waits for confirmation');
    confirmImage(hw);
    r = bootDevice(hw);
    assert.equal(r.action, 'none');
    assert.equal(hw.counter.read(), 4);

    stageUpdate(hw, img10);
    r = bootDevice(hw);
    assert.equal(r.action, 'upgrade-refused');
    assert.equal(r.refusal?.code, 'ERR_BOOT_COUNTER_TOO_LOW');
    assert.equal(r.measurement?.version, '1.1.0', 'keeps running its current image');
    assert.equal(hw.secondary.read().length, 0);

    stageUpdate(hw, img12);
    assert.equal(bootDevice(hw).measurement?.version, '1.2.0');
    // health check fails: no confirmImage, reboot
    r = bootDevice(hw);
    assert.equal(r.action, 'reverted');
    assert.equal(r.measurement?.version, '1.1.0');
    assert.equal(hw.counter.read(), 4);
    assert.equal(bootDevice(hw).measurement?.version, '1.1.0');
  });

  it('refuses a corrupted update and keeps the current image', () => {
    const hw = device();
    bootDevice(hw);
    const bad = Uint8Array.from(img11);
    bad[0x300] = (bad[0x300] ?? 0) ^ 1;
    stageUpdate(hw, bad);
    const r = bootDevice(hw);
    assert.equal(r.refusal?.code, 'ERR_FIRMWARE_HASH_MISMATCH');
    assert.equal(r.measurement?.version, '1.0.0');
  });

  it('permanent updates raise the counter at once', () => {
    const hw = device();
    bootDevice(hw);
    stageUpdate(hw, img12, { permanent: true });
    assert.equal(bootDevice(hw).measurement?.version, '1.2.0');
    assert.equal(hw.counter.read(), 5);
  });

  it('decrypts an encrypted update into the primary slot', async () => {
    const enc = generateKeyPairSync('x25519');
    const hw = memoryBootHardware({
      fuses: { secureBoot: true, keyHashes: [key.hash], vendorId: VID, classId: CID },
      romKeys: [key.bytes],
      decryptionKey: enc.privateKey,
    });
    hw.primary.write(img10);
    bootDevice(hw);
    const encrypted = await sampleImage(signer, {
      version: v(3),
      securityCounter: 6,
      encryption: { recipient: enc.publicKey },
    });
    stageUpdate(hw, encrypted, { permanent: true });
    const r = bootDevice(hw);
    assert.equal(r.measurement?.version, '1.3.0');
    assert.notDeepEqual(hw.primary.read(), encrypted, 'primary holds plaintext');
    assert.equal(bootDevice(hw).booted, true);
  });
});
