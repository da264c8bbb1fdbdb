/**
 * RFC 8572 §7 RESTCONF endpoints: get-bootstrapping-data, report-progress and host-meta, in
 * application/yang-data+json and +xml. Errors leave as `ietf-restconf:errors` with RFC 8040 status codes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TLSSocket } from 'node:tls';
import { Type } from 'typebox';
import { ImprintError } from '../core/errors.ts';
import { presentedChain } from '../server/peer-chain.ts';
import type { SztpAdminService } from './admin-service.ts';
import { sztpAdminRoutes } from './admin-routes.ts';
import type { SztpBootstrapService } from './bootstrap-service.ts';
import { RestconfFailure, serializeErrors, statusForTag } from './restconf-errors.ts';
import { parseBootstrapInput, serializeBootstrapOutput } from './rpc-bootstrap.ts';
import { parseProgressInput } from './rpc-progress.ts';
import type { Encoding, GetBootstrappingDataOutput, RestconfError } from './types.ts';

/** What the SZTP routes need. */
export interface SztpRouteDeps {
  readonly bootstrap: SztpBootstrapService;
  readonly admin: SztpAdminService;
}

const MEDIA: Record<Encoding, string> = {
  json: 'application/yang-data+json',
  xml: 'application/yang-data+xml',
};
const OPS = '/restconf/operations/ietf-sztp-bootstrap-server';

function requestEncoding(request: FastifyRequest): Encoding | undefined {
  const ct = String(request.headers['content-type'] ?? '');
  if (ct === '') return undefined;
  if (/yang[.-]data\+xml|application\/xml/.test(ct)) return 'xml';
  if (/yang[.-]data\+json|application\/json/.test(ct)) return 'json';
  return undefined;
}

function replyEncoding(request: FastifyRequest, fallback: Encoding): Encoding {
  const accept = String(request.headers.accept ?? '');
  if (/yang[.-]data\+xml/.test(accept) && !/yang[.-]data\+json/.test(accept)) return 'xml';
  if (/yang[.-]data\+json/.test(accept)) return 'json';
  return fallback;
}

/**
 * The client chain of a request's TLS connection, read once per connection: with keep-alive, walking the
 * peer certificates (getPeerCertificate builds an object per certificate) on every request was the largest
 * per-request TLS cost. The cache entry is tied to the handshake's Finished message, so a renegotiation
 * (which may present another certificate) reads the chain again.
 */
const chainsBySocket = new WeakMap<object, { finished: Buffer; chain: Uint8Array[] }>();
function clientChain(request: FastifyRequest): Uint8Array[] {
  const socket = request.raw.socket as Partial<TLSSocket>;
  const finished = typeof socket.getPeerFinished === 'function' ? socket.getPeerFinished() : undefined;
  if (finished === undefined) return presentedChain(request);
  const hit = chainsBySocket.get(socket);
  if (hit !== undefined && hit.finished.equals(finished)) return hit.chain;
  const chain = presentedChain(request);
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

function basicAuth(request: FastifyRequest): { serial: string; secret: string } | undefined {
  const h = request.headers.authorization;
  const m = h === undefined ? null : /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h);
  if (m === null) return undefined;
  const text = Buffer.from(m[1] ?? '', 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { serial: text.slice(0, i), secret: text.slice(i + 1) };
}

function sendErrors(
  reply: FastifyReply,
  enc: Encoding,
  status: number,
  errors: RestconfError[],
): FastifyReply {
  return reply.code(status).type(MEDIA[enc]).send(serializeErrors(errors, enc));
}

function toRestconf(e: unknown): { status: number; error: RestconfError } {
  if (e instanceof RestconfFailure) return { status: e.status, error: e.restconf };
  if (e instanceof ImprintError && e.status === 400)
    return { status: 400, error: { type: 'rpc', tag: 'malformed-message', message: e.message } };
  return { status: 500, error: { type: 'application', tag: 'operation-failed', message: 'internal error' } };
}

/** Mounts the RESTCONF endpoints and the admin API (`/api/v1/sztp/...`). Devices authenticate inside the handlers. */
export async function sztpRoutes(app: FastifyInstance, deps: SztpRouteDeps): Promise<void> {
  app.addContentTypeParser(
    [
      'application/yang-data+json',
      'application/yang-data+xml',
      'application/yang.data+xml',
      'application/yang.data+json',
      'application/xml',
    ],
    { parseAs: 'string', bodyLimit: 1024 * 1024 },
    (_req, body, done) => done(null, body),
  );

  const handle =
    (op: 'get-bootstrapping-data' | 'report-progress') =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const inEnc = requestEncoding(request);
      const outEnc = replyEncoding(request, inEnc ?? 'json');
      const raw =
        typeof request.body === 'string'
          ? request.body
          : request.body === undefined || request.body === null
            ? ''
            : JSON.stringify(request.body);
      if (raw.trim() !== '' && inEnc === undefined) {
        return sendErrors(reply, outEnc, 415, [
          {
            type: 'protocol',
            tag: 'invalid-value',
            message: 'Content-Type must be application/yang-data+json or +xml',
          },
        ]);
      }
      try {
        const caller = await deps.bootstrap.authenticate(clientChain(request), basicAuth(request));
        if (op === 'report-progress') {
          await deps.bootstrap.reportProgress(caller, parseProgressInput(raw, inEnc ?? 'json'));
          return reply.code(204).send();
        }
        const out = await deps.bootstrap.getBootstrappingData(
          caller,
          parseBootstrapInput(raw, inEnc ?? 'json'),
        );
        return reply.code(200).type(MEDIA[outEnc]).send(encodeAnswer(out, outEnc));
      } catch (e) {
        const { status, error } = toRestconf(e);
        if (status >= 500) request.log.error({ err: e }, 'sztp request failed');
        return sendErrors(reply, outEnc, status === 400 ? statusForTag(error.tag) : status, [error]);
      }
    };

  const rpcSchema = { hide: true, body: Type.Optional(Type.Unknown()) };
  app.post(
    `${OPS}:get-bootstrapping-data`,
    { config: { access: 'public' }, schema: rpcSchema },
    handle('get-bootstrapping-data'),
  );
  app.post(
    `${OPS}:report-progress`,
    { config: { access: 'public' }, schema: rpcSchema },
    handle('report-progress'),
  );

  app.get(
    '/.well-known/host-meta',
    { config: { access: 'public' }, schema: { hide: true } },
    async (request, reply) => {
      const json = /json/.test(String(request.headers.accept ?? ''));
      if (json)
        return reply.type('application/json').send({ links: [{ rel: 'restconf', href: '/restconf' }] });
      return reply
        .type('application/xrd+xml')
        .send(
          '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n  <Link rel="restconf" href="/restconf"/>\n</XRD>\n',
        );
    },
  );

  await sztpAdminRoutes(app, deps.admin, deps.bootstrap);
}
