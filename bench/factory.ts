/**
 * Factory throughput: devices/s for a line of P parallel simulated devices over TCP, and seconds per
 * device over a 115200-baud socat pty against the wire-time limit (bytes exchanged × 10 / baud).
 * Run: npx tsx bench/factory.ts [--quick] [--write] [--tcp-only] [--parallel N] [--devices N] [--separate]
 * (--write appends the results to docs/benchmarks.md; --parallel/--devices run one TCP row of that size;
 * --separate runs the simulated devices in a child process, as real devices bring their own CPUs, so
 * the CPU column is the station + server alone, the next column the child's; --profile-devices writes the
 * child's CPU profile to bench/out/).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { appendFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { SimulatedDevice } from '../src/device/simulator.ts';
import { serveLine } from '../src/device/line.ts';
import { runLine } from '../src/factory/line.ts';
import { LinkClient } from '../src/factory/link/client.ts';
import { connectTcp, openSerial } from '../src/factory/link/transport.ts';
import { provisionDevice } from '../src/factory/station.ts';
import { serveDevice } from '../test/factory/helpers/device.ts';
import { factoryFixture } from '../test/factory/helpers/factory.ts';
import { ptyPair } from '../test/factory/helpers/pty.ts';

const quick = process.argv.includes('--quick');
const tcpOnly = process.argv.includes('--tcp-only');
/** The numeric value after `--name`, if given. */
function numArg(name: string): number | undefined {
  const i = process.argv.indexOf(name);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new Error(`${name} needs a positive integer`);
  return v;
}
const onlyParallel = numArg('--parallel');
const onlyDevices = numArg('--devices');
const separate = process.argv.includes('--separate');
// --profile-devices: the device child writes a CPU profile to bench/out/ (node --cpu-prof).
const profileDevices = process.argv.includes('--profile-devices');
const serveOnly = numArg('--serve-devices');
const FIRMWARE = 8 * 1024;
const BAUD = 115200;

interface TcpRow {
  mode: 'one process' | 'devices in a child process';
  parallel: number;
  devices: number;
  seconds: number;
  rate: number;
  cpuMsPerDevice: number;
  /** CPU of the child serving the simulated devices (separate mode only). */
  deviceCpuMsPerDevice?: number;
}

/** Asks the device child for its CPU time so far (µs, user + system). */
async function childCpu(child: ChildProcess, lines: AsyncIterator<string>): Promise<number> {
  child.stdin!.write('cpu\n');
  const r = await lines.next();
  const m = /^cpu (\d+)$/.exec(String(r.value));
  if (m === null) throw new Error(`the device child answered ${String(r.value)}`);
  return Number(m[1]);
}

