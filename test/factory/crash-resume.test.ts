import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { serveLine } from '../../src/device/line.ts';
import { AuditService } from '../../src/audit/service.ts';
import { exportAudit } from '../../src/audit/export.ts';
import { verifyExport } from '../../src/audit/verify.ts';
import { factoryFixture } from './helpers/factory.ts';

const N = 1000;

interface Summary {
  provisioned: number;
  already: number;
  failures: unknown[];
}
const CHILD = join(import.meta.dirname, 'helpers', 'station-child.ts');

/** Runs the station child; with `killAfter`, SIGKILLs it once that many devices are done. */
function station(
  args: string[],
  killAfter?: number,
): Promise<{ done: number; killed: boolean; summary?: Summary }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let done = 0;
    let killed = false;
    let summary: Summary | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('ok ') || line.startsWith('fail ')) done++;
      if (line.startsWith('summary ')) summary = JSON.parse(line.slice(8)) as Summary;
      if (killAfter !== undefined && done >= killAfter && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.once('error', reject);
    child.once('exit', () => resolve({ done, killed, ...(summary === undefined ? {} : { summary }) }));
  });
}

test(
  'SIGKILL of the station mid-way through a 1,000-device batch, then a re-run: 1,000 unique valid identities, audit verifies',
  { timeout: 240_000 },
  async (t) => {
    const fx = await factoryFixture({ quantity: N });
    t.after(() => fx.core.close());
    const devices = Array.from({ length: N }, (_, i) =>
      SimulatedDevice.create(undefined, {
        model: fx.modelName,
        serial: `SN-CRASH-${String(i).padStart(4, '0')}`,
        durable: false,
      }),
    );
    const { server, port } = await serveLine(devices);
    t.after(() => server.close());
    const args = [
      join(fx.core.dir, 'imprint.db'),
      fx.station.stationId,
      fx.tenantId,
      fx.batch.id,
      String(port),
      String(N),
      '8',
    ];

    const first = await station(args, 300);
    assert.ok(first.killed, 'the station was killed mid-batch');
    assert.ok(first.done < N);
    const second = await station(args);
    assert.equal(second.killed, false);
    assert.deepEqual(second.summary?.failures, []);
    assert.ok((second.summary?.already ?? 0) >= first.done - 8, 'finished devices were skipped, not redone');

    const db = fx.core.store.db;
    const devs = await db.selectFrom('devices').selectAll().where('batch_id', '=', fx.batch.id).execute();
    assert.equal(devs.length, N);
    assert.ok(devs.every((d) => d.state === 'provisioned'));
    const good = await db
      .selectFrom('certificates')
      .selectAll()
      .where('profile', '=', 'idevid')
      .where('status', '=', 'good')
      .execute();
    assert.equal(good.length, N, 'exactly one valid identity per device');
    assert.equal(new Set(good.map((c) => c.spki_sha256)).size, N, 'no key shared');
    assert.equal(new Set(good.map((c) => c.device_id)).size, N, 'no device with two identities');
    const byDevice = new Map(devs.map((d) => [d.id, d]));
    const ca = new X509Certificate(fx.cas.find((c) => c.role === 'manufacturer')!.certificate);
    for (const c of good) {
      const x = new X509Certificate(c.der);
      assert.ok(x.verify(ca.publicKey) && x.checkIssued(ca));
      assert.equal(byDevice.get(c.device_id!)?.identity_key_fingerprint, c.spki_sha256);
    }
    for (const d of devices) {
      const fp = byDevice.size > 0 ? d.fuses() : undefined;
      assert.deepEqual(fp, { secureBoot: true, debugLocked: true, provisioned: true });
    }
    assert.equal((await fx.service.batches.getBatch(fx.batch.id)).issued, N);

    const auditSvc = new AuditService({
      store: fx.core.store,
      keys: fx.core.keys,
      log: fx.core.audit,
      clock: fx.core.clock,
    });
    await auditSvc.signTreeHead();
    const doc = await exportAudit(db, fx.core.keys);
    const report = verifyExport(JSON.parse(JSON.stringify(doc)), doc.publicKey);
    assert.deepEqual(report.problems, []);
    const completed = doc.entries.filter((e) => e.action === 'factory.device.provisioned').length;
    assert.equal(completed, N, 'one provisioned entry per device');
  },
);
