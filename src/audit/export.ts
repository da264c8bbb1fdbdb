import { toBase64, toHex, toPem } from '../core/encoding.ts';
import { NotFoundError } from '../core/errors.ts';
import type { KeyStore } from '../keys/types.ts';
import type { Executor } from '../store/database.ts';
import { AUDIT_KEY_LABEL, readTreeHeads } from './heads.ts';
import { noteVerifierFor, originForKey } from './note.ts';
import { allEntries } from './reader.ts';

/** The export format identifier and version (docs/audit-format.md). */
export const EXPORT_FORMAT = 'imprint-audit-export';
/** See EXPORT_FORMAT. */
export const EXPORT_VERSION = 1;

/** One entry in an export: the fields that are hashed, plus the leaf hash the log recorded. */
export interface ExportedEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly subject: string;
  readonly tenantId: string | null;
  readonly details: Record<string, unknown>;
  /** Hex RFC 9162 leaf hash as stored by the log. */
  readonly leafHash: string;
}

/** One signed tree head in an export. `note` is authoritative; the other fields are for readers. */
export interface ExportedTreeHead {
  readonly treeSize: number;
  /** Base64, as in the checkpoint. */
  readonly rootHash: string;
  /** When the head was signed; not covered by the signature. */
  readonly timestamp: string;
  /** The C2SP checkpoint as a signed note. */
  readonly note: string;
}

/** The JSON document `imprint audit export` writes and `imprint audit verify` reads. */
export interface AuditExport {
  readonly format: typeof EXPORT_FORMAT;
  readonly version: typeof EXPORT_VERSION;
  readonly origin: string;
  readonly exportedAt: string;
  /** The audit public key, SPKI in PEM. Informational: verifiers use the key they were given. */
  readonly publicKey: string;
  /** The same key as a Go `note` verifier key string. */
  readonly noteVerifierKey: string;
  readonly entries: ExportedEntry[];
  readonly treeHeads: ExportedTreeHead[];
}

/**
 * Writes the whole log and every signed tree head as an export document. Heads are read before entries:
 * entries only grow and every head refers to committed entries, so the export is self-consistent
 * without a snapshot transaction. Throws ERR_AUDIT_KEY_NOT_FOUND.
 */
export async function exportAudit(
  db: Executor,
  keys: KeyStore,
  options: { now?: Date } = {},
): Promise<AuditExport> {
  const key = await keys.findByLabel(AUDIT_KEY_LABEL);
  if (key === undefined)
    throw new NotFoundError('ERR_AUDIT_KEY_NOT_FOUND', 'the audit key has not been created');
  const heads = await readTreeHeads(db, keys);
  const entries = await allEntries(db);
  const origin = originForKey(key.publicKeyDer);
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    origin,
    exportedAt: (options.now ?? new Date()).toISOString(),
    publicKey: toPem('PUBLIC KEY', key.publicKeyDer),
    noteVerifierKey: noteVerifierFor(origin, key.publicKeyDer).verifierKey,
    entries: entries.map((e) => ({
      seq: e.seq,
      time: e.time,
      actor: e.actor,
      action: e.action,
      subject: e.subject,
      tenantId: e.tenantId,
      details: e.details,
      leafHash: toHex(e.leafHash),
    })),
    treeHeads: heads.map((h) => ({
      treeSize: h.treeSize,
      rootHash: toBase64(h.rootHash),
      timestamp: h.timestamp,
      note: h.note,
    })),
  };
}
