import { canonicalJson } from './canonical.ts';
import type { AuditEntry } from './types.ts';

/** The bytes that are hashed into the Merkle tree for an entry: its RFC 8785 canonical JSON. */
export function entryBytes(e: AuditEntry): Uint8Array {
  return new TextEncoder().encode(
    canonicalJson({
      seq: e.seq,
      time: e.time,
      actor: e.actor,
      action: e.action,
      subject: e.subject,
      tenantId: e.tenantId,
      details: e.details,
    }),
  );
}
