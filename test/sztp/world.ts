/**
 * A complete SZTP world for tests: a store with a manufacturer and an owner tenant, the manufacturer's
 * IDevID CA and MASA key, an owner with its key in the key store, a device, and a bare Fastify HTTPS
 * server with the SZTP routes and mutual TLS.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { toPem } from '../../src/core/encoding.ts';
import type { Device } from '../../src/registry/types.ts';
import { softwareIdentity, type PreconfiguredState } from '../../src/device/sztp/identity.ts';
import { SztpAdminService } from '../../src/sztp/admin-service.ts';
import {
  SztpBootstrapService,
  type LdevidIssuer,
  type ProgressListener,
} from '../../src/sztp/bootstrap-service.ts';
import { sztpRoutes } from '../../src/sztp/routes.ts';
import type { Principal } from '../../src/server/types.ts';
import type { StoreLocation } from '../../src/store/database.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { certForSpki, makeCert, pem, serverCert, type TestAlg, type TestCert } from './pki-helpers.ts';

export interface World {
  readonly core: TestCore;
  readonly admin: SztpAdminService;
  readonly bootstrap: SztpBootstrapService;
  readonly app: FastifyInstance;
  readonly port: number;
  readonly mfgTenantId: string;
  readonly ownerTenantId: string;
  readonly modelId: string;
  readonly ownerId: string;
  readonly device: Device;
  readonly idevid: TestCert;
  readonly mfgCa: TestCert;
  readonly tlsCa: TestCert;
  readonly masaRoot: TestCert;
  readonly ownerRoot: TestCert;
  /** The owner's chain as registered (PEM). */
  readonly ownerChainPem: string;
  readonly events: Parameters<ProgressListener>[0][];
  /** Device preconfigured state pointing at this server. */
  state(overrides?: Partial<PreconfiguredState>): PreconfiguredState;
  close(): Promise<void>;
}

const by = { actor: 'test' };

/** Builds the world; `serial` names the device, `alg` its IDevID key type. */
export async function makeWorld(
  options: {
    serial?: string;
    alg?: TestAlg;
    masa?: boolean;
    ownerKey?: boolean;
    mfgCa?: TestCert;
    idevid?: TestCert;
    ownerChainPem?: string;
    issueLdevid?: LdevidIssuer;
    location?: StoreLocation;
  } = {},
): Promise<World> {
  const core = await createTestCore(options.location !== undefined ? { location: options.location } : {});
  const { tenant, model } = await seedManufacturer(core);
  const ownerTenant = await core.registry.createTenant(by, 'OwnerCo', 'owner');
  const events: Parameters<ProgressListener>[0][] = [];
  const admin = new SztpAdminService(core);
  const bootstrap = new SztpBootstrapService({
    ...core,
    onProgress: (e) => events.push(e),
    ...(options.issueLdevid !== undefined ? { issueLdevid: options.issueLdevid } : {}),
  });

  const mfgCa = options.mfgCa ?? (await makeCert('CN=Acme IDevID CA', { ca: true }));
  const serial = options.serial ?? 'SN-0001';
  const idevid =
    options.idevid ??
    (await makeCert('CN=Acme sensor', { issuer: mfgCa, serialAttr: serial, alg: options.alg ?? 'p256' }));
  await admin.addManufacturerCa(by, tenant.id, pem(mfgCa));
  const device = await core.registry.createDevice(by, {
    manufacturerId: tenant.id,
    modelId: model.id,
    serial,
  });

  const masaRoot = await makeCert('CN=Acme MASA Root', { ca: true });
  if (options.masa !== false) {
    const masaKey = await core.keys.generate('masa', 'ecdsa-p256');
    const masaCert = await certForSpki('CN=Acme MASA', masaKey.publicKeyDer, masaRoot);
    await admin.setMasa(by, {
      tenantId: tenant.id,
      keyId: masaKey.id,
      chainPem: toPem('CERTIFICATE', masaCert),
    });
  }

  const ownerRoot = await makeCert('CN=OwnerCo Root', { ca: true });
  const ownerKey =
    options.ownerKey === false || options.ownerChainPem !== undefined
      ? undefined
      : await core.keys.generate('owner-signing', 'ecdsa-p256');
  const ownerLeafHolder =
    ownerKey === undefined ? await makeCert('CN=OwnerCo SZTP', { issuer: ownerRoot }) : undefined;
  const ownerCert =
    ownerKey !== undefined
      ? await certForSpki('CN=OwnerCo SZTP', ownerKey.publicKeyDer, ownerRoot)
      : (ownerLeafHolder as TestCert).der;
  const owner = await admin.registerOwner(by, {
    tenantId: ownerTenant.id,
    name: 'ownerco',
    chainPem: options.ownerChainPem ?? toPem('CERTIFICATE', ownerCert) + pem(ownerRoot),
    ...(ownerKey !== undefined ? { keyId: ownerKey.id } : {}),
  });

  const { app, port, tlsCa } = await serveSztp(bootstrap, admin);

  return {
    core,
    admin,
    bootstrap,
    app,
    port,
    mfgTenantId: tenant.id,
    ownerTenantId: ownerTenant.id,
    modelId: model.id,
    ownerId: owner.id,
    device,
    idevid,
    mfgCa,
    tlsCa,
    masaRoot,
    ownerRoot,
    ownerChainPem: options.ownerChainPem ?? toPem('CERTIFICATE', ownerCert) + pem(ownerRoot),
    events,
    state: (overrides = {}) => ({
      identity: softwareIdentity(serial, [idevid.der], idevid.key),
      bootstrapServers: [{ address: '127.0.0.1', port }],
      serverTrustAnchors: [tlsCa.der],
      voucherTrustAnchors: [masaRoot.der],
      hwModel: 'sensor-1',
      clock: core.clock,
      ...overrides,
    }),
    async close() {
      await app.close();
      await core.close();
    },
  };
}

