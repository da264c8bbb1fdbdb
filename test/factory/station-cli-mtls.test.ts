import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { serveLine } from '../../src/device/line.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import type { Features } from '../../src/server/features.ts';
import type { TestApp } from '../helpers/app.ts';
import { createHttpsTestApp, issueClientCertificate, type HttpsTestApp } from '../helpers/https-app.ts';

const run = promisify(execFile);

/**
 * The station command as a production line runs it: `imprint factory run --server https://… --cert --key
 * --ca`, speaking the station protocol over HTTPS with an Imprint-issued station certificate (mutual TLS)
 * to the server as `imprint serve` assembles it, against simulated devices on a TCP fixture.
 */
describe('imprint factory run over HTTPS with the station certificate', () => {
  let dir: string;
  let app: HttpsTestApp;
  let t: TestApp;
  let f: Features;
  let base: string;
  let line: Server;
  let linePort: number;
  let stationId: string;
  let batchId: string;

  const stationCert = async (name: string, cn: string) =>
    (await issueClientCertificate(app, dir, name, cn)).id;

  const stationRun = (name: string, count: number) =>
    run(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        '--json',
        'factory',
        'run',
        '--server',
        base,
        '--cert',
        join(dir, `${name}.pem`),
        '--key',
        join(dir, `${name}.key`),
        '--ca',
        join(dir, 'ca.pem'),
        '--batch',
        batchId,
        '--count',
        String(count),
        '--parallel',
        '2',
        '--line',
        `127.0.0.1:${linePort}`,
        '--no-progress',
      ],
      { cwd: process.cwd() },
    );

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imprint-stncli-'));
    app = await createHttpsTestApp();
    ({ t, f, base } = app);
    writeFileSync(join(dir, 'ca.pem'), app.caPem);
    const factory = f.factory.factory;
    stationId = (await factory.batches.createStation({ actor: 'test' }, t.manufacturer.id, 'line-1')).id;
    const now = t.core.clock.now().getTime();
    batchId = (
      await factory.batches.createBatch(
        { actor: 'test' },
        {
          tenantId: t.manufacturer.id,
          modelId: t.manufacturer.modelId,
          quantity: 3,
          stationId,
          notBefore: new Date(now - 3600_000).toISOString(),
          notAfter: new Date(now + 3600_000).toISOString(),
        },
      )
    ).id;
    const devices = [0, 1, 2].map(() => SimulatedDevice.create(undefined, { model: 'sensor-1' }));
    ({ server: line, port: linePort } = await serveLine(devices));
  });
  after(async () => {
    line.close();
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions devices with the station identity, audited as that station', async () => {
    await stationCert('station', stationId);
    const out = await stationRun('station', 2);
    const summary = JSON.parse(out.stdout) as { provisioned: number; failed: number };
    assert.equal(summary.provisioned, 2, out.stderr);
    assert.equal(summary.failed, 0);
    const provisioned = await t.core.store.db
      .selectFrom('devices')
      .select('id')
      .where('state', '=', 'provisioned')
      .where('batch_id', '=', batchId)
      .execute();
    assert.equal(provisioned.length, 2);
    const actors = await t.core.store.db
      .selectFrom('audit_entries')
      .select('actor')
      .where('action', '=', 'factory.device.provisioned')
      .execute();
    assert.deepEqual(
      actors.map((a) => a.actor),
      [`station:${stationId}`, `station:${stationId}`],
    );
  });

  it('a revoked station certificate is refused: non-zero exit, a clear error, nothing provisioned', async () => {
    const certId = await stationCert('revoked', stationId);
    await f.pki.revoke(
      { actor: 'test' },
      { tenantId: t.manufacturer.id, certificateId: certId, reason: 'keyCompromise' },
    );
    const before = await t.core.store.db
      .selectFrom('devices')
      .select('id')
      .where('state', '=', 'provisioned')
      .execute();
    await assert.rejects(
      stationRun('revoked', 1),
      (e: { code?: number; stderr?: string; stdout?: string }) => {
        assert.notEqual(e.code, 0);
        assert.match(`${e.stderr}${e.stdout}`, /ERR_AUTH|401/);
        return true;
      },
    );
    const now = await t.core.store.db
      .selectFrom('devices')
      .select('id')
      .where('state', '=', 'provisioned')
      .execute();
    assert.equal(now.length, before.length);
  });
});
