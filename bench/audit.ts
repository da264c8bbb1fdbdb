/**
 * Audit appends per second with tree-head signing, on SQLite and PostgreSQL.
 * Run: npx tsx bench/audit.ts [--quick]
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { exportAudit } from '../src/audit/export.ts';
import { StoreAuditLog } from '../src/audit/log.ts';
import { AuditService } from '../src/audit/service.ts';
import type { AuditEvent } from '../src/audit/types.ts';
import { verifyExport } from '../src/audit/verify.ts';
import { systemClock } from '../src/core/clock.ts';
import { toPem } from '../src/core/encoding.ts';
import { SoftwareKeyStore } from '../src/keys/software.ts';
import { openStore, type StoreLocation } from '../src/store/database.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const quick = process.argv.includes('--quick');
const SINGLE = quick ? 500 : 3000;
const BATCH = 1000;
const BATCHES = quick ? 5 : 50;

interface Row {
  store: string;
  mode: string;
  appends: number;
  heads: number;
  seconds: number;
  /** CPU seconds of this process (user + system); the machine may be shared, so both are shown. */
  cpu: number;
}

function clock() {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  return () => ({
    seconds: (performance.now() - wall) / 1000,
    cpu: (() => {
      const d = process.cpuUsage(cpu);
      return (d.user + d.system) / 1e6;
    })(),
  });
}

const event = (i: number): AuditEvent => ({
  actor: 'station:st_bench',
  action: 'device.provisioned',
  subject: `dev_${i.toString(36).padStart(8, '0')}`,
  tenantId: 'ten_bench',
  details: { serial: `SN${i}`, batch: 'bat_bench', model: 'sensor-1', firmware: '1.4.2' },
});

async function measure(name: string, location: StoreLocation): Promise<Row[]> {
  const store = await openStore(location);
  const keys = new SoftwareKeyStore(store.db, randomBytes(32), systemClock);
  const log = new StoreAuditLog(store.dialect, systemClock);
  const audit = new AuditService({ store, keys, log, clock: systemClock });
  await audit.key();
  const rows: Row[] = [];
  try {
    let i = 0;
    let heads = 0;
    let t = clock();
    for (let n = 0; n < SINGLE; n++) {
      await store.transaction((tx) => log.append(tx, event(i++)));
      if ((n + 1) % BATCH === 0 && (await audit.signTreeHead()) !== undefined) heads++;
    }
    if ((await audit.signTreeHead()) !== undefined) heads++;
    rows.push({
      store: name,
      mode: `single append per transaction, head per ${BATCH}`,
      appends: SINGLE,
      heads,
      ...t(),
    });

    heads = 0;
    t = clock();
    for (let b = 0; b < BATCHES; b++) {
      const events = Array.from({ length: BATCH }, () => event(i++));
      await store.transaction((tx) => log.appendMany(tx, events));
      if ((await audit.signTreeHead()) !== undefined) heads++;
    }
    rows.push({
      store: name,
      mode: `appendMany of ${BATCH} per transaction, head per batch`,
      appends: BATCH * BATCHES,
      heads,
      ...t(),
    });

    t = clock();
    const doc = await exportAudit(store.db, keys);
    const report = verifyExport(doc, toPem('PUBLIC KEY', (await audit.key()).publicKeyDer));
    if (!report.ok) throw new Error(`verification failed: ${JSON.stringify(report.problems.slice(0, 3))}`);
    rows.push({
      store: name,
      mode: 'export + offline verify (entries/s)',
      appends: doc.entries.length,
      heads: doc.treeHeads.length,
      ...t(),
    });
  } finally {
    await keys.close();
    await store.close();
  }
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), 'imprint-bench-audit-'));
const results: Row[] = [];
try {
  results.push(
    ...(await measure('SQLite (WAL, synchronous=NORMAL)', { kind: 'sqlite', path: join(dir, 'bench.db') })),
  );
  const pg = await startPostgres('imprint_bench');
  try {
    results.push(
      ...(await measure('PostgreSQL 15 (loopback, test server settings)', { kind: 'postgres', url: pg.url })),
    );
  } finally {
    await pg.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const load = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');
console.log(
  `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average at the end ${load}\n`,
);
console.log(
  '| store | mode | appends | tree heads | seconds | per second | per CPU-second of this process |',
);
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.store} | ${r.mode} | ${r.appends} | ${r.heads} | ${r.seconds.toFixed(2)} | ${rate(r.appends, r.seconds)} | ${rate(r.appends, r.cpu)} |`,
  );
}

function rate(n: number, seconds: number): string {
  return Math.round(n / seconds).toLocaleString('en-US');
}
