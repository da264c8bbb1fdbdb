/**
 * get-bootstrapping-data over mutual TLS for 10,000 registered devices with signed conveyed information
 * (owner signature, owner certificate, voucher), keep-alive and fresh TLS handshakes measured separately,
 * against a bare Node HTTPS server returning the same bytes (the framework-free limit).
 * Run: `npx tsx bench/sztp.ts [--quick] [--append]` (--append adds the table to docs/benchmarks.md).
 * For profiling: `--only keep-alive|fresh` runs one mode, `--imprint-only` skips the bare server's run,
 * `--profile FILE` writes CPU profiles (.cpuprofile) of the measured runs only (not set-up or warm-up),
 * `--rounds N` sets how many alternating Imprint / limit rounds each mode runs (default 3),
 * `--direct` also measures the bootstrap service alone (no HTTP, no TLS).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { appendFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Session } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { AuditService } from '../src/audit/service.ts';
import { toPem } from '../src/core/encoding.ts';
import { createLogger } from '../src/core/logging.ts';
import { systemRandom } from '../src/core/random.ts';
import { TokenService } from '../src/registry/tokens.ts';
import { buildApp } from '../src/server/app.ts';
import { startWalCheckpointer } from '../src/store/wal-checkpointer.ts';
import { SztpAdminService } from '../src/sztp/admin-service.ts';
import { SztpBootstrapService } from '../src/sztp/bootstrap-service.ts';
import { sztpRoutes } from '../src/sztp/routes.ts';
import { createTestCore, seedManufacturer } from '../test/helpers/core.ts';
import { certForSpki, makeCert, pem, serverCert } from '../test/sztp/pki-helpers.ts';
import { onboardingDoc } from '../test/sztp/world.ts';

const quick = process.argv.includes('--quick');
const DEVICES = quick ? 500 : 10_000;
const KEEPALIVE_REQUESTS = quick ? 2000 : 5000;
const FRESH_REQUESTS = quick ? 300 : 1500;
const CONCURRENCY = 32;
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1] : undefined;
const imprintOnly = process.argv.includes('--imprint-only');
const profileArg = process.argv.indexOf('--profile');
const profileFile = profileArg >= 0 ? process.argv[profileArg + 1] : undefined;
const inspector = profileFile !== undefined ? new Session() : undefined;
if (inspector !== undefined) {
  inspector.connect();
  await inspector.post('Profiler.enable');
}
const by = { actor: 'bench' };

const core = await createTestCore();
const { tenant, model } = await seedManufacturer(core);
const ownerTenant = await core.registry.createTenant(by, 'OwnerCo', 'owner');
const admin = new SztpAdminService(core);
const bootstrap = new SztpBootstrapService(core);
const mfgCa = await makeCert('CN=Bench IDevID CA', { ca: true });
await admin.addManufacturerCa(by, tenant.id, pem(mfgCa));
const masaRoot = await makeCert('CN=Bench MASA Root', { ca: true });
const masaKey = await core.keys.generate('masa', 'ecdsa-p256');
await admin.setMasa(by, {
  tenantId: tenant.id,
  keyId: masaKey.id,
  chainPem: toPem('CERTIFICATE', await certForSpki('CN=MASA', masaKey.publicKeyDer, masaRoot)),
});
const ownerRoot = await makeCert('CN=Bench Owner Root', { ca: true });
const ownerKey = await core.keys.generate('owner', 'ecdsa-p256');
const owner = await admin.registerOwner(by, {
  tenantId: ownerTenant.id,
  name: 'owner',
  keyId: ownerKey.id,
  chainPem:
    toPem('CERTIFICATE', await certForSpki('CN=Owner', ownerKey.publicKeyDer, ownerRoot)) + pem(ownerRoot),
});

// 10,000 devices and their IDevIDs (one shared key pair keeps set-up short; certificates and serials differ).
const t0 = performance.now();
const serials = Array.from({ length: DEVICES }, (_, i) => `SN-${String(i).padStart(6, '0')}`);
await core.store.transaction(async (tx) => {
  for (const serial of serials)
    await core.registry.registerDevice(tx, by, { manufacturerId: tenant.id, modelId: model.id, serial });
});
const leafKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
  'sign',
  'verify',
]);
const keyPemText = toPem(
  'PRIVATE KEY',
  new Uint8Array(await crypto.subtle.exportKey('pkcs8', leafKeys.privateKey)),
);
const certs: string[] = [];
for (const serial of serials) {
  const c = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(serial).toString('hex'),
    subject: `CN=sensor, 2.5.4.5=${serial}`,
    issuer: mfgCa.cert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 86400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: leafKeys.publicKey,
    signingKey: mfgCa.keys.privateKey,
    extensions: [new x509.BasicConstraintsExtension(false)],
  });
  certs.push(c.toString('pem'));
}
await admin.bind(by, { tenantId: tenant.id, ownerId: owner.id, serials });
const image = new TextEncoder().encode('image');
await admin.setRecord(by, {
  ownerId: owner.id,
  scope: 'owner',
  scopeId: owner.id,
  document: onboardingDoc(image, new Uint8Array(32)),
});
console.error(`set-up: ${DEVICES} devices in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const tlsCa = await makeCert('CN=Bench TLS CA', { ca: true });
const tls = await serverCert(tlsCa);
// The TLS settings of `imprint serve` (buildApp): client certificates requested, verified against the client
// CAs (here the IDevID CA, as for factory-issued IDevIDs) but not required at the TLS layer; TLS 1.2 or later.
const tlsOptions = {
  key: tls.key.export({ type: 'pkcs8', format: 'pem' }) as string,
  cert: pem(tls),
  ca: [pem(mfgCa)],
  requestCert: true,
  rejectUnauthorized: false,
  minVersion: 'TLSv1.2' as const,
};
// Imprint as `imprint serve` assembles it: buildApp (auth hook, rate limit, metrics, error handler, request log)
// with the SZTP routes (and so its fast path). The rate limit is set out of reach (every client is 127.0.0.1)
// but still counted; the log level is warn (IMPRINT_LOG_LEVEL=warn), as the bare server logs nothing.
const app = await buildApp(
  {
    ...core,
    random: systemRandom,
    tokens: new TokenService(core.store, core.audit, core.clock),
    auditService: new AuditService({
      store: core.store,
      keys: core.keys,
      log: core.audit,
      clock: core.clock,
    }),
    logger: createLogger('warn'),
    rateLimitPerMinute: 1_000_000_000,
    features: [(scope) => sztpRoutes(scope, { bootstrap, admin })],
  },
  { key: tlsOptions.key, cert: tlsOptions.cert, ca: tlsOptions.ca },
);
// As `imprint serve` does: WAL checkpoints on a worker thread (off with --no-checkpointer, for comparison).
const checkpointer = process.argv.includes('--no-checkpointer')
  ? undefined
  : await startWalCheckpointer(core.store);
await app.listen({ host: '127.0.0.1', port: 0 });
const imprintPort = (app.server.address() as AddressInfo).port;

const tlsCaPem = pem(tlsCa);
const path = '/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data';
const body = '{"ietf-sztp-bootstrap-server:input":{"hw-model":"sensor-1"}}';
// The bytes Imprint answers for a device: the bare server returns exactly these.
const sample = await fetchOnce(imprintPort, 0, new Agent({ keepAlive: false }));
const bare: Server = createServer(tlsOptions, (req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/yang-data+json' }).end(sample));
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const barePort = (bare.address() as AddressInfo).port;

function fetchOnce(port: number, device: number, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        ca: tlsCaPem,
        cert: certs[device],
        key: keyPemText,
        headers: { 'content-type': 'application/yang-data+json', 'content-length': body.length },
      },
      (res) => {
        let out = '';
        res.on('data', (c: Buffer) => (out += c.toString()));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(out) : reject(new Error(`HTTP ${res.statusCode}: ${out}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

// Fresh handshakes are first contacts: every request, in every round, comes from a device not seen before
// (as long as the devices last: 2 × 100 warm-up + 2 × rounds × requests < 10,000 in the full run).
let freshDevice = 0;

async function load(
  port: number,
  total: number,
  keepAlive: boolean,
): Promise<{ rps: number; p99: number; cpuUs: number }> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      // Keep-alive: one connection per worker, i.e. one device per connection; fresh: every request a new device and handshake.
      const agent = new Agent({ keepAlive, maxSockets: 1 });
      const device = w;
      while (next < total) {
        next++;
        const t = performance.now();
        await fetchOnce(port, keepAlive ? device : freshDevice++ % DEVICES, agent);
        lat.push(performance.now() - t);
      }
      agent.destroy();
    }),
  );
  const secs = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  // CPU time of this process (server and in-process clients, all threads) per request.
  const cpuUs = (cpu.user + cpu.system) / total;
  return { rps: total / secs, p99: lat[Math.floor(lat.length * 0.99)] ?? 0, cpuUs };
}

// --direct: the bootstrap service alone (no HTTP, no TLS), to see what the request logic costs per request.
if (process.argv.includes('--direct')) {
  const ders = certs
    .slice(0, CONCURRENCY)
    .map((c) => [new x509.X509Certificate(c).rawData].map((b) => new Uint8Array(b)));
  const input = { signedDataPreferred: false, hwModel: 'sensor-1' };
  for (const round of ['warm-up', 'measured']) {
    const n = round === 'warm-up' ? 1000 : KEEPALIVE_REQUESTS * 5;
    let next = 0;
    await inspector?.post(round === 'measured' ? 'Profiler.start' : 'Profiler.enable');
    const start = performance.now();
    await Promise.all(
      ders.map(async (chain) => {
        while (next++ < n) await bootstrap.getBootstrappingData(await bootstrap.authenticate(chain), input);
      }),
    );
    const secs = (performance.now() - start) / 1000;
    if (round === 'measured') {
      console.log(`direct: ${(n / secs).toFixed(0)} req/s, ${((secs * 1e6) / n).toFixed(0)} µs per request`);
      if (inspector !== undefined) {
        const { profile } = await inspector.post('Profiler.stop');
        writeFileSync(`${profileFile}.direct.cpuprofile`, JSON.stringify(profile));
      }
    }
  }
}

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const rows: string[] = [];
for (const [mode, keepAlive, n] of [
  ['keep-alive', true, KEEPALIVE_REQUESTS],
  ['fresh TLS handshake', false, FRESH_REQUESTS],
] as const) {
  if (only !== undefined && !mode.startsWith(only)) continue;
  // Warm up both servers (JIT, caches, connections' first requests) before any measured round.
  // Fresh mode warms up with few devices, so that every measured request is still a first contact.
  const warm = Math.min(keepAlive ? 1000 : 100, n);
  await load(imprintPort, warm, keepAlive);
  if (!imprintOnly) await load(barePort, warm, keepAlive);
  // Imprint and the limit alternate, round by round, so that load from other jobs on the machine hits both alike;
  // the ratio reported is the median of the rounds' ratios.
  const mine: { rps: number; p99: number; cpuUs: number }[] = [];
  const batchSizes: number[] = [];
  const limit: { rps: number; p99: number; cpuUs: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    await inspector?.post('Profiler.start');
    const logBefore = bootstrap.logStats;
    mine.push(await load(imprintPort, n, keepAlive));
    const logAfter = bootstrap.logStats;
    batchSizes.push((logAfter.entries - logBefore.entries) / (logAfter.batches - logBefore.batches));
    if (inspector !== undefined) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(
        `${profileFile}.${keepAlive ? 'keepalive' : 'fresh'}.${r}.cpuprofile`,
        JSON.stringify(profile),
      );
    }
    if (imprintOnly) continue;
    await inspector?.post('Profiler.start');
    limit.push(await load(barePort, n, keepAlive));
    if (inspector !== undefined) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(
        `${profileFile}.${keepAlive ? 'keepalive' : 'fresh'}.bare.${r}.cpuprofile`,
        JSON.stringify(profile),
      );
    }
  }
  const ratios = mine.map((m, i) => m.rps / (limit[i]?.rps ?? NaN));
  const cpuRatios = mine.map((m, i) => (limit[i]?.cpuUs ?? NaN) / m.cpuUs);
  console.error(`${mode}: ratios per round ${ratios.map((x) => `${(x * 100).toFixed(0)}%`).join(' ')}`);
  console.error(`${mode}: log entries per commit ${batchSizes.map((b) => b.toFixed(1)).join(' ')}`);
  console.error(
    `${mode}: CPU µs/request Imprint ${mine.map((x) => x.cpuUs.toFixed(0)).join(' ')}, bare ${limit.map((x) => x.cpuUs.toFixed(0)).join(' ')}`,
  );
  const med = (xs: { rps: number; p99: number; cpuUs: number }[]) => ({
    rps: median(xs.map((x) => x.rps)),
    p99: median(xs.map((x) => x.p99)),
    cpuUs: median(xs.map((x) => x.cpuUs)),
  });
  const m = med(mine);
  const l = imprintOnly ? { rps: NaN, p99: NaN, cpuUs: NaN } : med(limit);
  const pct = (xs: number[]) =>
    `${(median(xs) * 100).toFixed(0)}% (${xs.map((x) => (x * 100).toFixed(0)).join(', ')})`;
  rows.push(
    `| ${mode} | ${ROUNDS} × ${n} | ${m.rps.toFixed(0)} | ${m.p99.toFixed(1)} | ${l.rps.toFixed(0)} | ${l.p99.toFixed(1)} | ${pct(ratios)} | ${m.cpuUs.toFixed(0)} | ${l.cpuUs.toFixed(0)} | ${pct(cpuRatios)} |`,
  );
}
await app.close();
await checkpointer?.stop();
await new Promise((r) => bare.close(r));
await core.close();

const table = [
  '',
  '## SZTP (bench/sztp.ts)',
  '',
  `get-bootstrapping-data over mutual TLS (ECDSA P-256 IDevIDs), ${DEVICES} registered and bound devices, signed conveyed`,
  'information + owner certificate + voucher in every answer, each request logged and audited (SQLite, software key store),',
  `${CONCURRENCY} concurrent clients in the same process, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}.`,
  'The limit is a bare Node HTTPS server with the same TLS settings returning the same bytes. Imprint and the limit',
  `alternate in ${ROUNDS} rounds; req/s and p99 are medians over the rounds, the ratio is the median of the rounds' ratios`,
  '(each round in brackets).',
  '',
  'CPU µs/req is the CPU time of the whole process (server and its in-process clients, all threads) per request;',
  'the CPU ratio is bare CPU / Imprint CPU per request (the load-independent reading of the same ratio).',
  '',
  '| mode | rounds × requests | Imprint req/s | Imprint p99 ms | bare req/s | bare p99 ms | Imprint / bare | Imprint CPU µs/req | bare CPU µs/req | CPU ratio |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
console.log(table);
if (process.argv.includes('--append')) appendFileSync('docs/benchmarks.md', table);
