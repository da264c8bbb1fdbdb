/**
 * Certificate issuance (CSR → IDevID, persisted and audited) in-process and over HTTP with 8-64
 * concurrent clients, against the machine's ECDSA P-256 limit (`openssl speed`) and a peer
 * (`cfssl serve`, same key type); then OCSP responses per second from the pre-signed cache. Besides
 * throughput it reports the Imprint process's CPU time per certificate, which a busy shared machine distorts
 * less. The HTTP load (Imprint's API and OCSP, and cfssl) comes from a separate client process (this file
 * with --client), so the server does not share its thread with the load generator.
 * OCSP over HTTP runs against the app as `imprint serve` assembles it (buildApp: auth hook, rate limit, metrics,
 * error handler, request log at warn), once with the OCSP fast routes (fast-ocsp.ts) and once with the Fastify
 * routes alone, in the same run. `--ocsp-only` skips issuance and cfssl (the OCSP table only).
 * Run: npx tsx bench/issue.ts [--quick] [--ocsp-only]
 */
import 'reflect-metadata';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import Fastify from 'fastify';
import { StoreAuditLog } from '../src/audit/log.ts';
import { AuditService } from '../src/audit/service.ts';
import { systemClock } from '../src/core/clock.ts';
import { toPem } from '../src/core/encoding.ts';
import { createLogger } from '../src/core/logging.ts';
import { systemRandom } from '../src/core/random.ts';
import { SoftwareKeyStore } from '../src/keys/software.ts';
import { buildName, der } from '../src/pki/asn1.ts';
import { pkiApiRoutes } from '../src/pki/routes-api.ts';
import { pkiPublicRoutes } from '../src/pki/routes-public.ts';
import { PkiService } from '../src/pki/service.ts';
import { RegistryService } from '../src/registry/service.ts';
import { TokenService } from '../src/registry/tokens.ts';
import { buildApp } from '../src/server/app.ts';
import { fastRouterOf } from '../src/server/fast-routes.ts';
import '../src/server/fastify-types.ts';
import { openStore } from '../src/store/database.ts';

const quick = process.argv.includes('--quick');
const ocspOnly = process.argv.includes('--ocsp-only');
const N = quick ? 200 : 1000;
const CONCURRENCY = [8, 64];
const OCSP_N = quick ? 20_000 : 100_000;
const dir = mkdtempSync(join(tmpdir(), 'imprint-bench-issue-'));

interface Result {
  readonly name: string;
  readonly clients: number;
  readonly n: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time of this process (all threads) per job, µs: steadier than throughput on a shared machine. */
  readonly cpuUs: number;
  /** CPU time of this process's main thread per job, µs (Linux; NaN elsewhere). */
  readonly mainUs: number;
}

/** CPU time of the main thread so far, µs, from /proc (its utime + stime, in clock ticks of 10 ms). */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Runs `total` jobs with `clients` concurrent workers; returns throughput and latency percentiles (ms). */
async function drive(
  name: string,
  clients: number,
  total: number,
  job: (i: number) => Promise<void>,
): Promise<Result> {
  const lat: number[] = [];
  let next = 0;
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await job(i);
        lat.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return {
    name,
    clients,
    n: total,
    perSecond: total / seconds,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    cpuUs: (cpu.user + cpu.system) / total,
    mainUs: (mainThreadCpuUs() - main0) / total,
  };
}

/** A batch of HTTP POSTs for the client process: bodies are sent in order by `clients` workers. */
interface ClientJob {
  readonly port: number;
  readonly path: string;
  readonly contentType: string;
  /** Request bodies (latin1 text for binary ones). */
  readonly bodies: readonly string[];
  readonly clients: number;
  readonly status: number;
  /** GET sends no body: `bodies` then only sets the number of requests. */
  readonly method?: 'GET';
}

