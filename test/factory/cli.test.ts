import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { claimCommand, factoryCommand, manifestCommand, type OpenFactory } from '../../src/cli/factory.ts';
import { toPem } from '../../src/core/encoding.ts';
import { systemRandom } from '../../src/core/random.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { serveLine } from '../../src/device/line.ts';
import { factoryServices } from '../../src/factory/runtime.ts';
import { hasCode } from '../../src/core/errors.ts';
import { factoryFixture } from './helpers/factory.ts';

/** Runs one command group with argv, the way `imprint` would. */
async function run(cmd: Command, args: string[]): Promise<void> {
  const root = new Command('imprint').option('--json').exitOverride();
  root.addCommand(cmd);
  await root.parseAsync(['node', 'imprint', '--json', cmd.name(), ...args]);
}

test('CLI: factory run over a TCP line writes labels; manifest sign/verify; claim --qr binds the device once', async (t) => {
  const fx = await factoryFixture();
  t.after(() => fx.core.close());
  const services = factoryServices(
    { ...fx.core, random: systemRandom },
    { publicUrl: 'https://imprint.test' },
  );
  const open: OpenFactory = () => Promise.resolve({ ...services, close: () => Promise.resolve() });
  const devices = Array.from({ length: 3 }, () => SimulatedDevice.create(undefined, { model: fx.modelName }));
  const { server, port } = await serveLine(devices);
  t.after(() => server.close());
  const labels = join(fx.core.dir, 'labels');
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (s: string) => out.push(s) > 0;
  try {
    await run(factoryCommand(open), [
      'run',
      '--batch',
      fx.batch.id,
      '--station',
      fx.station.stationId,
      '--count',
      '3',
      '--parallel',
      '2',
      '--line',
      `127.0.0.1:${port}`,
      '--labels',
      labels,
      '--no-progress',
    ]);
    const summary = JSON.parse(out.pop()!) as { provisioned: number; failed: number };
    assert.deepEqual([summary.provisioned, summary.failed], [3, 0]);
    assert.equal(readdirSync(labels).filter((f) => f.endsWith('.png')).length, 3);
    assert.equal(readdirSync(labels).filter((f) => f.endsWith('.svg')).length, 3);

    const mf = join(fx.core.dir, 'manifest.jws');
    await run(manifestCommand(open), ['sign', '--batch', fx.batch.id, '--out', mf]);
    const root = join(fx.core.dir, 'root.pem');
    writeFileSync(root, toPem('CERTIFICATE', fx.cas.find((c) => c.role === 'root')!.certificate));
    await run(manifestCommand(open), ['verify', mf, '--ca', root]);
    assert.equal((JSON.parse(out.pop()!) as { devices: number }).devices, 3);

    await fx.core.registry.createTenant({ actor: 'test' }, 'Buyer', 'owner');
    const png = join(
      labels,
      readdirSync(labels).find((f) => f.endsWith('.png'))!,
    );
    await run(claimCommand(open), ['--qr', png, '--tenant', 'Buyer']);
    assert.equal((JSON.parse(out.pop()!) as { state: string }).state, 'claimed');
    await assert.rejects(run(claimCommand(open), ['--qr', png, '--tenant', 'Buyer']), (e) =>
      hasCode(e, 'ERR_CLAIM_USED'),
    );
  } finally {
    process.stdout.write = write;
  }
});
