import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureAuditKey } from '../audit/heads.ts';
import { createFeatures } from '../server/features.ts';
import type { Platform } from '../server/platform.ts';
import { TLS_KEY_LABEL, writeServerChain } from '../server/tls.ts';

/** File (in the data dir's tls/ folder) holding the root certificate HTTPS clients should trust. */
export const TRUST_ANCHOR_FILE = 'ca.pem';

/**
 * Feature set-up run by `imprint init` after the manufacturer tenant exists: the audit key and first
 * signed tree head, the manufacturer's CA hierarchy (root, IDevID, LDevID, code-signing, TLS CAs), and the
 * server's HTTPS certificate issued by its own TLS CA.
 */
export async function initHooks(
  p: Platform,
  manufacturerId: string,
): Promise<{ summary: Record<string, unknown> }> {
  const by = { actor: 'system:init' };
  const auditKey = await ensureAuditKey(p.keys);
  const features = createFeatures(p);
  const hierarchy = await features.pki.initHierarchy(by, manufacturerId);
  const host = new URL(p.config.publicUrl).hostname;
  const names = [...new Set(['localhost', host, p.config.listen.host])];
  const isIp = (h: string) => /^[\d.]+$|:/.test(h);
  const tls = await features.pki.issueTlsServerCertificate(by, {
    tenantId: manufacturerId,
    commonName: host,
    dnsNames: names.filter((h) => !isIp(h)),
    ipAddresses: names.filter(isIp),
  });
  await p.softwareKeys.importTlsKey(TLS_KEY_LABEL, tls.keyPem);
  writeServerChain(p.config.dataDir, [tls.certChainPem]);
  writeFileSync(join(p.config.dataDir, 'tls', TRUST_ANCHOR_FILE), tls.rootPem, { mode: 0o644 });
  await p.auditService.signTreeHead();
  return {
    summary: {
      auditKeyId: auditKey.id,
      auditOrigin: await p.auditService.origin(),
      cas: hierarchy.cas.map((ca) => `${ca.role}:${ca.id}`),
      trustAnchor: join(p.config.dataDir, 'tls', TRUST_ANCHOR_FILE),
    },
  };
}