async function tcp(parallel: number, devices: number): Promise<TcpRow> {
  const fx = await factoryFixture({ quantity: devices, firmwareSize: FIRMWARE });
  let child: ChildProcess | undefined;
  let lines: AsyncIterator<string> | undefined;
  let server: { close(): unknown } | undefined;
  let port: number;
  if (separate) {
    child = spawn(
      process.execPath,
      [
        ...(profileDevices ? ['--cpu-prof', '--cpu-prof-dir', 'bench/out'] : []),
        '--import',
        'tsx',
        process.argv[1]!,
        '--serve-devices',
        String(devices),
        '--model',
        fx.modelName,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    port = Number(/^port (\d+)$/.exec(String(first.value))?.[1]);
  } else {
    const line = Array.from({ length: devices }, () =>
      SimulatedDevice.create(undefined, { model: fx.modelName, durable: false }),
    );
    ({ server, port } = await serveLine(line));
  }
  const childBefore = child === undefined ? 0 : await childCpu(child, lines!);
  const cpu = process.cpuUsage();
  const s = await runLine({
    api: fx.api,
    batchId: fx.batch.id,
    count: devices,
    parallel,
    connect: () => connectTcp('127.0.0.1', port),
  });
  const c = process.cpuUsage(cpu);
  const childUs = child === undefined ? undefined : (await childCpu(child, lines!)) - childBefore;
  server?.close();
  child?.stdin?.end();
  if (s.failures.length > 0)
    throw new Error(`${s.failures.length} devices failed: ${JSON.stringify(s.failures[0])}`);
  await checkProvisioned(fx, devices);
  await fx.core.close();
  return {
    mode: separate ? 'devices in a child process' : 'one process',
    parallel,
    devices,
    seconds: s.seconds,
    rate: devices / s.seconds,
    cpuMsPerDevice: (c.user + c.system) / 1000 / devices,
    ...(childUs === undefined ? {} : { deviceCpuMsPerDevice: childUs / 1000 / devices }),
  };
}

/** The run counts only if the store holds `n` provisioned devices of the batch, each with its own IDevID key. */
async function checkProvisioned(fx: Awaited<ReturnType<typeof factoryFixture>>, n: number): Promise<void> {
  const rows = await fx.core.store.db
    .selectFrom('devices')
    .select(['state', 'identity_key_fingerprint'])
    .where('batch_id', '=', fx.batch.id)
    .execute();
  const keys = new Set(rows.filter((r) => r.state === 'provisioned').map((r) => r.identity_key_fingerprint));
  keys.delete(null);
  if (keys.size !== n)
    throw new Error(`expected ${n} provisioned devices with distinct keys, found ${keys.size}`);
}

async function uart(n: number): Promise<{ seconds: number; bytes: number; wire: number }> {
  const fx = await factoryFixture({ quantity: n, firmwareSize: FIRMWARE });
  let seconds = 0;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    // A pty does not pace bytes at its baud rate, so a pacing bridge between two pty pairs plays the UART.
    const pty = await ptyPair();
    const pty2 = await ptyPair();
    const [x, y] = [await openSerial(pty.b, BAUD), await openSerial(pty2.a, BAUD)];
    pace(x, y);
    pace(y, x);
    const dev = await openSerial(pty2.b, BAUD);
    serveDevice(SimulatedDevice.create(undefined, { model: fx.modelName, durable: false }), dev);
    const link = new LinkClient(await openSerial(pty.a, BAUD), { timeoutMs: 3000 });
    const t0 = performance.now();
    await provisionDevice(link, fx.api, { batchId: fx.batch.id });
    seconds += (performance.now() - t0) / 1000;
    bytes += link.bytesIn + link.bytesOut;
    link.close();
    for (const p of [dev, x, y]) p.destroy();
    await pty.close();
    await pty2.close();
  }
  await fx.core.close();
  return { seconds: seconds / n, bytes: bytes / n, wire: ((bytes / n) * 10) / BAUD };
}

/** Forwards bytes no faster than the wire: each chunk arrives when its last stop bit would have. */
function pace(from: Duplex, to: Duplex): void {
  let free = 0;
  from.on('data', (c: Buffer) => {
    const now = performance.now();
    free = Math.max(now, free) + (c.length * 10 * 1000) / BAUD;
    setTimeout(() => to.write(c), free - now);
  });
}

/** Child mode: serves `n` simulated devices over TCP, prints the port, exits when stdin closes. */
async function serveDevices(n: number): Promise<void> {
  const i = process.argv.indexOf('--model');
  const model = process.argv[i + 1] ?? 'sensor-1';
  const line = Array.from({ length: n }, () => SimulatedDevice.create(undefined, { model, durable: false }));
  const { port } = await serveLine(line);
  process.stdout.write(`port ${port}\n`);
  // The parent asks for this process's CPU time before and after its run ("cpu" lines).
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l !== 'cpu') return;
    const u = process.cpuUsage();
    process.stdout.write(`cpu ${u.user + u.system}\n`);
  });
  process.stdin.once('end', () => process.exit(0));
}

if (serveOnly !== undefined) await serveDevices(serveOnly);
else await main();

async function main(): Promise<void> {
  const load = loadavg()[0]!.toFixed(1);
  const rows: TcpRow[] = [];
  if (onlyParallel !== undefined || onlyDevices !== undefined) {
    rows.push(await tcp(onlyParallel ?? 8, onlyDevices ?? 500));
  } else {
    for (const p of quick ? [8] : [1, 8, 32]) rows.push(await tcp(p, quick ? 100 : p === 1 ? 100 : 500));
  }
  const u = tcpOnly ? undefined : await uart(quick ? 1 : 3);
  const md = [
    '',
    '## Factory (bench/factory.ts)',
    '',
    `Run ${new Date().toISOString()} on ${process.platform}/${process.arch}, Node ${process.version}, load average ${load} at start`,
    `(the machine is shared; CPU ms/device is this process's: station + server, plus the simulated devices in "one process" mode;`,
    `with the devices in a child process on the same machine, their CPU is the last column).`,
    `SQLite store, software CA keys, ${FIRMWARE / 1024} KiB firmware per device; every run checks the store for N provisioned devices with N distinct keys.`,
    '',
    '| line | devices | parallel | seconds | devices/s | CPU ms/device | device child CPU ms/device |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| TCP (${r.mode}) | ${r.devices} | ${r.parallel} | ${r.seconds.toFixed(2)} | ${r.rate.toFixed(1)} | ${r.cpuMsPerDevice.toFixed(1)} | ${r.deviceCpuMsPerDevice?.toFixed(1) ?? '–'} |`,
    ),
    '',
    ...(u === undefined
      ? []
      : [
          `UART (socat pty pairs joined by a bridge that paces bytes at ${BAUD} baud, 8N1): ${u.seconds.toFixed(2)} s/device for ${Math.round(u.bytes)} bytes exchanged;`,
          `wire time ${u.wire.toFixed(2)} s (bytes × 10 / baud), ratio ${(u.seconds / u.wire).toFixed(2)}× (target ≤ 1.5×).`,
          '',
        ]),
  ].join('\n');
  process.stdout.write(md);
  if (process.argv.includes('--write')) appendFileSync(new URL('../docs/benchmarks.md', import.meta.url), md);
}
