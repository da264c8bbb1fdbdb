/**
 * get-bootstrapping-data over mutual TLS for 10,000 registered devices with signed conveyed information
 * (owner signature, owner certificate, voucher), keep-alive and fresh TLS handshakes measured separately,
 * against a bare Node HTTPS server returning the same bytes (the framework-free limit).
 * Run: `npx tsx bench/sztp.ts [--quick] [--append]` (--append adds the table to docs/benchmarks.md).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import Fastify from 'fastify';
import { appendFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { toPem } from '../src/core/encoding.ts';
import { SztpAdminService } from '../src/sztp/admin-service.ts';
import { SztpBootstrapService } from '../src/sztp/bootstrap-service.ts';
import { sztpRoutes } from '../src/sztp/routes.ts';
import { createTestCore, seedManufacturer } from '../test/helpers/core.ts';
import { certForSpki, makeCert, pem, serverCert } from '../test/sztp/pki-helpers.ts';
import { onboardingDoc } from '../test/sztp/world.ts';

const quick = process.argv.includes('--quick');
const DEVICES = quick ? 500 : 10_000;
const KEEPALIVE_REQUESTS = quick ? 1000 : 5000;
const FRESH_REQUESTS = quick ? 300 : 1500;
const CONCURRENCY = 32;
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
const tlsOptions = {
  key: tls.key.export({ type: 'pkcs8', format: 'pem' }),
  cert: pem(tls),
  requestCert: true,
  rejectUnauthorized: false,
};
const app = Fastify({ https: tlsOptions, logger: false });
app.decorateRequest('principal', undefined);
await app.register(async (scope) => sztpRoutes(scope, { bootstrap, admin }));
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

async function load(port: number, total: number, keepAlive: boolean): Promise<{ rps: number; p99: number }> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      // Keep-alive: one connection per worker, i.e. one device per connection; fresh: every request a new device and handshake.
      const agent = new Agent({ keepAlive, maxSockets: 1 });
      const device = w;
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await fetchOnce(port, keepAlive ? device : i % DEVICES, agent);
        lat.push(performance.now() - t);
      }
      agent.destroy();
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { rps: total / secs, p99: lat[Math.floor(lat.length * 0.99)] ?? 0 };
}

const rows: string[] = [];
for (const [mode, keepAlive, n] of [
  ['keep-alive', true, KEEPALIVE_REQUESTS],
  ['fresh TLS handshake', false, FRESH_REQUESTS],
] as const) {
  await load(imprintPort, Math.min(200, n), keepAlive); // warm up
  const mine = await load(imprintPort, n, keepAlive);
  const limit = await load(barePort, n, keepAlive);
  rows.push(
    `| ${mode} | ${n} | ${mine.rps.toFixed(0)} | ${mine.p99.toFixed(1)} | ${limit.rps.toFixed(0)} | ${limit.p99.toFixed(1)} | ${((mine.rps / limit.rps) * 100).toFixed(0)}% |`,
  );
}
await app.close();
await new Promise((r) => bare.close(r));
await core.close();

const table = [
  '',
  '## SZTP (bench/sztp.ts)',
  '',
  `get-bootstrapping-data over mutual TLS (ECDSA P-256 IDevIDs), ${DEVICES} registered and bound devices, signed conveyed`,
  'information + owner certificate + voucher in every answer, each request logged and audited (SQLite, software key store),',
  `${CONCURRENCY} concurrent clients in the same process, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}.`,
  'The limit is a bare Node HTTPS server with the same TLS settings returning the same bytes.',
  '',
  '| mode | requests | Imprint req/s | Imprint p99 ms | bare req/s | bare p99 ms | Imprint / bare |',
  '|---|---|---|---|---|---|---|',
  ...rows,
  '',
].join('\n');
console.log(table);
if (process.argv.includes('--append')) appendFileSync('docs/benchmarks.md', table);
