import { ValidationError } from '../../core/errors.ts';
import { countValidSignatures } from './keys.ts';
import type { CommonSigned, Envelope, RoleKeys, TufKey, TufSignature } from './types.ts';

function refuse(code: string, message: string, details?: Record<string, unknown>): never {
  throw new ValidationError(code, message, details === undefined ? {} : { details });
}

/** Parses a metadata document and checks its envelope shape and `_type`. Throws ERR_TUF_BAD_METADATA. */
export function parseEnvelope<T extends CommonSigned>(bytes: Uint8Array, type: string): Envelope<T> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return refuse('ERR_TUF_BAD_METADATA', `${type} metadata is not JSON`);
  }
  const e = doc as Partial<Envelope<Partial<CommonSigned>>>;
  const s = e.signed;
  if (
    typeof doc !== 'object' ||
    doc === null ||
    !Array.isArray(e.signatures) ||
    (e.signatures as unknown[]).some(
      (x) =>
        typeof (x as Partial<TufSignature> | null)?.keyid !== 'string' ||
        typeof (x as Partial<TufSignature>).sig !== 'string',
    ) ||
    typeof s !== 'object' ||
    s === null ||
    s._type !== type ||
    !Number.isSafeInteger(s.version) ||
    (s.version ?? 0) < 1 ||
    typeof s.expires !== 'string' ||
    Number.isNaN(Date.parse(s.expires))
  ) {
    refuse('ERR_TUF_BAD_METADATA', `malformed ${type} metadata`);
  }
  return doc as Envelope<T>;
}

/**
 * Requires `threshold` distinct authorised keys to have signed. Throws ERR_TUF_UNAUTHORISED_KEY when
 * the shortfall comes with signatures by keys not (or no longer) in the role, else ERR_TUF_THRESHOLD_NOT_MET.
 */
export function requireThreshold(
  role: string,
  env: Envelope<unknown>,
  keys: Readonly<Record<string, TufKey>>,
  roleKeys: RoleKeys,
): void {
  const { valid, unauthorised } = countValidSignatures(env.signed, env.signatures, keys, roleKeys);
  if (valid >= roleKeys.threshold) return;
  const details = { role, valid, threshold: roleKeys.threshold };
  if (unauthorised > 0) {
    refuse(
      'ERR_TUF_UNAUTHORISED_KEY',
      `${role} metadata is signed by a key that is not (or no longer) trusted for it`,
      details,
    );
  }
  refuse(
    'ERR_TUF_THRESHOLD_NOT_MET',
    `${role} metadata has ${valid} valid signature(s); ${roleKeys.threshold} required`,
    details,
  );
}

/** Refuses expired metadata (freeze attack). Throws ERR_TUF_EXPIRED. */
export function requireFresh(role: string, signed: CommonSigned, now: Date): void {
  if (Date.parse(signed.expires) <= now.getTime()) {
    refuse('ERR_TUF_EXPIRED', `${role} metadata expired at ${signed.expires}`, {
      role,
      expires: signed.expires,
    });
  }
}

/** Refuses a version lower than the trusted one (rollback attack). Throws ERR_TUF_ROLLBACK. */
export function requireNoRollback(role: string, next: number, trusted: number | undefined): void {
  if (trusted !== undefined && next < trusted) {
    refuse('ERR_TUF_ROLLBACK', `${role} version ${next} is older than the trusted ${trusted}`, {
      role,
      version: next,
      trusted,
    });
  }
}

/** Refuses metadata whose version is not the one its parent named (mix-and-match). Throws ERR_TUF_MIX_AND_MATCH. */
export function requireVersion(role: string, actual: number, expected: number): void {
  if (actual !== expected) {
    refuse('ERR_TUF_MIX_AND_MATCH', `${role} is version ${actual} but the snapshot names ${expected}`, {
      role,
      actual,
      expected,
    });
  }
}

/** TUF path pattern match (`*` matches within one path segment). */
export function pathMatches(pattern: string, path: string): boolean {
  const p = pattern.split('/');
  const t = path.split('/');
  if (p.length !== t.length) return false;
  return p.every((seg, i) =>
    new RegExp(`^${seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(t[i] ?? ''),
  );
}
