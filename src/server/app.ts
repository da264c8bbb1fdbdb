import './fastify-types.ts';
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { NotFoundError, RateLimitError } from '../core/errors.ts';
import type { Logger } from '../core/logging.ts';
import type { TokenService } from '../registry/tokens.ts';
import { installAuth, type CertificatePrincipalResolver } from './auth.ts';
import { errorHandler } from './error-handler.ts';
import { validatorCompiler } from './validation.ts';
import { installMetrics } from './metrics.ts';
import { fastRouter } from './fast-routes.ts';
import { RateLimitCounters } from './rate-limit-store.ts';
import type { Counter, Histogram, Registry } from 'prom-client';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { registryRoutes } from './routes/registry.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { auditRoutes } from './routes/audit.ts';
import type { AuditService } from '../audit/service.ts';
import type { Access, Core } from './types.ts';

/** TLS material for the HTTPS listener; `ca` lists the CAs whose client certificates are accepted. */
export interface TlsOptions {
  readonly key: string | Buffer;
  readonly cert: string;
  readonly ca: readonly string[];
}

/** Everything the app is assembled from. */
export interface AppDeps extends Core {
  readonly tokens: TokenService;
  readonly auditService: AuditService;
  readonly logger: Logger;
  readonly rateLimitPerMinute: number;
  readonly certificateResolvers?: readonly CertificatePrincipalResolver[];
  /** Feature route plugins mounted after the core routes. */
  readonly features?: readonly ((app: FastifyInstance) => Promise<void>)[];
}

/** One mounted route and its access rule (for the authorisation matrix and the docs). */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly access: Access | undefined;
}

/** The routes an app mounted, in mount order. */
export function routesOf(app: FastifyInstance): readonly RouteEntry[] {
  return (app as unknown as { routeTable: RouteEntry[] }).routeTable;
}

/** Largest request body accepted by default (features raise it per route where needed, e.g. firmware). */
export const BODY_LIMIT = 1024 * 1024;

/** Builds the Fastify app: auth, rate limits, metrics, OpenAPI, health and every route. */
export async function buildApp(deps: AppDeps, tls?: TlsOptions): Promise<FastifyInstance> {
  // One instance type for HTTP (tests) and HTTPS (serve); the handlers do not depend on which.
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    ...(tls === undefined
      ? {}
      : {
          https: {
            key: tls.key,
            cert: tls.cert,
            ca: [...tls.ca],
            requestCert: true,
            // Client certificates are optional at the TLS layer (operators use tokens); routes decide.
            rejectUnauthorized: false,
            minVersion: 'TLSv1.2' as const,
          },
        }),
  }) as unknown as FastifyInstance;
  const routeTable: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routeTable.push({ method, url: route.url, access: route.config?.access });
    }
  });
  app.decorate('routeTable', routeTable);
  app.setValidatorCompiler(validatorCompiler());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    throw new NotFoundError(
      'ERR_ROUTE_NOT_FOUND',
      `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
    );
  });
  const metrics = installMetrics(app);
  installAuth(app, {
    store: deps.store,
    audit: deps.audit,
    tokens: deps.tokens,
    certificateResolvers: deps.certificateResolvers ?? [],
  });
  // One set of counters for Fastify's routes and the fast routes (fast-routes.ts), so a caller has one budget.
  const limits = new RateLimitCounters();
  fastRouter(app).configure(fastRouteHooks(deps, limits, metrics));
  await app.register(rateLimit, {
    store: limits.pluginStore(),
    global: true,
    hook: 'preHandler',
    max: deps.rateLimitPerMinute,
    timeWindow: '1 minute',
    keyGenerator: (request) => request.principal?.id ?? request.ip,
    errorResponseBuilder: () => new RateLimitError('ERR_RATE_LIMITED', 'rate limit exceeded; retry later'),
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Imprint operator API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.get('/healthz', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) => {
    await deps.store.db.selectFrom('tenants').select('id').limit(1).execute();
    return reply.send({ status: 'ok' });
  });
  app.get('/metrics', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );
  app.get('/api/v1/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () =>
    app.swagger(),
  );

  await app.register(async (scope) => registryRoutes(scope, { registry: deps.registry }));
  await app.register(async (scope) => tokenRoutes(scope, { tokens: deps.tokens, registry: deps.registry }));
  await app.register(async (scope) =>
    auditRoutes(scope, { audit: deps.auditService, registry: deps.registry }),
  );
  for (const feature of deps.features ?? []) await app.register(feature);
  await app.ready();
  return app;
}

/**
 * What Fastify's routes get from the app and the fast routes must get too: the rate limit (same counters, key
 * and headers as @fastify/rate-limit; over the limit the request goes to Fastify, which answers 429), the
 * request metrics and one request-log line.
 */
function fastRouteHooks(deps: AppDeps, limits: RateLimitCounters, metrics: Registry) {
  const max = deps.rateLimitPerMinute;
  const requests = metrics.getSingleMetric('imprint_http_requests_total') as Counter;
  const duration = metrics.getSingleMetric('imprint_http_request_duration_seconds') as Histogram;
  return {
    admit(req: IncomingMessage) {
      // The plugin's key for a request without a principal (fast routes are public): the peer address.
      const { current, ttl } = limits.hit(req.socket.remoteAddress ?? '', 60_000);
      if (current > max) return undefined;
      return [
        ['x-ratelimit-limit', String(max)],
        ['x-ratelimit-remaining', String(max - current)],
        ['x-ratelimit-reset', String(Math.ceil(ttl / 1000))],
      ] as const;
    },
    done(req: IncomingMessage, res: ServerResponse, route: string, elapsedMs: number) {
      const method = req.method ?? '';
      requests.inc({ method, route, status: String(res.statusCode) });
      duration.observe({ method, route }, elapsedMs / 1000);
      if (deps.logger.isLevelEnabled('info'))
        deps.logger.info(
          {
            req: { method, url: req.url, remoteAddress: req.socket.remoteAddress },
            res: { statusCode: res.statusCode },
            responseTime: elapsedMs,
          },
          'request completed',
        );
    },
  };
}
