/**
 * Probe: CPU per device + generation read as bench/sztp.ts's requests do it, through Kysely's executeQuery
 * (round 1) and through the store's hot read (this round), alternating in one process on one SQLite store.
 * Run: `npx tsx bench/sztp-hot-read-probe.ts`.
 */
import { CompiledQuery } from 'kysely';
import { hotRead } from '../src/store/hot-read.ts';
import { deviceAt } from '../src/sztp/device-records.ts';
import { createTestCore, seedManufacturer } from '../test/helpers/core.ts';

const core = await createTestCore();
const { tenant, model } = await seedManufacturer(core);
const DEVICES = 10_000;
await core.store.transaction(async (tx) => {
  for (let i = 0; i < DEVICES; i++)
    await core.registry.registerDevice(
      tx,
      { actor: 'probe' },
      {
        manufacturerId: tenant.id,
        modelId: model.id,
        serial: `SN${String(i).padStart(6, '0')}`,
      },
    );
});
const SQL =
  'select d.*, (select g.n from "sztp_generation" g where g.id = 1) as gen from "devices" d ' +
  'where d.manufacturer_id = ? and d.serial = ?';
const viaKysely = (serial: string) =>
  core.store.db.executeQuery(CompiledQuery.raw(SQL, [tenant.id, serial])).then((r) => r.rows);
const viaHot = (serial: string) => hotRead(core.store, CompiledQuery.raw(SQL, [tenant.id, serial]));
const viaDeviceAt = (serial: string) => deviceAt(core.store, tenant.id, serial);

async function measure(read: (s: string) => Promise<unknown>, n: number): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await read(`SN${String((i * 7919) % DEVICES).padStart(6, '0')}`);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}
const N = 20_000;
for (const r of [viaKysely, viaHot, viaDeviceAt]) await measure(r, 2000); // warm-up
const out: Record<string, number[]> = { kysely: [], hot: [], deviceAt: [] };
for (let round = 0; round < 5; round++) {
  out['kysely']?.push(await measure(viaKysely, N));
  out['hot']?.push(await measure(viaHot, N));
  out['deviceAt']?.push(await measure(viaDeviceAt, N));
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
for (const [k, xs] of Object.entries(out))
  console.log(
    `${k.padEnd(9)} median ${med(xs).toFixed(2)} µs/read (rounds: ${xs.map((x) => x.toFixed(1)).join(', ')})`,
  );
console.log(
  `load average ${(await import('node:os'))
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
await core.close();
