import { canonicalJson } from './canonical.ts';
import type { AuditEntry } from './types.ts';

const encoder = new TextEncoder();

/**
 * The bytes that are hashed into the Merkle tree for an entry: its RFC 8785 canonical JSON, i.e.
 * canonicalJson({seq, time, actor, action, subject, tenantId, details}). The top-level members are
 * written in their canonical (sorted) order directly, which keeps batched appends fast.
 * Throws TypeError on values JSON cannot carry.
 */
export function entryBytes(e: AuditEntry): Uint8Array {
  if (!Number.isFinite(e.seq)) throw new TypeError('non-finite seq in canonical JSON');
  return encoder.encode(
    `{"action":${JSON.stringify(e.action)},"actor":${JSON.stringify(e.actor)},"details":${canonicalJson(e.details)},` +
      `"seq":${JSON.stringify(e.seq)},"subject":${JSON.stringify(e.subject)},"tenantId":${JSON.stringify(e.tenantId)},` +
      `"time":${JSON.stringify(e.time)}}`,
  );
}
