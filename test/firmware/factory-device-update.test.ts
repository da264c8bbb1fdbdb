import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { readDeviceConfig } from '../../src/device/config.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { deviceFetcher } from '../../src/device/https-client.ts';
import { installReporter, rolloutOf } from '../../src/device/firmware-api.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import type { SoftwareSecureElement } from '../../src/device/software-se.ts';
import { deviceBootHardware, runUpdateCycle, type UpdateCycleResult } from '../../src/device/update-agent.ts';
import { bootDevice } from '../../src/firmware/boot/bootloader.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { localFactoryApi } from '../../src/factory/local-api.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { UpdateClient } from '../../src/firmware/update-client.ts';
import { fromPemAll } from '../../src/core/encoding.ts';
import type { Features } from '../../src/server/features.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import type { TestApp } from '../helpers/app.ts';
import { createHttpsTestApp } from '../helpers/https-app.ts';

const run = promisify(execFile);

/**
 * The whole firmware life of one device as `imprint serve` runs it: the factory writes an MCUboot image
 * signed by the code-signing CA key and burns that key's hash; releases signed by the same key reach the
 * device through the TUF repository over HTTPS; it installs them through secure boot and reports each
 * outcome over mutual TLS with its IDevID, signed by its secure element.
 */
describe('imprint device update on a factory-provisioned device', () => {
  let dir: string;
  let t: TestApp;
  let f: Features;
  let base: string;
  let caPem: string;
  let device: SimulatedDevice;
  let statePath: string;
  const by = () => ({ actor: 'token:rm', tenantId: t.manufacturer.id });

  const model = () => ({ id: t.manufacturer.modelId, name: 'sensor-1' });

  /** Signs `payload` with `keyId`, publishes it in TUF and makes it a release, staged to everyone unless told. */
  const publish = async (
    keyId: string,
    version: string,
    securityCounter: number,
    stage: 'all' | { group: string } = 'all',
  ) => {
    const payload = new Uint8Array(createHash('sha512').update(version).digest()).subarray(0, 48);
    const digest = await f.signing.signOnce(by(), keyId, Buffer.concat(Array(200).fill(payload)), {
      version,
      securityCounter,
      publicKeyFormat: 'full',
    });
    await f.tuf.addTarget(by(), digest, model());
    const r = await f.releases.create(by(), digest, [model().id]);
    await f.releases.stage(
      by(),
      r.id,
      stage === 'all' ? { stage: 'all' } : { stage: 'group', group: stage.group },
    );
    return { digest, releaseId: r.id };
  };
  const release = async (
    version: string,
    securityCounter: number,
    stage: 'all' | { group: string } = 'all',
  ) => publish((await f.signing.adoptCodeSigningKey(by())).keyId, version, securityCounter, stage);

  const cycle = async (healthy = true): Promise<UpdateCycleResult> => {
    const config = readDeviceConfig(device);
    const se = device.secureElement as SoftwareSecureElement;
    const anchors = fromPemAll(caPem, 'CERTIFICATE');
    const tls = {
      secureContext: await se.identityTlsContext({ chain: await se.identityChain(), ca: anchors }),
    };
    const repo = `${base}/tuf/${config.tenantId}`;
    return runUpdateCycle(device, {
      client: new UpdateClient({
        fetcher: deviceFetcher({ ca: caPem }),
        store: device.trustedMetadata(),
        metadataBaseUrl: repo,
        targetBaseUrl: `${repo}/targets`,
        clock: t.core.clock,
      }),
      modelId: config.modelId,
      healthy: () => Promise.resolve(healthy),
      rollout: rolloutOf({ serverUrl: base, tls }),
      report: installReporter({ serverUrl: base, config, se, tls, clock: t.core.clock }),
    });
  };

  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: process.cwd() });

  const reports = () =>
    t.core.store.db
      .selectFrom('firmware_reports')
      .selectAll()
      .where('device_id', '=', readDeviceConfig(device).deviceId)
      .execute();
  const auditActions = async () =>
    (await t.core.store.db.selectFrom('audit_entries').select('action').orderBy('seq').execute()).map(
      (r) => r.action,
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imprint-fwdev-'));
    ({ t, f, base, caPem } = await createHttpsTestApp());

    // Factory: one device on an in-memory link, provisioned by the station flow.
    const factory = f.factory.factory;
    const st = await factory.batches.createStation({ actor: 'test' }, t.manufacturer.id, 'line-1');
    const now = t.core.clock.now().getTime();
    const batch = await factory.batches.createBatch(
      { actor: 'test' },
      {
        tenantId: t.manufacturer.id,
        modelId: t.manufacturer.modelId,
        quantity: 1,
        stationId: st.id,
        notBefore: new Date(now - 3600_000).toISOString(),
        notAfter: new Date(now + 3600_000).toISOString(),
      },
    );
    statePath = join(dir, 'device.cbor');
    device = SimulatedDevice.create(statePath, { model: 'sensor-1', durable: false });
    const [a, b] = duplexPair();
    new LinkServer(b, new DeviceAgent(device).handle);
    const api = localFactoryApi(factory, {
      stationId: st.id,
      tenantId: t.manufacturer.id,
      actor: `station:${st.id}`,
    });
    const done = await provisionDevice(new LinkClient(a, { timeoutMs: 2000, retries: 1 }), api, {
      batchId: batch.id,
    });
    assert.equal(done.outcome, 'provisioned');
    // The station left the IDevID chain in the secure element: the device's mutual-TLS identity.
    assert.equal((await device.secureElement.identityChain()).length, 1 + done.chain!.length);
    await f.tuf.init(by());
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the factory image is MCUboot, signed by the key whose hash is fused, and boots', () => {
    const boot = bootDevice(deviceBootHardware(device));
    assert.equal(boot.booted, true, JSON.stringify(boot.refusal));
    assert.equal(boot.measurement?.version, '1.0.0');
    assert.equal(boot.measurement?.securityCounter, 1);
    assert.equal(device.fuses().secureBoot, true);
    assert.equal(
      boot.measurement?.keyHash,
      Buffer.from(device.rotpkHash()!).toString('hex'),
      'the image key is the root of trust burned at the factory',
    );
  });

  it('without a trusted TUF root the command refuses clearly and changes nothing', async () => {
    await assert.rejects(
      cli('device', 'update', '--state', statePath, '--server', base),
      (e: { code?: number; stderr?: string }) => {
        assert.equal(e.code, 1);
        assert.match(e.stderr ?? '', /ERR_DEVICE_NO_TUF_ROOT/);
        return true;
      },
    );
    assert.equal(device.trustedMetadata().load('root'), undefined);
  });

  it('`imprint device update` installs 1.1.0 and the signed report reaches the server over mTLS', async () => {
    const { digest: d110 } = await release('1.1.0', 2);
    const rootFile = join(dir, '1.root.json');
    writeFileSync(rootFile, await f.tuf.metadata(t.manufacturer.id, '1.root.json'));
    const caFile = join(dir, 'ca.pem');
    writeFileSync(caFile, caPem);
    const out = await cli(
      '--json',
      ...['device', 'update', '--state', statePath, '--server', base, '--ca', caFile, '--root', rootFile],
    );
    const result = JSON.parse(out.stdout) as UpdateCycleResult;
    assert.equal(result.outcome, 'updated');
    assert.equal(result.before.version, '1.0.0');
    assert.equal(result.after.version, '1.1.0');
    assert.equal(result.securityCounter, 2);
    assert.ok(
      result.events.some((e) => e.step === 'report' && e.detail.startsWith('sent')),
      out.stdout,
    );
    device = SimulatedDevice.open(statePath, { durable: false });
    assert.equal(device.counter('image-security-counter'), 2);
    const r = await reports();
    assert.equal(r.length, 1);
    assert.equal(r[0]!.version, '1.1.0');
    assert.equal(r[0]!.image_digest, d110);
  });

  it('the factory 1.0.0, republished, is not offered: its counter is below the device', async () => {
    const factoryImage = await t.core.store.db
      .selectFrom('firmware_images')
      .select('digest')
      .where('version', '=', '1.0.0')
      .executeTakeFirstOrThrow();
    await f.tuf.addTarget(by(), factoryImage.digest, { id: t.manufacturer.modelId, name: 'sensor-1' });
    const result = await cycle();
    assert.equal(result.outcome, 'up-to-date');
    assert.equal(result.after.version, '1.1.0');
  });

  it('a release staged to a group reaches only its members', async () => {
    const { releaseId } = await release('1.6.0', 6, { group: 'pilot' });
    const held = await cycle();
    assert.equal(held.outcome, 'up-to-date');
    assert.match(
      held.events.find((e) => e.step === 'check')?.detail ?? '',
      /1 newer image\(s\) not yet rolled out/,
    );
    assert.equal(held.after.version, '1.1.0');
    await f.releases.addToGroup(by(), 'pilot', [readDeviceConfig(device).deviceId]);
    // Through the command: a reverted update is a non-zero exit, with the whole story in --json.
    const failed = await cli(
      '--json',
      'device',
      'update',
      '--state',
      statePath,
      '--server',
      base,
      '--ca',
      join(dir, 'ca.pem'),
      '--fail-health-check',
    ).then(
      () => assert.fail('a reverted update must exit non-zero'),
      (e: { code?: number; stdout?: string }) => {
        assert.equal(e.code, 1);
        return JSON.parse(e.stdout ?? '') as UpdateCycleResult;
      },
    );
    device = SimulatedDevice.open(statePath, { durable: false });
    assert.equal(failed.outcome, 'reverted');
    assert.equal(failed.refusal?.code, 'ERR_FIRMWARE_HEALTH_CHECK_FAILED');
    assert.equal(failed.after.version, '1.1.0');
    assert.equal(failed.securityCounter, 2, 'the counter only rises for confirmed images');
    const steps = failed.events.map((e) => e.step);
    assert.deepEqual(steps.slice(0, 3), ['boot', 'check', 'stage']);
    assert.ok(steps.includes('revert'));
    // Next time it is healthy: 1.6.0 installs, the counter follows, and the group's progress shows it.
    const retry = await cycle();
    assert.equal(retry.outcome, 'updated');
    assert.equal(retry.after.version, '1.6.0');
    assert.equal(retry.securityCounter, 6);
    assert.equal((await reports())[0]!.version, '1.6.0');
    const progress = await f.releases.progress(t.manufacturer.id, releaseId);
    assert.deepEqual(progress.groups, [{ group: 'pilot', devices: 1, installed: 1 }]);
  });
  it('an image signed by another key is refused at install, reported and audited; 1.6.0 keeps running', async () => {
    const { keyId } = await f.signing.createKey(by(), 'rogue', 'ecdsa-p256');
    await publish(keyId, '1.7.0', 7);
    const result = await cycle();
    assert.equal(result.outcome, 'refused');
    assert.equal(result.refusal?.code, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE');
    assert.equal(result.after.version, '1.6.0');
    assert.equal(device.bootState().read(), 'none', 'nothing pending');
    assert.ok((await auditActions()).includes('firmware.update_refused'));
  });
});
