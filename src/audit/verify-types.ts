/** What `verifyExport` can find wrong, each naming the entry or tree head concerned. */
export const AUDIT_PROBLEM_KINDS = [
  /** The export names another log than the given key's. */
  'origin_mismatch',
  /** The export carries a different public key than the one given. */
  'public_key_mismatch',
  /** A tree head's note is not signed by the audit key (forged or altered). */
  'tree_head_bad_signature',
  /** A tree head is not a well-formed note/checkpoint, or its fields disagree with its note. */
  'tree_head_malformed',
  /** Two validly signed heads of the same size with different roots: the log forked. */
  'tree_heads_inconsistent',
  /** A validly signed head's root does not match the entries (which were altered and rehashed). */
  'tree_head_mismatch',
  /** Entries exist but no tree head signed by the audit key covers them. */
  'no_tree_head',
  /** An entry is not a well-formed export entry. */
  'entry_malformed',
  /** An entry's fields were changed after it was logged. */
  'entry_edited',
  /** An entry's recorded leaf hash was changed (its fields are the logged ones). */
  'leaf_hash_altered',
  /** Entries are missing from the middle of the log. */
  'entry_deleted',
  /** An entry that was never logged was added. */
  'entry_inserted',
  /** Entries are present but in the wrong order. */
  'entries_reordered',
  /** The export ends before the last entry covered by its latest signed tree head. */
  'truncated',
  /** A requested inclusion or consistency proof could not be computed or did not verify. */
  'proof_failed',
] as const;

/** One of AUDIT_PROBLEM_KINDS. */
export type AuditProblemKind = (typeof AUDIT_PROBLEM_KINDS)[number];

/** One problem found in an export. */
export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** A sentence naming what is wrong, e.g. "entry 42 was edited". */
  readonly message: string;
  /** The entry's position in the log (its seq). */
  readonly seq?: number;
  /** Last seq of a run (deleted ranges). */
  readonly toSeq?: number;
  /** The element's index in the export's entries array. */
  readonly index?: number;
  /** The tree head concerned. */
  readonly treeSize?: number;
}

/** A proof computed from the export and checked against signed tree heads. */
export interface InclusionCheck {
  readonly seq: number;
  readonly treeSize: number;
  readonly leafHash: string;
  readonly proof: string[];
  readonly verified: boolean;
}

/** See InclusionCheck. */
export interface ConsistencyCheck {
  readonly fromSize: number;
  readonly toSize: number;
  readonly proof: string[];
  readonly verified: boolean;
}

/** The outcome of verifying an export. `ok` is true exactly when `problems` is empty. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly origin: string;
  readonly entries: number;
  readonly treeHeads: number;
  readonly verifiedTreeHeads: number;
  readonly latestTreeSize: number | null;
  /** Entries after the latest signed head: present, but not yet covered by a signature. */
  readonly unsignedEntries: number;
  readonly problems: AuditProblem[];
  readonly inclusion?: InclusionCheck;
  readonly consistency?: ConsistencyCheck;
}

/** What else to prove while verifying. */
export interface VerifyOptions {
  /** Prove this entry's inclusion in the head of `toSize` (or the latest head). */
  readonly entrySeq?: number;
  /** Prove the head of `toSize` consistent with the head of `fromSize` (both required together). */
  readonly fromSize?: number;
  readonly toSize?: number;
  /**
   * Signed notes of checkpoints obtained elsewhere (an earlier export, a witness): verified like the
   * export's own heads, so an export truncated together with its heads is caught.
   */
  readonly knownCheckpoints?: readonly string[];
}
