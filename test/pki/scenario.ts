import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { toPem } from '../../src/core/encoding.ts';
import { pkiPublicRoutes } from '../../src/pki/routes-public.ts';
import { fastRouterOf } from '../../src/server/fast-routes.ts';
import type { CaRecord } from '../../src/pki/types.ts';
import {
  makeCsr,
  openssl,
  opensslAsync,
  opensslSelfSignedCa,
  opensslTry,
  write,
  type CsrKey,
  type PkiFixture,
} from './helpers.ts';

/** A live public PKI server on 127.0.0.1 for openssl to talk to. */
export async function startPublic(f: PkiFixture): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  await app.register(async (scope) => pkiPublicRoutes(scope, { pki: f.pki }));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: address };
}

/** Writes every CA certificate as PEM; returns paths by role plus a root+issuing bundle per role. */
export async function writeCas(
  f: PkiFixture,
): Promise<{ cas: CaRecord[]; pem: Record<string, string>; bundle: Record<string, string> }> {
  const cas = await f.pki.listCas(f.tenantId);
  const pem: Record<string, string> = {};
  const bundle: Record<string, string> = {};
  const root = cas.find((c) => c.role === 'root')!;
  for (const ca of cas) {
    pem[ca.role] = write(f.dir, `${ca.role}.pem`, toPem('CERTIFICATE', ca.certificate));
    bundle[ca.role] = write(
      f.dir,
      `${ca.role}-bundle.pem`,
      toPem('CERTIFICATE', root.certificate) + toPem('CERTIFICATE', ca.certificate),
    );
  }
  return { cas, pem, bundle };
}

/** Checks CA certificates: constraints, key usage, chain to the root. */
export function judgeCas(pem: Record<string, string>, roles: readonly string[]): void {
  const root = openssl(['x509', '-in', pem.root!, '-noout', '-text']);
  assert.match(root, /CA:TRUE, pathlen:1/);
  assert.match(root, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  for (const role of roles) {
    const text = openssl(['x509', '-in', pem[role]!, '-noout', '-text']);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/, role);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/, role);
    assert.match(openssl(['verify', '-CAfile', pem.root!, pem[role]!]), /: OK/, role);
  }
}

/** Issues a certificate of a profile from a fresh openssl CSR and returns its path. */
export async function issueWithOpenssl(
  f: PkiFixture,
  name: string,
  profile: string,
  subject: string,
  opts: { key?: CsrKey; addext?: string[]; hwType?: string; noExpiry?: boolean } = {},
): Promise<{ path: string; serialHex: string; id: string }> {
  const csr = makeCsr(f.dir, name, subject, opts.key ?? 'p256', opts.addext ?? []);
  const out = await f.pki.issue(f.by, {
    tenantId: f.tenantId,
    profile,
    csr: csr.csrPem,
    ...(opts.hwType === undefined ? {} : { hwType: opts.hwType }),
    ...(opts.noExpiry === undefined ? {} : { noExpiry: opts.noExpiry }),
  });
  return {
    path: write(f.dir, `${name}.pem`, out.pem),
    serialHex: out.certificate.serialHex,
    id: out.certificate.id,
  };
}

