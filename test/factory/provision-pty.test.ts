import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toPem } from '../../src/core/encoding.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { openSerial } from '../../src/factory/link/transport.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { factoryFixture } from './helpers/factory.ts';
import { ptyPair } from './helpers/pty.ts';
import { serveDevice } from './helpers/device.ts';

test('a simulated device is provisioned over a real socat pty pair and its IDevID verifies with openssl', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const pty = await ptyPair();
  t.after(() => pty.close());
  const statePath = join(fx.core.dir, 'device.cbor');
  const device = SimulatedDevice.create(statePath, { model: fx.modelName });
  const devPort = await openSerial(pty.b, 115200);
  serveDevice(device, devPort);
  const link = new LinkClient(await openSerial(pty.a, 115200), { timeoutMs: 2000 });
  const res = await provisionDevice(link, fx.api, { batchId: fx.batch.id, chunkSize: 512 });
  link.close();
  devPort.destroy();
  assert.equal(res.outcome, 'provisioned');
  assert.ok(res.certificate !== undefined && res.chain !== undefined);

  const leaf = join(fx.core.dir, 'leaf.pem');
  const inter = join(fx.core.dir, 'inter.pem');
  const root = join(fx.core.dir, 'root.pem');
  writeFileSync(leaf, toPem('CERTIFICATE', res.certificate));
  writeFileSync(
    inter,
    res.chain
      .slice(0, -1)
      .map((c) => toPem('CERTIFICATE', c))
      .join(''),
  );
  writeFileSync(root, toPem('CERTIFICATE', res.chain.at(-1)!));
  const out = execFileSync('openssl', ['verify', '-CAfile', root, '-untrusted', inter, leaf], {
    encoding: 'utf8',
  });
  assert.match(out, /: OK/);

  const reopened = SimulatedDevice.open(statePath);
  assert.deepEqual(reopened.fuses(), { secureBoot: true, debugLocked: true, provisioned: true });
  assert.deepEqual(await reopened.secureElement.secretNames(), ['appKey', 'cloudToken', 'wifiKey']);
  const dev = await fx.core.registry.getDevice(res.deviceId);
  assert.equal(dev.state, 'provisioned');
  assert.equal(dev.identityKeyFingerprint, res.fingerprint);
  const batch = await fx.service.batches.getBatch(fx.batch.id);
  assert.equal(batch.issued, 1);
});
