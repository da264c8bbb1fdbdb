import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { issueFromCsr } from '../../src/pki/issue.ts';
import {
  clientCas,
  createFeatures,
  deviceResolver,
  stationResolver,
  type Features,
} from '../../src/server/features.ts';
import { createTestApp, type TestApp } from './app.ts';

/** The server as `imprint serve` assembles it, listening on 127.0.0.1 over HTTPS. */
export interface HttpsTestApp {
  readonly t: TestApp;
  readonly f: Features;
  /** `https://localhost:<port>` (the server certificate names localhost). */
  readonly base: string;
  /** The TLS root the server certificate chains to (PEM). */
  readonly caPem: string;
}

/**
 * A CA hierarchy for the manufacturer, a server certificate from its TLS CA, every active CA as a
 * client CA, and station and device certificates resolved to principals, as in `imprint serve`.
 */
export async function createHttpsTestApp(): Promise<HttpsTestApp> {
  let f: Features | undefined;
  let caPem = '';
  const t = await createTestApp({
    features: true,
    prepare: async (p, manufacturerId) => {
      f = createFeatures(p);
      await f.pki.initHierarchy({ actor: 'test' }, manufacturerId);
      const tls = await f.pki.issueTlsServerCertificate(
        { actor: 'test' },
        { tenantId: manufacturerId, commonName: 'localhost', dnsNames: ['localhost'] },
      );
      caPem = tls.rootPem;
      return {
        tls: { key: tls.keyPem, cert: tls.certChainPem, ca: await clientCas(p, f) },
        extra: { certificateResolvers: [stationResolver(p), deviceResolver(p)] },
      };
    },
  });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    t,
    f: f!,
    base: `https://localhost:${(t.app.server.address() as AddressInfo).port}`,
    caPem,
  };
}

/**
 * A client certificate from Imprint's TLS CA (profile tls-client) for a key openssl makes:
 * `<dir>/<name>.key` and `<dir>/<name>.pem` (leaf and chain). Returns the certificate id and the PEMs.
 */
export async function issueClientCertificate(
  app: HttpsTestApp,
  dir: string,
  name: string,
  commonName: string,
): Promise<{ id: string; key: Buffer; cert: string }> {
  execFileSync(
    'openssl',
    [
      ...['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`],
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  const issued = await issueFromCsr(
    app.f.pki.ctx,
    { actor: 'test' },
    {
      tenantId: app.t.manufacturer.id,
      profile: 'tls-client',
      csr: readFileSync(join(dir, `${name}.csr`), 'utf8'),
    },
  );
  const cert = issued.pem + issued.chainPem;
  writeFileSync(join(dir, `${name}.pem`), cert);
  return { id: issued.certificate.id, key: readFileSync(join(dir, `${name}.key`)), cert };
}
