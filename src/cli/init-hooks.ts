import type { Platform } from '../server/platform.ts';

/** Label of the key that signs audit tree heads. */
export const AUDIT_KEY_LABEL = 'imprint-audit';

/**
 * Feature set-up run by `imprint init` after the manufacturer tenant exists: the audit key, and (once
 * wired) the CA hierarchy and the server's TLS certificate from the TLS CA.
 */
export async function initHooks(
  p: Platform,
  _manufacturerId: string,
): Promise<{ tlsIssued: boolean; summary: Record<string, unknown> }> {
  const auditKey =
    (await p.keys.findByLabel(AUDIT_KEY_LABEL)) ?? (await p.keys.generate(AUDIT_KEY_LABEL, 'ed25519'));
  return { tlsIssued: false, summary: { auditKeyId: auditKey.id } };
}
