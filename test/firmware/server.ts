import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { AuditService } from '../../src/audit/service.ts';
import { createLogger } from '../../src/core/logging.ts';
import { firmwareRoutes } from '../../src/firmware/routes.ts';
import { ReleaseService } from '../../src/firmware/releases.ts';
import { SigningService } from '../../src/firmware/signing-service.ts';
import { TufRepository } from '../../src/firmware/tuf/repository.ts';
import type { Expiries } from '../../src/firmware/tuf/build.ts';
import { TokenService } from '../../src/registry/tokens.ts';
import { buildApp } from '../../src/server/app.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';

/** The real server with the firmware routes mounted, a manufacturer, a model and role tokens. */
export interface FirmwareServer {
  readonly core: TestCore;
  readonly app: FastifyInstance;
  readonly signing: SigningService;
  readonly tuf: TufRepository;
  readonly tenantId: string;
  readonly model: { id: string; name: string };
  readonly tokens: { rm: string; rm2: string; operator: string };
  close(): Promise<void>;
}

/** Builds it; `listen` also opens an HTTP port on 127.0.0.1. */
export async function firmwareServer(
  options: { listen?: boolean; expiries?: Expiries } = {},
): Promise<FirmwareServer & { baseUrl: string }> {
  const core = await createTestCore();
  const tokens = new TokenService(core.store, core.audit, core.clock);
  const by = { actor: 'test' };
  const tenant = await core.registry.createTenant(by, 'Acme', 'manufacturer');
  const model = await core.registry.createModel(by, tenant.id, 'sensor-1');
  const signing = new SigningService(core);
  const tuf = new TufRepository(core, options.expiries);
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await buildApp({
    ...core,
    random: { bytes: (n) => new Uint8Array(n) },
    tokens,
    auditService: new AuditService({
      store: core.store,
      keys: core.keys,
      log: core.audit,
      clock: core.clock,
    }),
    logger: createLogger(
      process.env.FW_DEBUG === undefined ? 'warn' : 'debug',
      process.env.FW_DEBUG === undefined ? sink : process.stderr,
    ),
    rateLimitPerMinute: 100_000,
    features: [
      (a) => firmwareRoutes(a, { signing, tuf, registry: core.registry, releases: new ReleaseService(core) }),
    ],
  });
  const mint = async (role: 'release-manager' | 'operator', name: string) =>
    (await tokens.create(by, { tenantId: tenant.id, name, role })).token;
  let baseUrl = '';
  if (options.listen === true)
    baseUrl = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  return {
    core,
    app,
    signing,
    tuf,
    tenantId: tenant.id,
    model: { id: model.id, name: model.name },
    tokens: {
      rm: await mint('release-manager', 'rm'),
      rm2: await mint('release-manager', 'rm2'),
      operator: await mint('operator', 'op'),
    },
    baseUrl,
    async close() {
      await app.close();
      await core.close();
    },
  };
}

/** A TUF fetcher over app.inject (same HTTP routes, no socket); `override` lets a test play the attacker. */
export function injectFetcher(
  app: FastifyInstance,
  override?: (path: string, real: () => Promise<Uint8Array | undefined>) => Promise<Uint8Array | undefined>,
): (url: string, maxLength: number) => Promise<Uint8Array | undefined> {
  return async (url) => {
    const path = new URL(url).pathname;
    const real = async () => {
      const r = await app.inject({ method: 'GET', url: path });
      return r.statusCode === 404 ? undefined : new Uint8Array(r.rawPayload);
    };
    return override === undefined ? real() : override(path, real);
  };
}