/** The client process: runs each ClientJob it is sent and answers with its Result. */
async function clientMain(): Promise<void> {
  process.on('message', (job: ClientJob) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: job.clients });
    const binary = job.contentType === 'application/ocsp-request';
    const bodies = job.bodies.map((b) => Buffer.from(b, binary ? 'latin1' : 'utf8'));
    void drive('client', job.clients, bodies.length, async (i) => {
      const r =
        job.method === 'GET'
          ? await get(agent, job.port, job.path)
          : await post(agent, job.port, job.path, bodies[i]!, { 'content-type': job.contentType });
      if (r.status !== job.status) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`);
    }).then(
      (r) => {
        agent.destroy();
        process.send?.({ ok: r });
      },
      (e: unknown) => process.send?.({ error: String(e) }),
    );
  });
  await new Promise<void>((resolve) => process.on('disconnect', resolve));
}

/** Runs a job in the client process; CPU is this (server) process's, per request. */
async function driveRemote(client: ChildProcess, name: string, job: ClientJob): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuUs();
  const answer = await new Promise<{ ok?: Result; error?: string }>((resolve) => {
    client.once('message', (m: { ok?: Result; error?: string }) => resolve(m));
    client.send(job);
  });
  const cpu = process.cpuUsage(cpu0);
  if (answer.ok === undefined) throw new Error(`${name}: ${answer.error ?? 'no answer'}`);
  const n = job.bodies.length;
  return { ...answer.ok, name, cpuUs: (cpu.user + cpu.system) / n, mainUs: (mainThreadCpuUs() - main0) / n };
}

/** A P-256 CSR with serialNumber=<serial>, built and signed in-process (not measured). */
function csrFor(serial: string): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const info = new CertificationRequestInfo({
    subject: buildName([['serialNumber', serial]]),
    subjectPKInfo: AsnConvert.parse(publicKey.export({ format: 'der', type: 'spki' }), SubjectPublicKeyInfo),
  });
  const tbs = der(info);
  const csr = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }),
    signature: Uint8Array.from(sign('sha256', tbs, privateKey)).buffer,
  });
  return toPem('CERTIFICATE REQUEST', der(csr));
}

function opensslSpeed(): { sign: number; verify: number } {
  const out = execFileSync('openssl', ['speed', '-seconds', '3', 'ecdsap256'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const m = /256 bits ecdsa \(nistp256\)\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)\s+([\d.]+)/.exec(out);
  if (m === null) throw new Error(`cannot parse openssl speed output:\n${out}`);
  return { sign: Number(m[1]), verify: Number(m[2]) };
}

function post(
  agent: http.Agent,
  port: number,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await new Promise<void>((resolve, reject) => {
        const r = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          res.resume();
          resolve();
        });
        r.on('error', reject);
      });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('cfssl did not start');
}

async function main(): Promise<void> {
  const loadStart = loadavg()[0]!;
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'imprint.db') });
  const keys = new SoftwareKeyStore(store.db, new Uint8Array(32).fill(7), systemClock);
  const audit = new StoreAuditLog(store.dialect, systemClock);
  const registry = new RegistryService(store, audit, systemClock);
  const by = { actor: 'bench' };
  const tenant = await registry.createTenant(by, 'Bench', 'manufacturer');
  const model = await registry.createModel(by, tenant.id, 'sensor-1');
  const pki = new PkiService(
    { store, keys, audit, registry, clock: systemClock, random: systemRandom },
    { urls: { baseUrl: 'http://127.0.0.1:8443' } },
  );
  await pki.initHierarchy(by, tenant.id);
  const runs = CONCURRENCY.length * 2;
  // Warm-up issuances (not measured): JIT, statement cache and the CSR worker's start-up.
  const WARM = quick ? 100 : 300;
  const csrs: string[] = [];
  await store.transaction(async (tx) => {
    for (let i = 0; i < N * runs + 1 + 2 * WARM; i++) {
      await registry.registerDevice(tx, by, {
        manufacturerId: tenant.id,
        modelId: model.id,
        serial: `B${i}`,
      });
    }
  });
  for (let i = 0; i < N * runs + 1 + 2 * WARM; i++) csrs.push(csrFor(`B${i}`));
  let used = 0;
  await drive('warm-up', 16, WARM, async (i) => {
    await pki.issue(by, { tenantId: tenant.id, profile: 'idevid', csr: csrs[i]! });
  });
  used += WARM;
  const results: Result[] = [];

  for (const c of ocspOnly ? [] : CONCURRENCY) {
    const base = used;
    results.push(
      await drive(
        'in-process',
        c,
        N,
        async (i) =>
          void (await pki.issue(by, { tenantId: tenant.id, profile: 'idevid', csr: csrs[base + i]! })),
      ),
    );
    used += N;
  }

  const app = Fastify();
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    request.principal = {
      kind: 'token',
      id: 'tok_bench',
      tenantId: tenant.id,
      role: 'operator',
      actor: 'token:tok_bench',
    };
  });
  await app.register(async (s) => pkiApiRoutes(s, { pki }));
  await app.register(async (s) => pkiPublicRoutes(s, { pki }, { fastPath: false }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as { port: number }).port;
  const man = (await pki.listCas(tenant.id)).find((x) => x.role === 'manufacturer')!;
  const client = fork(new URL(import.meta.url).pathname, ['--client'], { stdio: 'inherit' });
  const issueJob = (from: number, n: number, clients: number): ClientJob => ({
    port,
    path: `/api/v1/cas/${man.id}/issue`,
    contentType: 'application/json',
    bodies: csrs.slice(from, from + n).map((csr) => JSON.stringify({ csr, profile: 'idevid' })),
    clients,
    status: 201,
  });
  if (!ocspOnly) await driveRemote(client, 'warm-up', issueJob(used, WARM, 16));
  used += WARM;
  for (const c of ocspOnly ? [] : CONCURRENCY) {
    results.push(await driveRemote(client, 'HTTP API', issueJob(used, N, c)));
    used += N;
  }

  // cfssl with the same key type (P-256 CA), sign endpoint, no database.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'ca.key'),
      '-subj',
      '/CN=cfssl bench CA',
      '-days',
      '30',
      '-out',
      join(dir, 'ca.pem'),
    ],
    { stdio: 'ignore' },
  );
  writeFileSync(
    join(dir, 'cfssl.json'),
    JSON.stringify({
      signing: { default: { expiry: '8760h', usages: ['digital signature', 'client auth'] } },
    }),
  );
  const cfsslPort = port + 1 + Math.floor(Math.random() * 1000);
  const cfssl = spawn(
    'cfssl',
    [
      'serve',
      '-address',
      '127.0.0.1',
      '-port',
      String(cfsslPort),
      '-ca',
      join(dir, 'ca.pem'),
      '-ca-key',
      join(dir, 'ca.key'),
      '-config',
      join(dir, 'cfssl.json'),
      '-loglevel',
      '5',
    ],
    { stdio: 'ignore' },
  );
  try {
    await waitForPort(cfsslPort);
    for (const c of ocspOnly ? [] : CONCURRENCY) {
      const bodies = Array.from({ length: N }, (_, i) =>
        JSON.stringify({ certificate_request: csrs[i % csrs.length] }),
      );
      results.push(
        await driveRemote(client, 'cfssl serve (sign)', {
          port: cfsslPort,
          path: '/api/v1/cfssl/sign',
          contentType: 'application/json',
          bodies,
          clients: c,
          status: 200,
        }),
      );
    }
  } finally {
    cfssl.kill();
  }

  // OCSP from cache: a request without nonce for an issued certificate.
  const leaf = await pki.issue(by, { tenantId: tenant.id, profile: 'idevid', csr: csrs[used]! });
  writeFileSync(join(dir, 'leaf.pem'), leaf.pem);
  writeFileSync(join(dir, 'man.pem'), toPem('CERTIFICATE', man.certificate));
  execFileSync(
    'openssl',
    [
      'ocsp',
      '-issuer',
      join(dir, 'man.pem'),
      '-cert',
      join(dir, 'leaf.pem'),
      '-no_nonce',
      '-reqout',
      join(dir, 'req.der'),
    ],
    { stdio: 'ignore' },
  );
  const req = new Uint8Array(readFileSync(join(dir, 'req.der')));
  await pki.respondOcsp(req);
  const ocsp: Result[] = [];
  ocsp.push(await drive('OCSP in-process (cache)', 1, OCSP_N, async () => void (await pki.respondOcsp(req))));
  const body = Buffer.from(req).toString('latin1');
  // The served app twice over the same PKI service: with the OCSP fast routes, and with Fastify's routes alone.
  // Plain HTTP (TLS would cost the same on both); the rate limit is out of reach but counted.
  const served = async (fastPath: boolean) => {
    const a = await buildApp({
      store,
      keys,
      audit,
      registry,
      clock: systemClock,
      random: systemRandom,
      tokens: new TokenService(store, audit, systemClock),
      auditService: new AuditService({ store, keys, log: audit, clock: systemClock }),
      logger: createLogger('warn'),
      rateLimitPerMinute: 1_000_000_000,
      features: [(scope) => pkiPublicRoutes(scope, { pki }, { fastPath })],
    });
    await a.listen({ host: '127.0.0.1', port: 0 });
    return { app: a, port: (a.server.address() as { port: number }).port };
  };
  const fastApp = await served(true);
  const slowApp = await served(false);
  const getPath = `/ocsp/${encodeURIComponent(Buffer.from(req).toString('base64'))}`;
  const n = quick ? 5000 : 20_000;
  const ocspJob = (p: number, c: number, method?: 'GET'): ClientJob => ({
    port: p,
    path: method === 'GET' ? getPath : '/ocsp',
    contentType: 'application/ocsp-request',
    bodies: Array.from({ length: n }, () => body),
    clients: c,
    status: 200,
    ...(method === undefined ? {} : { method }),
  });
  // Warm-up (not measured): JIT of both paths.
  await driveRemote(client, 'warm-up', ocspJob(fastApp.port, 8));
  await driveRemote(client, 'warm-up', ocspJob(slowApp.port, 8));
  const handled0 = fastRouterOf(fastApp.app)?.handled ?? 0;
  // Fast and Fastify alternate at each step, so load changes on the shared machine hit both alike.
  for (const method of [undefined, 'GET'] as const) {
    for (const c of [8, 64]) {
      const m = method ?? 'POST';
      ocsp.push(
        await driveRemote(client, `OCSP HTTP ${m} fast route (cache)`, ocspJob(fastApp.port, c, method)),
      );
      ocsp.push(
        await driveRemote(client, `OCSP HTTP ${m} Fastify route (cache)`, ocspJob(slowApp.port, c, method)),
      );
    }
  }
  // The fast rows were really served by the fast routes (and the Fastify rows not).
  if ((fastRouterOf(fastApp.app)?.handled ?? 0) - handled0 !== 4 * n) throw new Error('fast route not used');
  if ((fastRouterOf(slowApp.app)?.handled ?? 0) !== 0)
    throw new Error('Fastify rows went through a fast route');
  client.disconnect();
  await app.close();
  await fastApp.app.close();
  await slowApp.app.close();

  const speed = opensslSpeed();
  const cores = availableParallelism();
  const perCore = 1 / (1 / speed.sign + 1 / speed.verify);
  const limit = perCore * cores;
  const best = Math.max(...results.filter((r) => r.name !== 'cfssl serve (sign)').map((r) => r.perSecond));
  const bestCfssl = Math.max(
    ...results.filter((r) => r.name === 'cfssl serve (sign)').map((r) => r.perSecond),
  );

  const lines: string[] = [];
  lines.push(
    `Load average (1 min) at start ${loadStart.toFixed(1)}, at end ${loadavg()[0]!.toFixed(1)} (other work on the machine competes for the same cores).`,
  );
  lines.push(
    `Machine: ${cores} cores; \`openssl speed -seconds 3 ecdsap256\`: ${speed.sign.toFixed(0)} sign/s, ${speed.verify.toFixed(0)} verify/s per core.`,
  );
  lines.push(
    `Crypto limit (one verify + one sign per certificate, ${cores} cores): ${limit.toFixed(0)} certificates/s.`,
  );
  lines.push('');
  lines.push(
    '| path | clients | certificates | certs/s | p50 ms | p99 ms | % of crypto limit | CPU µs/cert (Imprint process) | of which main thread |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    // cfssl runs in its own process: this process's CPU is only the bench client's there.
    const cpu = r.name.startsWith('cfssl') ? '-' : r.cpuUs.toFixed(0);
    const main = r.name.startsWith('cfssl') ? '-' : r.mainUs.toFixed(0);
    lines.push(
      `| ${r.name} | ${r.clients} | ${r.n} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${((100 * r.perSecond) / limit).toFixed(1)}% | ${cpu} | ${main} |`,
    );
  }
  if (!ocspOnly) lines.push('');
  if (!ocspOnly)
    lines.push(
      `Best Imprint issuance: ${best.toFixed(0)}/s = ${((100 * best) / limit).toFixed(1)}% of the crypto limit (target ≥ 25%); ${(best / bestCfssl).toFixed(2)}× cfssl's best (${bestCfssl.toFixed(0)}/s, which neither persists nor audits).`,
    );
  const bestHttp = Math.max(...results.filter((r) => r.name === 'HTTP API').map((r) => r.perSecond));
  if (!ocspOnly)
    lines.push(
      `Best over HTTP (the like-for-like comparison with cfssl serve): ${bestHttp.toFixed(0)}/s = ${((100 * bestHttp) / limit).toFixed(1)}% of the limit, ${(bestHttp / bestCfssl).toFixed(2)}× cfssl's best.`,
    );
  lines.push('');
  lines.push(
    '| OCSP path | clients | responses | responses/s | p50 ms | p99 ms | CPU µs/response (Imprint process) | of which main thread |',
  );
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of ocsp)
    lines.push(
      `| ${r.name} | ${r.clients} | ${r.n} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.cpuUs.toFixed(1)} | ${r.mainUs.toFixed(1)} |`,
    );
  lines.push('');
  for (const m of ['POST', 'GET'])
    for (const c of [8, 64]) {
      const fast = ocsp.find((r) => r.name === `OCSP HTTP ${m} fast route (cache)` && r.clients === c)!;
      const slow = ocsp.find((r) => r.name === `OCSP HTTP ${m} Fastify route (cache)` && r.clients === c)!;
      lines.push(
        `OCSP ${m}, ${c} clients: fast route ${(fast.perSecond / slow.perSecond).toFixed(2)}× the Fastify route's responses/s, ${(fast.cpuUs / slow.cpuUs).toFixed(2)}× its CPU per response.`,
      );
    }
  process.stdout.write(`${lines.join('\n')}\n`);

  await keys.close();
  await store.close();
}

if (process.argv.includes('--client')) {
  rmSync(dir, { recursive: true, force: true });
  await clientMain();
} else {
  try {
    await main();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
