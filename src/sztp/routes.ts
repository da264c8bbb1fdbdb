/**
 * RFC 8572 §7 RESTCONF endpoints: get-bootstrapping-data, report-progress and host-meta, in
 * application/yang-data+json and +xml. Errors leave as `ietf-restconf:errors` with RFC 8040 status codes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { SztpAdminService } from './admin-service.ts';
import { sztpAdminRoutes } from './admin-routes.ts';
import type { SztpBootstrapService } from './bootstrap-service.ts';
import { installFastRpc, RPC_BODY_LIMIT, RPC_MEDIA_TYPES } from './fast-rpc.ts';
import { answerRpc, type RpcOperation } from './rpc-handler.ts';

/** What the SZTP routes need. */
export interface SztpRouteDeps {
  readonly bootstrap: SztpBootstrapService;
  readonly admin: SztpAdminService;
}

const OPS = '/restconf/operations/ietf-sztp-bootstrap-server';

/**
 * Mounts the RESTCONF endpoints and the admin API (`/api/v1/sztp/...`). Devices authenticate inside the handlers.
 * `fastPath: false` leaves the two operations to Fastify alone (tests compare both paths).
 */
export async function sztpRoutes(
  app: FastifyInstance,
  deps: SztpRouteDeps,
  options: { fastPath?: boolean } = {},
): Promise<void> {
  app.addContentTypeParser(
    [...RPC_MEDIA_TYPES],
    { parseAs: 'string', bodyLimit: RPC_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  const handle = (op: RpcOperation) => async (request: FastifyRequest, reply: FastifyReply) => {
    const raw =
      typeof request.body === 'string'
        ? request.body
        : request.body === undefined || request.body === null
          ? ''
          : JSON.stringify(request.body);
    const out = await answerRpc(deps.bootstrap, op, {
      contentType: request.headers['content-type'],
      accept: request.headers.accept,
      authorization: request.headers.authorization,
      body: raw,
      socket: request.raw.socket,
    });
    if (out.failure !== undefined) request.log.error({ err: out.failure }, 'sztp request failed');
    reply.code(out.status);
    if (out.type !== undefined) reply.type(out.type);
    return reply.send(out.body);
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

  // The two operations are also served in front of Fastify for the requests they are written for (fast-rpc.ts).
  if (options.fastPath !== false)
    installFastRpc(app, deps.bootstrap, `${OPS}:get-bootstrapping-data`, `${OPS}:report-progress`);
  await sztpAdminRoutes(app, deps.admin, deps.bootstrap);
}
