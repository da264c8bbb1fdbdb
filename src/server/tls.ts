import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../core/errors.ts';
import type { Platform } from './platform.ts';

/** Key-store label of the HTTPS server key. */
export const TLS_KEY_LABEL = 'tls:server';

/** Where the server certificate chain (PEM, leaf first) is kept. */
export function serverCertPath(dataDir: string): string {
  return join(dataDir, 'tls', 'server.pem');
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
