import type { Clock } from '../core/clock.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import type { KeyAlgorithm, KeyInfo, KeyStore } from '../keys/types.ts';
import type { Store } from '../store/database.ts';
import { ensureAuditKey, findTreeHead, readTreeHeads, signTreeHead, type TreeHead } from './heads.ts';
import type { StoreAuditLog } from './log.ts';
import { originForKey } from './note.ts';
import { consistencyProof, inclusionProof } from './proof.ts';
import { readEntries, readLeaves, tailEntries, type EntryQuery, type StoredAuditEntry } from './reader.ts';

/** An inclusion proof of one entry in a signed tree head. */
export interface InclusionProofResult {
  readonly seq: number;
  readonly leafHash: Uint8Array;
  readonly head: TreeHead;
  readonly proof: Uint8Array[];
}

/** A consistency proof between two signed tree heads. */
export interface ConsistencyProofResult {
  readonly from: TreeHead;
  readonly to: TreeHead;
  readonly proof: Uint8Array[];
}

/** Everything the platform does with the audit log beyond appending: tree heads, reading, proofs. */
export class AuditService {
  readonly #store: Store;
  readonly #keys: KeyStore;
  readonly #clock: Clock;
  readonly #algorithm: KeyAlgorithm;
  #key: KeyInfo | undefined;
  /** The append side, handed to feature services. */
  readonly log: StoreAuditLog;

  constructor(deps: {
    store: Store;
    keys: KeyStore;
    log: StoreAuditLog;
    clock: Clock;
    algorithm?: KeyAlgorithm;
  }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.log = deps.log;
    this.#algorithm = deps.algorithm ?? 'ed25519';
  }

  /** The audit key (created on first use with the configured algorithm). Throws ERR_AUDIT_KEY_ALGORITHM. */
  async key(): Promise<KeyInfo> {
    this.#key ??= await ensureAuditKey(this.#keys, this.#algorithm);
    return this.#key;
  }

  /** The checkpoint origin (and note key name) of this log. */
  async origin(): Promise<string> {
    return originForKey((await this.key()).publicKeyDer);
  }

  /**
   * Signs a tree head for the current size if the log has grown since the last one; returns it, or
   * undefined when there was nothing new. Throws ERR_AUDIT_KEY_ALGORITHM, ERR_KEY_SIGN_FAILED.
   */
  async signTreeHead(): Promise<TreeHead | undefined> {
    return signTreeHead(this.#store.db, this.#keys, await this.key(), this.#clock.now());
  }

  /** Every signed tree head, smallest first. */
  async treeHeads(): Promise<TreeHead[]> {
    return readTreeHeads(this.#store.db, this.#keys);
  }

  /** The head of `treeSize`, or the latest. Throws ERR_AUDIT_TREE_HEAD_NOT_FOUND. */
  async treeHead(treeSize?: number): Promise<TreeHead> {
    return findTreeHead(this.#store.db, this.#keys, treeSize);
  }

  /** The last `n` entries, oldest first. Throws ERR_AUDIT_QUERY_INVALID. */
  async tail(n: number): Promise<StoredAuditEntry[]> {
    return tailEntries(this.#store.db, n);
  }

  /** Entries after a position, optionally by subject or tenant. Throws ERR_AUDIT_QUERY_INVALID. */
  async entries(query: EntryQuery = {}): Promise<StoredAuditEntry[]> {
    return readEntries(this.#store.db, query);
  }

  /**
   * Proof that entry `seq` is in the signed head of `treeSize` (default: the latest head).
   * Throws ERR_AUDIT_TREE_HEAD_NOT_FOUND, ERR_AUDIT_ENTRY_NOT_FOUND, ERR_AUDIT_STATE_CORRUPT.
   */
  async inclusionProof(seq: number, treeSize?: number): Promise<InclusionProofResult> {
    const head = await this.treeHead(treeSize);
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= head.treeSize) {
      throw new NotFoundError(
        'ERR_AUDIT_ENTRY_NOT_FOUND',
        `entry ${seq} is not in the tree of size ${head.treeSize}`,
      );
    }
    const leaves = await readLeaves(this.#store.db, head.treeSize);
    return {
      seq,
      leafHash: leaves[seq] as Uint8Array,
      head,
      proof: inclusionProof(leaves, seq, head.treeSize),
    };
  }

  /**
   * Proof that the signed head of `toSize` extends the one of `fromSize`.
   * Throws ERR_AUDIT_PROOF_RANGE, ERR_AUDIT_TREE_HEAD_NOT_FOUND, ERR_AUDIT_STATE_CORRUPT.
   */
  async consistencyProof(fromSize: number, toSize: number): Promise<ConsistencyProofResult> {
    if (!(fromSize <= toSize)) {
      throw new ValidationError('ERR_AUDIT_PROOF_RANGE', 'the first tree size must not exceed the second');
    }
    const from = await this.treeHead(fromSize);
    const to = await this.treeHead(toSize);
    const leaves = await readLeaves(this.#store.db, toSize);
    return { from, to, proof: consistencyProof(leaves, fromSize, toSize) };
  }
}
