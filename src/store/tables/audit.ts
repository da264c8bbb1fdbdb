/** Row types of the audit log. */

export interface AuditEntriesTable {
  /** Position in the log, from 0, contiguous. */
  seq: number;
  time: string;
  actor: string;
  action: string;
  subject: string;
  tenant_id: string | null;
  /** JSON object; never holds secrets. */
  details: string;
  /** RFC 9162 leaf hash of the entry's canonical encoding. */
  leaf_hash: Uint8Array;
}

export interface AuditStateTable {
  /** Always 1: the single row that serialises appends. */
  id: number;
  size: number;
  /** JSON array of hex hashes: the roots of the perfect subtrees on the tree's right edge, largest first. */
  frontier: string;
}

export interface AuditTreeHeadsTable {
  tree_size: number;
  root_hash: Uint8Array;
  timestamp: string;
  key_id: string;
  /** Signature by the audit key over the tree head's canonical encoding. */
  signature: Uint8Array;
}

/** The audit part of the schema. */
export interface AuditSchema {
  audit_entries: AuditEntriesTable;
  audit_state: AuditStateTable;
  audit_tree_heads: AuditTreeHeadsTable;
}