/** An onboarding-information document (RFC 8572 JSON) for a boot image and configuration. */
export function onboardingDoc(
  image: Uint8Array,
  hash: Uint8Array,
  config = '{"hostname":"sensor"}',
): unknown {
  return {
    'ietf-sztp-conveyed-info:onboarding-information': {
      'boot-image': {
        'os-name': 'ImprintOS',
        'os-version': '2.0',
        'download-uri': ['https://images.example/imprintos-2.0.img'],
        'image-verification': [
          {
            'hash-algorithm': 'ietf-sztp-conveyed-info:sha-256',
            'hash-value': [...hash].map((b) => b.toString(16).padStart(2, '0')).join(':'),
          },
        ],
      },
      'configuration-handling': 'replace',
      'pre-configuration-script': Buffer.from('#!/bin/sh\necho pre\n').toString('base64'),
      configuration: Buffer.from(config).toString('base64'),
      'post-configuration-script': Buffer.from('#!/bin/sh\necho post\n').toString('base64'),
    },
  };
  void image;
}

/**
 * A bare Fastify HTTPS server with the SZTP routes, mutual TLS requested (not required), a TLS certificate
 * for 127.0.0.1/localhost from a fresh test CA, and a stand-in auth hook (admin of the `x-test-tenant`).
 */
export async function serveSztp(
  bootstrap: SztpBootstrapService,
  admin: SztpAdminService,
  options: { fastPath?: boolean } = {},
): Promise<{ app: FastifyInstance; port: number; tlsCa: TestCert }> {
  const tlsCa = await makeCert('CN=Bootstrap TLS CA', { ca: true });
  const tls = await serverCert(tlsCa);
  const app = Fastify({
    https: {
      key: tls.key.export({ type: 'pkcs8', format: 'pem' }),
      cert: pem(tls),
      requestCert: true,
      rejectUnauthorized: false,
    },
    logger: false,
  });
  // Stand-in for the platform's auth hook: an admin of the tenant named in a test header.
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const t = request.headers['x-test-tenant'];
    if (typeof t === 'string')
      request.principal = {
        kind: 'token',
        id: 'tok_test',
        tenantId: t,
        role: 'admin',
        actor: 'token:tok_test',
      } satisfies Principal;
  });
  await app.register(async (scope) => sztpRoutes(scope, { bootstrap, admin }, options));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { app, port, tlsCa };
}
