/**
 * get-bootstrapping-data and report-progress served in front of Fastify (server/fast-routes.ts): the
 * request's body is read and the answer written straight on Node's request and response, through the same
 * answerRpc as the Fastify routes. Only requests that Fastify would hand to these routes' own body parser
 * with nothing left to decide are taken: POST to the exact path (no query string), a Content-Type that is
 * exactly one of the parser's media types, a Content-Length within the body limit and no transfer coding.
 * Everything else (application/json, chunked bodies, too-large bodies, parameters in the Content-Type) goes
 * to Fastify as before, so its 413/415/400 answers stay as they are.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fastRouter } from '../server/fast-routes.ts';
import type { SztpBootstrapService } from './bootstrap-service.ts';
import { answerRpc, type RpcOperation } from './rpc-handler.ts';

/** Media types the RESTCONF operations parse as text (the Fastify content-type parser takes the same list). */
export const RPC_MEDIA_TYPES: readonly string[] = [
  'application/yang-data+json',
  'application/yang-data+xml',
  'application/yang.data+xml',
  'application/yang.data+json',
  'application/xml',
];
/** Largest RPC body accepted (both paths). */
export const RPC_BODY_LIMIT = 1024 * 1024;

const FAST_TYPES = new Set(RPC_MEDIA_TYPES);

/** Whether the fast path may take this request (see the module comment); false leaves it to Fastify. */
function takes(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return false;
  const ct = h['content-type'];
  if (ct === undefined || !FAST_TYPES.has(ct)) return false;
  const len = h['content-length'];
  if (len === undefined || !/^\d{1,7}$/.test(len)) return false;
  return Number(len) <= RPC_BODY_LIMIT;
}

function serve(
  bootstrap: SztpBootstrapService,
  op: RpcOperation,
  log: FastifyInstance['log'],
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('error', () => res.destroy());
  req.on('end', () => {
    void answerRpc(bootstrap, op, {
      contentType: req.headers['content-type'],
      accept: req.headers.accept,
      authorization: req.headers.authorization,
      body:
        chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
      socket: req.socket,
    }).then(
      (out) => {
        if (out.failure !== undefined) log.error({ err: out.failure }, 'sztp request failed');
        if (out.body === undefined) {
          res.writeHead(out.status).end();
          return;
        }
        // As Fastify's reply does: a JSON media type without a charset gets `; charset=utf-8` (XML is left as is).
        const type = out.type ?? 'text/plain; charset=utf-8';
        res.setHeader(
          'content-type',
          type.includes('json') && !type.includes('charset') ? `${type}; charset=utf-8` : type,
        );
        res.setHeader('content-length', Buffer.byteLength(out.body));
        res.writeHead(out.status).end(out.body);
      },
      (err: unknown) => {
        // answerRpc maps every failure to an answer; this is only reached by a bug, which must not hang the client.
        log.error({ err }, 'sztp request failed');
        res.destroy();
      },
    );
  });
}

/** Registers the two operations' fast routes at the given paths. */
export function installFastRpc(
  app: FastifyInstance,
  bootstrap: SztpBootstrapService,
  bootstrapPath: string,
  progressPath: string,
): void {
  const router = fastRouter(app);
  for (const [path, op] of [
    [bootstrapPath, 'get-bootstrapping-data'],
    [progressPath, 'report-progress'],
  ] as const) {
    router.add('POST', path, (req: IncomingMessage, res: ServerResponse) => {
      if (!takes(req)) return false;
      serve(bootstrap, op, app.log, req, res);
      return true;
    });
  }
}
