import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { concatBytes, fromBase64, toBase64, toHex } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';

/**
 * C2SP signed notes (c2sp.org/signed-note) carrying C2SP checkpoints (c2sp.org/tlog-checkpoint).
 * Signature types: 0x01 Ed25519 over the note text; 0x02 ECDSA as implemented by
 * github.com/transparency-dev/witness: ASN.1 DER signature over SHA-256(note text), key ID =
 * SHA-256(DER SPKI)[:4].
 */

/** Signature type identifiers assigned by the signed-note spec that we produce and verify. */
export const NOTE_SIG_ED25519 = 0x01;
/** See NOTE_SIG_ED25519. */
export const NOTE_SIG_ECDSA = 0x02;

/** One parsed signature line. */
export interface NoteSignature {
  readonly name: string;
  /** uint32 key ID, big-endian on the wire. */
  readonly keyId: number;
  readonly signature: Uint8Array;
}

/** A parsed signed note: the signed text (ending in a newline) and its signature lines. */
export interface ParsedNote {
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/** What a verifier needs to know about the one key it trusts. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly type: typeof NOTE_SIG_ED25519 | typeof NOTE_SIG_ECDSA;
  verify(text: Uint8Array, signature: Uint8Array): boolean;
  /** The `<name>+<hex key ID>+<base64(type ‖ key)>` verifier key string used by the Go tooling. */
  readonly verifierKey: string;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_SIGNATURES = 16;

/** The note key name (and checkpoint origin) of an audit key: a schema-less URL naming its SPKI. */
export function originForKey(spkiDer: Uint8Array): string {
  return `imprint.audit/${toHex(createHash('sha256').update(spkiDer).digest()).slice(0, 16)}`;
}

/** A verifier for `name` and the public key in `spkiDer`. Throws ERR_AUDIT_KEY_ALGORITHM. */
export function noteVerifierFor(name: string, spkiDer: Uint8Array): NoteVerifier {
  const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  const type = noteSignatureType(key);
  if (type === NOTE_SIG_ED25519) {
    const raw = ed25519Raw(spkiDer);
    const keyId = keyIdOf(concatBytes(new TextEncoder().encode(`${name}\n`), Uint8Array.of(type), raw));
    return {
      name,
      keyId,
      type,
      verify: (text, sig) => sig.length === 64 && nodeVerify(null, text, key, sig),
      verifierKey: `${name}+${keyId.toString(16).padStart(8, '0')}+${toBase64(concatBytes(Uint8Array.of(type), raw))}`,
    };
  }
  const keyId = keyIdOf(spkiDer);
  return {
    name,
    keyId,
    type,
    verify: (text, sig) => {
      try {
        return nodeVerify('sha256', text, { key, dsaEncoding: 'der' }, sig);
      } catch {
        return false;
      }
    },
    verifierKey: `${name}+${keyId.toString(16).padStart(8, '0')}+${toBase64(concatBytes(Uint8Array.of(type), spkiDer))}`,
  };
}

/** The signed-note type for a public key: Ed25519, or ECDSA on P-256/P-384. Throws ERR_AUDIT_KEY_ALGORITHM. */
export function noteSignatureType(key: KeyObject): typeof NOTE_SIG_ED25519 | typeof NOTE_SIG_ECDSA {
  if (key.asymmetricKeyType === 'ed25519') return NOTE_SIG_ED25519;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && (curve === 'prime256v1' || curve === 'secp384r1'))
    return NOTE_SIG_ECDSA;
  throw new ValidationError(
    'ERR_AUDIT_KEY_ALGORITHM',
    'the audit key must be Ed25519 or ECDSA P-256/P-384 to sign C2SP notes',
  );
}

function ed25519Raw(spkiDer: Uint8Array): Uint8Array {
  const prefix = spkiDer.subarray(0, ED25519_SPKI_PREFIX.length);
  if (spkiDer.length !== 44 || !ED25519_SPKI_PREFIX.equals(prefix)) {
    throw new ValidationError('ERR_AUDIT_KEY_ALGORITHM', 'malformed Ed25519 public key');
  }
  return spkiDer.subarray(12);
}

function keyIdOf(input: Uint8Array): number {
  return createHash('sha256').update(input).digest().readUInt32BE(0);
}

/** The checkpoint body `<origin>\n<size>\n<base64 root>\n` (no extension lines). */
export function checkpointText(origin: string, size: number, root: Uint8Array): string {
  return `${origin}\n${size}\n${toBase64(root)}\n`;
}

/** A complete signed note: text, blank line, one signature line. */
export function formatNote(text: string, name: string, keyId: number, signature: Uint8Array): string {
  const id = Buffer.alloc(4);
  id.writeUInt32BE(keyId);
  return `${text}\n— ${name} ${toBase64(concatBytes(id, signature))}\n`;
}

/** Parses a signed note; undefined when it is not well formed per the spec. */
export function parseNote(note: string): ParsedNote | undefined {
  // Any ASCII control character other than newline is forbidden in the whole note.
  if (hasControlCharacter(note) || !note.endsWith('\n')) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  if (lines.length === 0 || lines.length > MAX_SIGNATURES) return undefined;
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const m = /^— ([^\s+]+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (m === null) return undefined;
    let blob: Uint8Array;
    try {
      blob = fromBase64(m[2] as string);
    } catch {
      return undefined;
    }
    if (blob.length < 5) return undefined;
    signatures.push({
      name: m[1] as string,
      keyId: Buffer.from(blob.subarray(0, 4)).readUInt32BE(0),
      signature: blob.subarray(4),
    });
  }
  return { text, signatures };
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

/**
 * Verifies a note per the spec: signatures from other keys are ignored; the note is accepted only when
 * a signature by the trusted key (name and key ID) is present and every such signature verifies.
 */
export function verifyNote(note: ParsedNote, verifier: NoteVerifier): boolean {
  const text = new TextEncoder().encode(note.text);
  const mine = note.signatures.filter((s) => s.name === verifier.name && s.keyId === verifier.keyId);
  return mine.length > 0 && mine.every((s) => verifier.verify(text, s.signature));
}

/** A parsed checkpoint body. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

/** Parses a checkpoint note text; undefined when malformed. Extension lines are refused (we never write any). */
export function parseCheckpoint(text: string): Checkpoint | undefined {
  const lines = text.split('\n');
  if (lines.length !== 4 || lines[3] !== '') return undefined;
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0 || !/^(0|[1-9][0-9]*)$/.test(sizeText)) return undefined;
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return undefined;
  let root: Uint8Array;
  try {
    root = fromBase64(rootText);
  } catch {
    return undefined;
  }
  if (root.length !== 32 || toBase64(root) !== rootText) return undefined;
  return { origin, size, root };
}
