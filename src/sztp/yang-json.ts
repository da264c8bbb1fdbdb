/** Helpers for reading RFC 7951 (YANG JSON) documents strictly: module-qualified names, base64 binaries. */
import { fromBase64, toBase64 } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';

/** A plain JSON object. */
export type JsonObject = Record<string, unknown>;

/** Builds the ValidationError used for every malformed YANG document (code chosen by the caller). */
export function invalid(code: string, message: string): ValidationError {
  return new ValidationError(code, message);
}

/** True when `v` is a non-array object. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The members of `obj` with their own-module prefix removed (RFC 7951 §4 allows a qualified name even where
 * the module does not change). Any name outside `allowed` or in another module fails with `code`.
 */
export function members(
  obj: unknown,
  module: string,
  allowed: readonly string[],
  code: string,
  where: string,
): JsonObject {
  if (!isObject(obj)) throw invalid(code, `${where} must be an object`);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) {
    const name = k.startsWith(`${module}:`) ? k.slice(module.length + 1) : k;
    if (!allowed.includes(name)) throw invalid(code, `${where}: unexpected member "${k}"`);
    if (name in out) throw invalid(code, `${where}: "${name}" appears twice`);
    out[name] = v;
  }
  return out;
}

/** A required or optional string leaf. */
export function str(
  o: JsonObject,
  name: string,
  code: string,
  where: string,
  required = false,
): string | undefined {
  const v = o[name];
  if (v === undefined) {
    if (required) throw invalid(code, `${where}: "${name}" is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw invalid(code, `${where}: "${name}" must be a string`);
  return v;
}

/** A binary leaf (RFC 7951 §6.6: base64). */
export function bin(
  o: JsonObject,
  name: string,
  code: string,
  where: string,
  required = false,
): Uint8Array | undefined {
  const s = str(o, name, code, where, required);
  return s === undefined ? undefined : b64(s, code, `${where}/${name}`);
}

/** Strict base64 decode mapped to `code`. */
export function b64(s: string, code: string, where: string): Uint8Array {
  try {
    return fromBase64(s);
  } catch {
    throw invalid(code, `${where} is not base64`);
  }
}

/** base64 of bytes (re-exported for the writers). */
export const enc64 = toBase64;

/** Parses `yang:hex-string` ("ba:ec:…") into bytes. */
export function hexString(s: string, code: string, where: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*)?$/.test(s))
    throw invalid(code, `${where} is not a yang:hex-string`);
  return new Uint8Array(s === '' ? [] : s.split(':').map((h) => parseInt(h, 16)));
}

/** Formats bytes as `yang:hex-string`. */
export function toHexString(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Resolves an identityref value (`module:name` or bare `name`) against the expected module. */
export function identity(v: string, modules: readonly string[], code: string, where: string): string {
  const c = v.indexOf(':');
  if (c < 0) return v;
  if (!modules.includes(v.slice(0, c)))
    throw invalid(code, `${where}: identity ${v} from an unexpected module`);
  return v.slice(c + 1);
}

/** Parses JSON text, mapping syntax errors to `code`. */
export function parseJsonText(text: string, code: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid(code, 'body is not valid JSON');
  }
}
