import { ensureAuditKey } from '../audit/heads.ts';
import type { Platform } from '../server/platform.ts';

/**
 * Feature set-up run by `imprint init` after the manufacturer tenant exists: the audit key and the first
 * signed tree head, and (once wired) the CA hierarchy and the server's TLS certificate from the TLS CA.
 */
export async function initHooks(
  p: Platform,
  _manufacturerId: string,
): Promise<{ tlsIssued: boolean; summary: Record<string, unknown> }> {
  const auditKey = await ensureAuditKey(p.keys);
  await p.auditService.signTreeHead();
  return {
    tlsIssued: false,
    summary: { auditKeyId: auditKey.id, auditOrigin: await p.auditService.origin() },
  };
}
