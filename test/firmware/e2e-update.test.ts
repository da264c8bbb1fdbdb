import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../src/core/errors.ts';
import { bootDevice, confirmImage } from '../../src/firmware/boot/bootloader.ts';
import { memoryBootHardware } from '../../src/firmware/boot/memory.ts';
import { checkForUpdate, installTarget } from '../../src/firmware/device-update.ts';
import { mcubootKey } from '../../src/firmware/mcuboot/keys.ts';
import { MemoryMetadataStore, UpdateClient } from '../../src/firmware/update-client.ts';
import { firmwareBytes } from './helpers.ts';
import { firmwareServer, injectFetcher, type FirmwareServer } from './server.ts';

const CLASS = 'c1a55c1a55c1a55c1a55c1a55c1a55c1';
const VENDOR = 'ab'.repeat(16);

describe('end to end: a provisioned device updates through TUF and secure boot', () => {
  let s: FirmwareServer;
  before(async () => {
    s = await firmwareServer();
  });
  after(() => s.close());

  it('1.0.0 → 1.1.0, refuses a replayed 1.0.0, reverts a 1.2.0 that fails its health check', async () => {
    const by = { actor: 'token:rm', tenantId: s.tenantId };
    const { keyId } = await s.signing.createKey(by, 'release', 'ed25519');
    const sign = async (version: string, securityCounter: number) =>
      (
        await s.signing.requestSignature(by, keyId, firmwareBytes(30_000, securityCounter), {
          version,
          securityCounter,
          headerSize: 0x200,
          classId: CLASS,
          vendorId: VENDOR,
        })
      ).imageDigest!;
    const d100 = await sign('1.0.0', 1);
    const d110 = await sign('1.1.0', 2);
    const d120 = await sign('1.2.0', 3);
    await s.tuf.init(by);

    // Factory: fuses hold the release key hash and the class ids; 1.0.0 is written to the primary slot.
    const releaseKey = mcubootKey((await s.core.keys.get(keyId)).publicKeyDer);
    const hw = memoryBootHardware({
      fuses: {
        secureBoot: true,
        keyHashes: [releaseKey.hash],
        classId: Buffer.from(CLASS, 'hex'),
        vendorId: Buffer.from(VENDOR, 'hex'),
      },
      romKeys: [releaseKey.bytes],
    });
    hw.primary.write(await s.signing.imageBytes(s.tenantId, d100));
    assert.equal(bootDevice(hw).measurement?.version, '1.0.0');
    const client = new UpdateClient({
      fetcher: injectFetcher(s.app),
      store: new MemoryMetadataStore(
        new TextEncoder().encode(await s.tuf.metadata(s.tenantId, '1.root.json')),
      ),
      metadataBaseUrl: `http://imprint.test/tuf/${s.tenantId}`,
      targetBaseUrl: `http://imprint.test/tuf/${s.tenantId}/targets`,
      clock: s.core.clock,
    });
    const device = { modelId: s.model.id, runningVersion: '1.0.0' };
    assert.equal((await checkForUpdate(client, hw, device)).action, 'up-to-date');

    await s.tuf.addTarget(by, d110, s.model);
    assert.equal((await checkForUpdate(client, hw, device)).action, 'staged');
    let boot = bootDevice(hw);
    assert.equal(boot.action, 'upgraded');
    assert.equal(boot.measurement?.version, '1.1.0');
    confirmImage(hw); // health check passed
    assert.equal(bootDevice(hw).measurement?.version, '1.1.0');
    assert.equal(hw.counter.read(), 2);

    // Replay: 1.0.0 is still a valid, signed image, but its security counter is below the device's.
    await s.tuf.addTarget(by, d100, s.model);
    const secondaryBefore = Buffer.from(hw.secondary.read());
    const old = (await client.refresh(s.model.id)).find((t) => t.info.custom?.version === '1.0.0')!;
    await assert.rejects(
      installTarget(client, hw, old),
      (e) =>
        hasCode(e, 'ERR_FIRMWARE_UPDATE_REFUSED') &&
        (e as { details?: { reason?: string } }).details?.reason === 'ERR_BOOT_COUNTER_TOO_LOW',
    );
    assert.deepEqual(Buffer.from(hw.secondary.read()), secondaryBefore, 'nothing staged');
    assert.equal(hw.state.read(), 'none');
    assert.equal(
      (await checkForUpdate(client, hw, { ...device, runningVersion: '1.1.0' })).action,
      'up-to-date',
    );

    await s.tuf.addTarget(by, d120, s.model);
    assert.equal(
      (await checkForUpdate(client, hw, { ...device, runningVersion: '1.1.0' })).target?.info.custom?.version,
      '1.2.0',
    );
    boot = bootDevice(hw);
    assert.equal(boot.measurement?.version, '1.2.0');
    // 1.2.0 fails its health check: it never confirms, the watchdog reboots.
    boot = bootDevice(hw);
    assert.equal(boot.action, 'reverted');
    assert.equal(boot.measurement?.version, '1.1.0');
    assert.equal(hw.counter.read(), 2);
  });
});
