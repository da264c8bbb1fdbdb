import { decodeCbor } from './cbor-decode.ts';
import { encodeCbor, type CborValue } from './cbor-encode.ts';

/** A request on the link: method name and CBOR parameters. */
export interface LinkRequest {
  readonly m: string;
  readonly p: Record<string, unknown>;
}

/** A response: a result, or a device-side error code and message. */
export type LinkResponse =
  | { readonly ok: true; readonly r: Record<string, unknown> }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** CBOR of a request. */
export function encodeRequest(r: LinkRequest): Uint8Array {
  return encodeCbor(r as unknown as CborValue);
}

/** CBOR of a response. */
export function encodeResponse(r: LinkResponse): Uint8Array {
  return encodeCbor(r as unknown as CborValue);
}

/** Strictly decodes a request; undefined when malformed. */
export function decodeRequest(b: Uint8Array): LinkRequest | undefined {
  const v = strict(b);
  if (!isRecord(v) || typeof v.m !== 'string' || !isRecord(v.p)) return undefined;
  return { m: v.m, p: v.p };
}

/** Strictly decodes a response; undefined when malformed. */
export function decodeResponse(b: Uint8Array): LinkResponse | undefined {
  const v = strict(b);
  if (!isRecord(v)) return undefined;
  if (v.ok === true && isRecord(v.r)) return { ok: true, r: v.r };
  if (v.ok === false && typeof v.code === 'string' && typeof v.message === 'string') {
    return { ok: false, code: v.code, message: v.message };
  }
  return undefined;
}

/** Most calls one batch request may carry (link v2). */
export const MAX_BATCH = 32;

/** The calls of a batch request's parameters (`{calls: [{m, p}, …]}`, none of them hello or batch); undefined when malformed. */
export function batchCalls(p: Record<string, unknown>): LinkRequest[] | undefined {
  const calls = p.calls;
  if (!Array.isArray(calls) || calls.length === 0 || calls.length > MAX_BATCH) return undefined;
  const out: LinkRequest[] = [];
  for (const c of calls as unknown[]) {
    if (!isRecord(c) || typeof c.m !== 'string' || !isRecord(c.p)) return undefined;
    if (c.m === 'hello' || c.m === 'batch') return undefined;
    out.push({ m: c.m, p: c.p });
  }
  return out;
}

/** True for a plain CBOR map decoded to an object. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Map)
  );
}

function strict(b: Uint8Array): unknown {
  return decodeCbor(b);
}
