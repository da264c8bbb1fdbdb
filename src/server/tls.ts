import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { UnavailableError } from '../core/errors.ts';
import type { Platform } from './platform.ts';

/** Key-store label of the HTTPS server key. */
export const TLS_KEY_LABEL = 'tls:server';

/** Where the server certificate chain (PEM, leaf first) is kept. */
export function serverCertPath(dataDir: string): string {
  return join(dataDir, 'tls', 'server.pem');
}

/**
 * Creates the server key (P-256, software key store) and a self-signed bootstrap certificate for it.
 * Used only by `imprint init` before the PKI has issued the real TLS certificate.
 */
export async function createBootstrapTls(p: Platform, hostnames: readonly string[]): Promise<void> {
  const key =
    (await p.softwareKeys.findByLabel(TLS_KEY_LABEL)) ??
    (await p.softwareKeys.generate(TLS_KEY_LABEL, 'ecdsa-p256'));
  const pem = await p.softwareKeys.tlsPrivateKeyPem(key.id);
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, alg, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', key.publicKeyDer, alg, true, ['verify']);
  der.fill(0);
  const now = p.clock.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(p.random.bytes(16))
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
      name: 'CN=Imprint bootstrap',
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 30 * 86_400_000),
      keys: { privateKey, publicKey },
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hostnames.map((h) => ({
            type: /^[\d.:]+$/.test(h) ? ('ip' as const) : ('dns' as const),
            value: h,
          })),
        ),
      ],
    },
    webcrypto as unknown as Crypto,
  );
  writeServerChain(p.config.dataDir, [cert.toString('pem')]);
}

/** Writes the server certificate chain (leaf first). */
export function writeServerChain(dataDir: string, pems: readonly string[]): void {
  mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
  writeFileSync(serverCertPath(dataDir), `${pems.map((s) => s.trim()).join('\n')}\n`, { mode: 0o644 });
}

/** The HTTPS key and certificate chain for `imprint serve`. Throws ERR_TLS_NOT_CONFIGURED. */
export async function loadServerTls(p: Platform): Promise<{ key: string; cert: string }> {
  const key = await p.softwareKeys.findByLabel(TLS_KEY_LABEL);
  const certFile = serverCertPath(p.config.dataDir);
  if (key === undefined || !existsSync(certFile)) {
    throw new UnavailableError(
      'ERR_TLS_NOT_CONFIGURED',
      'no server TLS key or certificate: run imprint init',
    );
  }
  return { key: await p.softwareKeys.tlsPrivateKeyPem(key.id), cert: readFileSync(certFile, 'utf8') };
}