/** Fetches a CA's CRL over HTTP into a PEM file. */
export async function fetchCrl(f: PkiFixture, url: string, caId: string, name: string): Promise<string> {
  const res = await fetch(`${url}/crl/${caId}.crl`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
  const der = new Uint8Array(await res.arrayBuffer());
  return write(f.dir, name, toPem('X509 CRL', der));
}

/** `openssl ocsp` against the live responder; returns its combined output. */
export async function ocspQuery(
  url: string,
  issuer: string,
  caBundle: string,
  target: { cert: string } | { serial: string },
  extra: string[] = [],
): Promise<string> {
  const args = [
    'ocsp',
    '-issuer',
    issuer,
    '-url',
    `${url}/ocsp`,
    '-CAfile',
    caBundle,
    '-resp_text',
    ...extra,
  ];
  if ('cert' in target) args.push('-cert', target.cert);
  else args.push('-serial', target.serial);
  return (await opensslAsync(args)).out;
}

/** The full OpenSSL judgement for one key-store backend: profiles, CRL, OCSP good → revoked, unknown. */
export async function judgeEverything(f: PkiFixture): Promise<void> {
  const { cas, pem, bundle } = await writeCas(f);
  judgeCas(pem, ['manufacturer', 'operational', 'code-signing', 'tls']);
  const server = await startPublic(f);
  try {
    const idevid = await issueWithOpenssl(f, 'idevid', 'idevid', '/serialNumber=SN0001/CN=SN0001', {
      hwType: '1.3.6.1.4.1.59999.1',
      noExpiry: true,
    });
    const ldevid = await issueWithOpenssl(f, 'ldevid', 'ldevid', '/serialNumber=SN0002', { key: 'p384' });
    const code = await issueWithOpenssl(f, 'code', 'code-signing', '/CN=Firmware Signer', { key: 'ed25519' });
    const server1 = await issueWithOpenssl(f, 'tls-server', 'tls-server', '/CN=imprint.local', {
      key: 'rsa3072',
      addext: ['subjectAltName=DNS:imprint.local,IP:127.0.0.1'],
    });
    const client = await issueWithOpenssl(f, 'tls-client', 'tls-client', '/CN=operator-1');
    const ocspSigner = await issueWithOpenssl(f, 'ocsp', 'ocsp-signer', '/CN=Extra OCSP Responder');
    const checks: [string, string, string][] = [
      [idevid.path, 'manufacturer', 'sslclient'],
      [ldevid.path, 'operational', 'sslclient'],
      [code.path, 'code-signing', 'any'],
      [server1.path, 'tls', 'sslserver'],
      [client.path, 'tls', 'sslclient'],
      [ocspSigner.path, 'manufacturer', 'ocsphelper'],
    ];
    for (const [leaf, role, purpose] of checks) {
      const r = opensslTry([
        'verify',
        '-CAfile',
        pem.root!,
        '-untrusted',
        pem[role]!,
        '-purpose',
        purpose,
        leaf,
      ]);
      assert.equal(r.code, 0, `${leaf}: ${r.out}`);
    }
    const idText = openssl(['x509', '-in', idevid.path, '-noout', '-text']);
    assert.match(idText, /Subject: O = Acme, OU = sensor-1, CN = SN0001, serialNumber = SN0001/);
    assert.match(idText, /Not After : Dec 31 23:59:59 9999 GMT/);
    assert.match(idText, /othername: (1\.3\.6\.1\.5\.5\.7\.8\.4|.*[Hh]ardware)/);
    assert.match(idText, /Key Usage: critical\s+Digital Signature/);
    assert.match(idText, /CA:FALSE/);
    assert.match(idText, /URI:http:\/\/127\.0\.0\.1:8443\/crl\/ca_\w+\.crl/);
    assert.match(idText, /OCSP - URI:http:\/\/127\.0\.0\.1:8443\/ocsp/);
    assert.match(idText, /CA Issuers - URI:http:\/\/127\.0\.0\.1:8443\/ca\/ca_\w+\.crt/);
    assert.match(openssl(['asn1parse', '-in', idevid.path]), /GENERALIZEDTIME\s+:99991231235959Z/);
    // 128-bit random serial: 16 octets (17 with the sign pad).
    assert.ok(idevid.serialHex.length >= 31 && idevid.serialHex.length <= 32, idevid.serialHex);
    assert.match(
      openssl(['x509', '-in', server1.path, '-noout', '-text']),
      /DNS:imprint\.local, IP Address:127\.0\.0\.1/,
    );
    assert.match(openssl(['x509', '-in', server1.path, '-noout', '-text']), /TLS Web Server Authentication/);
    assert.match(openssl(['x509', '-in', code.path, '-noout', '-text']), /Code Signing/);
    const ocspText = openssl(['x509', '-in', ocspSigner.path, '-noout', '-text']);
    assert.match(ocspText, /OCSP Signing/);
    assert.match(ocspText, /OCSP No Check/);

    // OCSP: good (nonce echoed, response verified with the delegated responder certificate).
    const man = cas.find((c) => c.role === 'manufacturer')!;
    let out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: idevid.path });
    assert.match(out, /Response verify OK/, out);
    assert.match(out, /idevid\.pem: good/, out);
    assert.match(out, /OCSP Nonce/, out);
    assert.doesNotMatch(out, /WARNING/, out);
    out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: idevid.path }, [
      '-no_nonce',
    ]);
    assert.match(out, /idevid\.pem: good/, out);

    // CRL before, then revoke: CRL and OCSP both say revoked.
    const crl1 = await fetchCrl(f, server.url, man.id, 'man-1.crl');
    assert.equal(
      opensslTry([
        'verify',
        '-crl_check',
        '-CAfile',
        pem.root!,
        '-untrusted',
        pem.manufacturer!,
        '-CRLfile',
        crl1,
        idevid.path,
      ]).code,
      0,
    );
    await f.pki.revoke(f.by, { tenantId: f.tenantId, serial: idevid.serialHex, reason: 'keyCompromise' });
    out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: idevid.path }, [
      '-no_nonce',
    ]);
    assert.match(out, /idevid\.pem: revoked/, out);
    assert.match(out, /Reason: keyCompromise/, out);
    const crl2 = await fetchCrl(f, server.url, man.id, 'man-2.crl');
    const crlText = openssl(['crl', '-in', crl2, '-noout', '-text']);
    assert.match(crlText, /X509v3 CRL Number:\s+2/);
    assert.match(crlText, /Authority Key Identifier/);
    assert.match(crlText, /Next Update: /);
    assert.match(
      crlText,
      new RegExp(
        `Serial Number: ${idevid.serialHex.padStart(idevid.serialHex.length + (idevid.serialHex.length % 2), '0').toUpperCase()}`,
      ),
    );
    assert.match(crlText, /Key Compromise/);
    assert.match(
      opensslTry(['crl', '-in', crl2, '-noout', '-CAfile', bundle.manufacturer!]).out,
      /verify OK/i,
    );
    const revoked = opensslTry([
      'verify',
      '-crl_check',
      '-CAfile',
      pem.root!,
      '-untrusted',
      pem.manufacturer!,
      '-CRLfile',
      crl2,
      idevid.path,
    ]);
    assert.notEqual(revoked.code, 0);
    assert.match(revoked.out, /certificate revoked/);
    // Every issuing CA publishes a CRL openssl accepts.
    for (const ca of cas.filter((c) => c.role !== 'root')) {
      const p = await fetchCrl(f, server.url, ca.id, `${ca.role}.crl`);
      assert.match(opensslTry(['crl', '-in', p, '-noout', '-CAfile', bundle[ca.role]!]).out, /verify OK/i);
    }
    const ok = opensslTry([
      'verify',
      '-crl_check',
      '-CAfile',
      pem.root!,
      '-untrusted',
      pem.tls!,
      '-CRLfile',
      write(f.dir, 'tls.crl.pem', readFileSync(`${f.dir}/tls.crl`)),
      server1.path,
    ]);
    assert.equal(ok.code, 0, ok.out);

    // Unknown serial from our issuer; another issuer is unauthorized.
    out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, {
      serial: '0x0123456789abcdef',
    });
    assert.match(out, /0x0123456789abcdef: unknown/, out);
    out = await ocspQuery(server.url, pem.tls!, bundle.tls!, { cert: client.path });
    assert.match(out, /tls-client\.pem: good/, out);
    const foreignKey = `${f.dir}/foreign.key`;
    opensslSelfSignedCa(foreignKey, `${f.dir}/foreign.pem`, '/CN=Foreign CA', 2);
    out = await ocspQuery(server.url, `${f.dir}/foreign.pem`, bundle.manufacturer!, { serial: '0x01' });
    assert.match(out, /unauthorized \(6\)/, out);
    // Every one of the six `openssl ocsp` POSTs above was answered by the fast route (fast-ocsp.ts).
    assert.equal(fastRouterOf(server.app)?.handled, 6);
  } finally {
    await server.app.close();
  }
}
