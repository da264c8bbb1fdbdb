import { ValidationError } from '../../core/errors.ts';

/**
 * Canonical JSON as TUF signs it (OLPC canonical JSON, as securesystemslib and @tufjs/canonical-json
 * produce): sorted keys, no whitespace, integers only, only `"` and `\` escaped. Throws ERR_TUF_NOT_CANONICAL.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value))
      throw new ValidationError('ERR_TUF_NOT_CANONICAL', 'canonical JSON allows integers only');
    return String(value);
  }
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${canonicalJson(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  throw new ValidationError('ERR_TUF_NOT_CANONICAL', `cannot encode a ${typeof value} in canonical JSON`);
}

/** UTF-8 bytes of the canonical form. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}
