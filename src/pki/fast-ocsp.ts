/**
 * The OCSP responder served in front of Fastify (server/fast-routes.ts): `POST /ocsp` and `GET /ocsp/{base64}`
 * answered on Node's request and response through the same answerOcsp as the Fastify routes, because a cached
 * OCSP answer costs about 2 µs and Fastify's per-request pipeline 50-90 µs. Only requests with nothing left
 * for Fastify to decide are taken: a POST to exactly /ocsp with a Content-Type of exactly
 * application/ocsp-request, a Content-Length of 1 to OCSP_MAX and no transfer coding; a GET whose path after
 * /ocsp/ is base64 with at most %2B, %2F and %3D escapes (for which the router's decoding is exactly one
 * decodeURIComponent) and no query string. Everything else (other media types, chunked, empty or too-large
 * bodies, other escapes, HEAD) goes to Fastify as before, so its 413/415/404 answers stay as they are.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mapError } from '../server/error-handler.ts';
import { fastRouter } from '../server/fast-routes.ts';
import { answerOcsp, OCSP_HEADERS, OCSP_MAX, type OcspHttpRequest } from './ocsp-http.ts';
import type { PkiService } from './service.ts';

const GET_PREFIX = '/ocsp/';
const GET_PARAM = /^(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd])+$/;
const LENGTH = /^[1-9]\d{0,5}$/;

/** Whether the fast path may take this POST (see the module comment); false leaves it to Fastify. */
function takesPost(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined || h['content-type'] !== 'application/ocsp-request') return false;
  const len = h['content-length'];
  return len !== undefined && LENGTH.test(len) && Number(len) <= OCSP_MAX;
}

/** Writes the answer as the Fastify route's reply does, or the error handler's answer if the responder failed. */
function reply(
  log: FastifyInstance['log'],
  res: ServerResponse,
  request: OcspHttpRequest,
  pki: PkiService,
): void {
  answerOcsp(pki, request).then(
    (der) => {
      res.writeHead(200, { ...OCSP_HEADERS, 'content-length': der.byteLength }).end(der);
    },
    (err: unknown) => {
      // Bad input never throws (it is a malformedRequest answer); this is a store or key failure.
      const { status, body } = mapError(err);
      log.error({ err }, 'request failed');
      const json = JSON.stringify(body);
      res
        .writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(json),
        })
        .end(json);
    },
  );
}

/** Registers the OCSP fast routes (POST /ocsp, GET /ocsp/*) on the app's server. */
export function installFastOcsp(app: FastifyInstance, pki: PkiService): void {
  const router = fastRouter(app);
  router.add('POST', '/ocsp', (req, res) => {
    if (!takesPost(req)) return false;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      reply(app.log, res, { method: 'POST', body }, pki);
    });
    return true;
  });
  router.addPrefix('GET', GET_PREFIX, '/ocsp/*', (req, res) => {
    const rest = (req.url ?? '').slice(GET_PREFIX.length);
    if (!GET_PARAM.test(rest)) return false;
    // The param as the router hands it to the Fastify route: only %2B, %2F, %3D are escaped, decoded once.
    const param = rest.includes('%') ? decodeURIComponent(rest) : rest;
    req.resume();
    reply(app.log, res, { method: 'GET', param }, pki);
    return true;
  });
}
