/**
 * The two RFC 8572 RESTCONF operations (get-bootstrapping-data, report-progress) from request headers and
 * body text to status, media type and body: encoding negotiation, device authentication, input parsing,
 * the bootstrap service and RFC 8040 errors. Both the Fastify routes (routes.ts) and the fast path in front of
 * Fastify (fast-rpc.ts) answer through this one function, so they cannot differ in what they answer.
 */
import type { TLSSocket } from 'node:tls';
import { ImprintError } from '../core/errors.ts';
import { socketChain } from '../server/peer-chain.ts';
import type { SztpBootstrapService } from './bootstrap-service.ts';
import { RestconfFailure, serializeErrors, statusForTag } from './restconf-errors.ts';
import { parseBootstrapInput, serializeBootstrapOutput } from './rpc-bootstrap.ts';
import { parseProgressInput } from './rpc-progress.ts';
import type { Encoding, GetBootstrappingDataOutput, RestconfError } from './types.ts';

/** The two operations. */
export type RpcOperation = 'get-bootstrapping-data' | 'report-progress';

/** What an operation needs from its HTTP request. */
export interface RpcRequest {
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly authorization: string | undefined;
  /** The body as text ('' when there is none). */
  readonly body: string;
  /** The TLS socket the request came on (its client chain authenticates the device). */
  readonly socket: object;
}

/** The answer: status, and a media type and body unless the status is 204. */
export interface RpcReply {
  readonly status: number;
  readonly type?: string;
  readonly body?: string;
  /** The unexpected error behind a 5xx answer, for the server log (never sent). */
  readonly failure?: unknown;
}

/** Media types of the two encodings. */
export const MEDIA: Record<Encoding, string> = {
  json: 'application/yang-data+json',
  xml: 'application/yang-data+xml',
};

function requestEncoding(contentType: string | undefined): Encoding | undefined {
  const ct = contentType ?? '';
  if (ct === '') return undefined;
  if (/yang[.-]data\+xml|application\/xml/.test(ct)) return 'xml';
  if (/yang[.-]data\+json|application\/json/.test(ct)) return 'json';
  return undefined;
}

function replyEncoding(accept: string | undefined, fallback: Encoding): Encoding {
  const a = accept ?? '';
  if (/yang[.-]data\+xml/.test(a) && !/yang[.-]data\+json/.test(a)) return 'xml';
  if (/yang[.-]data\+json/.test(a)) return 'json';
  return fallback;
}

/**
 * The client chain of a TLS connection, read once per connection: with keep-alive, walking the peer
 * certificates (getPeerCertificate builds an object per certificate) on every request was the largest
 * per-request TLS cost. The cache entry is tied to the handshake's Finished message, so a renegotiation
 * (which may present another certificate) reads the chain again.
 */
const chainsBySocket = new WeakMap<object, { finished: Buffer; chain: Uint8Array[] }>();
function clientChain(s: object): Uint8Array[] {
  const socket = s as Partial<TLSSocket>;
  const finished = typeof socket.getPeerFinished === 'function' ? socket.getPeerFinished() : undefined;
  if (finished === undefined) return socketChain(socket);
  const hit = chainsBySocket.get(socket);
  if (hit !== undefined && hit.finished.equals(finished)) return hit.chain;
  const chain = socketChain(socket);
  chainsBySocket.set(socket, { finished, chain });
  return chain;
}

/**
 * Encoded answers, kept as long as their artifacts live: signed conveyed information, owner certificates and
 * nonceless vouchers come from the bootstrap service's caches as the same objects until a record changes,
 * so the base64 + JSON/XML encoding of a device's answer is done once, not per request. Keyed by the voucher
 * (per device) or, without one, by the conveyed information; every part is compared by identity.
 */
const encodedAnswers = new WeakMap<
  Uint8Array,
  { out: GetBootstrappingDataOutput; text: Partial<Record<Encoding, string>> }
>();
function encodeAnswer(out: GetBootstrappingDataOutput, enc: Encoding): string {
  const key = out.ownershipVoucher ?? out.conveyedInformation;
  let hit = encodedAnswers.get(key);
  if (
    hit === undefined ||
    hit.out.conveyedInformation !== out.conveyedInformation ||
    hit.out.ownerCertificate !== out.ownerCertificate ||
    hit.out.ownershipVoucher !== out.ownershipVoucher ||
    hit.out.reportingLevel !== out.reportingLevel
  ) {
    hit = { out, text: {} };
    encodedAnswers.set(key, hit);
  }
  return (hit.text[enc] ??= serializeBootstrapOutput(out, enc));
}

function basicAuth(h: string | undefined): { serial: string; secret: string } | undefined {
  const m = h === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
  if (m === null) return undefined;
  const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { serial: text.slice(0, i), secret: text.slice(i + 1) };
}

function errors(enc: Encoding, status: number, list: RestconfError[], failure?: unknown): RpcReply {
  return {
    status,
    type: MEDIA[enc],
    body: serializeErrors(list, enc),
    ...(failure !== undefined ? { failure } : {}),
  };
}

function toRestconf(e: unknown): { status: number; error: RestconfError } {
  if (e instanceof RestconfFailure) return { status: e.status, error: e.restconf };
  if (e instanceof ImprintError && e.status === 400)
    return { status: 400, error: { type: 'rpc', tag: 'malformed-message', message: e.message } };
  return { status: 500, error: { type: 'application', tag: 'operation-failed', message: 'internal error' } };
}

/**
 * Answers one operation. Never throws: failures become RESTCONF errors (415 for an unknown Content-Type,
 * 403 access-denied, 400 malformed-message/invalid-value, 409 data-missing, 500 operation-failed).
 */
export async function answerRpc(
  bootstrap: SztpBootstrapService,
  op: RpcOperation,
  r: RpcRequest,
): Promise<RpcReply> {
  const inEnc = requestEncoding(r.contentType);
  const outEnc = replyEncoding(r.accept, inEnc ?? 'json');
  if (r.body.trim() !== '' && inEnc === undefined) {
    return errors(outEnc, 415, [
      {
        type: 'protocol',
        tag: 'invalid-value',
        message: 'Content-Type must be application/yang-data+json or +xml',
      },
    ]);
  }
  try {
    const caller = await bootstrap.authenticate(clientChain(r.socket), basicAuth(r.authorization));
    if (op === 'report-progress') {
      await bootstrap.reportProgress(caller, parseProgressInput(r.body, inEnc ?? 'json'));
      return { status: 204 };
    }
    const out = await bootstrap.getBootstrappingData(caller, parseBootstrapInput(r.body, inEnc ?? 'json'));
    return { status: 200, type: MEDIA[outEnc], body: encodeAnswer(out, outEnc) };
  } catch (e) {
    const { status, error } = toRestconf(e);
    return errors(
      outEnc,
      status === 400 ? statusForTag(error.tag) : status,
      [error],
      status >= 500 ? e : undefined,
    );
  }
}
