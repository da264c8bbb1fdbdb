/**
 * Fast routes: a few hot, fully specified endpoints (the SZTP RESTCONF operations) answered in the HTTPS
 * server's request listener, before Fastify's per-request pipeline (request and reply objects, hook chains,
 * content-type parsing, schema validation, serialisation), which cost about as much CPU per request as the
 * bootstrap logic itself. A fast route handles only the exact requests it is written for and declines every
 * other one (any other method, a query string, an unusual body), which then goes through Fastify unchanged,
 * so routing, 404s and error shapes stay Fastify's. The server-wide concerns that apply to every route (rate
 * limit, metrics, request log, 503 while closing) are applied here through the hooks the app assembly sets
 * (`configureFastRoutes`); on a bare Fastify instance without them there are none, as there are none on
 * its Fastify routes.
 */
import type { FastifyInstance } from 'fastify';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { InternalError } from '../core/errors.ts';

/**
 * Answers one request and returns true, or returns false at once (before reading the body or writing
 * anything) to let Fastify handle it.
 */
export type FastHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What the app assembly applies to every fast request, as it does to Fastify's routes. */
export interface FastRouteHooks {
  /**
   * Counts the request against its rate limit: the headers to add when it is within the limit, or undefined
   * when it is over it (the request is then handed to Fastify, whose rate limiter answers 429 as usual).
   */
  readonly admit?: (req: IncomingMessage) => readonly (readonly [string, string])[] | undefined;
  /** Called when the response has been sent (metrics, request log); `route` is the registered URL. */
  readonly done?: (req: IncomingMessage, res: ServerResponse, route: string, elapsedMs: number) => void;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/** The fast routes of one server. */
export class FastRouter {
  readonly #routes = new Map<string, { url: string; handle: FastHandler }>();
  readonly #prefixes: { method: string; prefix: string; url: string; handle: FastHandler }[] = [];
  #hooks: FastRouteHooks = {};
  #closing = false;
  #handled = 0;

  /** How many requests the fast routes have taken (tests check that a path was really used). */
  get handled(): number {
    return this.#handled;
  }

  /** Adds a route for exactly `method` and `url` (no query string). Throws ERR_FAST_ROUTE_DUPLICATE. */
  add(method: string, url: string, handle: FastHandler): void {
    const key = `${method} ${url}`;
    if (this.#routes.has(key))
      throw new InternalError('ERR_FAST_ROUTE_DUPLICATE', `fast route ${key} exists`);
    this.#routes.set(key, { url, handle });
  }

  /**
   * Adds a route for `method` and every URL that starts with `prefix` (the handler checks the rest and
   * declines what it does not take); `url` is the Fastify pattern it stands for (metrics label, e.g.
   * `/ocsp/*`). Exact routes are tried first. Throws ERR_FAST_ROUTE_DUPLICATE.
   */
  addPrefix(method: string, prefix: string, url: string, handle: FastHandler): void {
    if (this.#prefixes.some((p) => p.method === method && p.prefix === prefix))
      throw new InternalError('ERR_FAST_ROUTE_DUPLICATE', `fast route ${method} ${prefix}* exists`);
    this.#prefixes.push({ method, prefix, url, handle });
  }

  /** Sets the server-wide hooks (the app assembly calls this once). */
  configure(hooks: FastRouteHooks): void {
    this.#hooks = hooks;
  }

  /** From now on every request goes to Fastify (which answers 503 while closing, as for its own routes). */
  closing(): void {
    this.#closing = true;
  }

  /** Handles `req` when it is a fast route's and the route accepts it; false hands it to Fastify. */
  dispatch(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.#closing) return false;
    const route = this.#routes.get(`${req.method ?? ''} ${req.url ?? ''}`) ?? this.#prefixRoute(req);
    if (route === undefined) return false;
    const start = performance.now();
    const limitHeaders = this.#hooks.admit === undefined ? [] : this.#hooks.admit(req);
    if (limitHeaders === undefined) return false;
    for (const [name, value] of limitHeaders) res.setHeader(name, value);
    if (!route.handle(req, res)) {
      for (const [name] of limitHeaders) res.removeHeader(name);
      return false;
    }
    this.#handled++;
    const done = this.#hooks.done;
    if (done !== undefined) res.once('finish', () => done(req, res, route.url, performance.now() - start));
    return true;
  }

  #prefixRoute(req: IncomingMessage): { url: string; handle: FastHandler } | undefined {
    const url = req.url ?? '';
    for (const p of this.#prefixes) if (p.method === req.method && url.startsWith(p.prefix)) return p;
    return undefined;
  }
}

const routers = new WeakMap<object, FastRouter>();

/** The fast router of an app's server if one was installed (no side effects). */
export function fastRouterOf(app: FastifyInstance): FastRouter | undefined {
  return routers.get(app.server);
}

/**
 * The fast router of an app's server, installed in front of Fastify's request listener on first use (every
 * plugin scope of one app shares it). Requests that no fast route takes go to Fastify's listener unchanged;
 * `inject()` bypasses the server and always uses Fastify.
 */
export function fastRouter(app: FastifyInstance): FastRouter {
  const server: Server = app.server;
  let router = routers.get(server);
  if (router !== undefined) return router;
  const r = new FastRouter();
  router = r;
  routers.set(server, r);
  const fastify = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (r.dispatch(req, res)) return;
    for (const l of fastify) l.call(server, req, res);
  });
  app.addHook('preClose', (done) => {
    r.closing();
    done();
  });
  return router;
}
