import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { AuditService } from '../../src/audit/service.ts';
import { defaultConfig } from '../../src/core/config.ts';
import { systemRandom } from '../../src/core/random.ts';
import type { SoftwareKeyStore } from '../../src/keys/software.ts';
import { createFeatures, featureRoutes } from '../../src/server/features.ts';
import type { Platform } from '../../src/server/platform.ts';
import { createLogger } from '../../src/core/logging.ts';
import { TokenService } from '../../src/registry/tokens.ts';
import { buildApp, type AppDeps, type TlsOptions } from '../../src/server/app.ts';
import { ROLES, type Role } from '../../src/server/types.ts';
import { createTestCore, type TestCore } from './core.ts';

/** A running operator API over a fresh core, with a manufacturer (A), an owner (B) and a token per role in each. */
export interface TestApp {
  readonly platform: Platform;
  readonly core: TestCore;
  readonly tokens: TokenService;
  readonly app: FastifyInstance;
  readonly manufacturer: { id: string; modelId: string; deviceId: string };
  readonly owner: { id: string };
  /** Bearer tokens by role, for the manufacturer tenant (A) and the owner tenant (B). */
  readonly tokenA: Record<Role, string>;
  readonly tokenB: Record<Role, string>;
  /** Every log line the app wrote. */
  readonly logs: string[];
  close(): Promise<void>;
}

/** Builds the app in-process (use app.inject) or, with `tls`, ready to listen over HTTPS. */
export async function createTestApp(
  options: {
    rateLimitPerMinute?: number;
    tls?: TlsOptions;
    extra?: Partial<AppDeps>;
    features?: boolean;
    /** Runs after seeding and before the app is built (e.g. to create CAs and the server's TLS identity). */
    prepare?: (
      p: Platform,
      manufacturerId: string,
    ) => Promise<{ tls?: TlsOptions; extra?: Partial<AppDeps> }>;
  } = {},
): Promise<TestApp> {
  const core = await createTestCore();
  const tokens = new TokenService(core.store, core.audit, core.clock);
  const by = { actor: 'test' };
  const a = await core.registry.createTenant(by, 'Acme', 'manufacturer');
  const b = await core.registry.createTenant(by, 'Owner Inc', 'owner');
  const model = await core.registry.createModel(by, a.id, 'sensor-1');
  const device = await core.registry.createDevice(by, {
    manufacturerId: a.id,
    modelId: model.id,
    serial: 'SN-0001',
  });
  const mint = async (tenantId: string) => {
    const out = {} as Record<Role, string>;
    for (const role of ROLES)
      out[role] = (await tokens.create(by, { tenantId, name: `t-${role}`, role })).token;
    return out;
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  const auditService = new AuditService({
    store: core.store,
    keys: core.keys,
    log: core.audit,
    clock: core.clock,
  });
  const logger = createLogger('info', sink);
  const platform: Platform = {
    ...core,
    random: systemRandom,
    config: { ...defaultConfig(core.dir), publicUrl: 'https://imprint.test' },
    logger,
    tokens,
    auditService,
    softwareKeys: core.keys as SoftwareKeyStore,
    close: () => core.close(),
  };
  const features = options.features === true ? featureRoutes(platform, createFeatures(platform)) : [];
  const prepared = (await options.prepare?.(platform, a.id)) ?? {};
  const app = await buildApp(
    {
      ...platform,
      features,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 100_000,
      ...options.extra,
      ...prepared.extra,
    },
    prepared.tls ?? options.tls,
  );
  return {
    platform,
    core,
    tokens,
    app,
    manufacturer: { id: a.id, modelId: model.id, deviceId: device.id },
    owner: { id: b.id },
    tokenA: await mint(a.id),
    tokenB: await mint(b.id),
    logs,
    async close() {
      await app.close();
      await core.close();
    },
  };
}

/** Authorization header for a token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
