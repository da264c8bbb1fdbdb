import type { FastifyInstance } from 'fastify';
import { X509Certificate } from 'node:crypto';
import { bytesEqual, fromPemAll, toPem } from '../core/encoding.ts';
import { factoryServices, type FactoryServices } from '../factory/runtime.ts';
import { factoryRoutes } from '../factory/routes.ts';
import { ReleaseService } from '../firmware/releases.ts';
import { firmwareRoutes } from '../firmware/routes.ts';
import { SigningService } from '../firmware/signing-service.ts';
import { TufRepository } from '../firmware/tuf/repository.ts';
import { issueFromCsr } from '../pki/issue.ts';
import { pkiApiRoutes } from '../pki/routes-api.ts';
import { pkiPublicRoutes } from '../pki/routes-public.ts';
import { PkiService } from '../pki/service.ts';
import { SztpAdminService } from '../sztp/admin-service.ts';
import { SztpBootstrapService } from '../sztp/bootstrap-service.ts';
import { sztpRoutes } from '../sztp/routes.ts';
import { webhookDeliverer } from '../sztp/webhooks.ts';
import type { CertificatePrincipalResolver } from './auth.ts';
import type { Platform } from './platform.ts';
import type { Principal } from './types.ts';

/** Every feature service of one process, built over the platform's core. */
export interface Features {
  readonly pki: PkiService;
  readonly factory: FactoryServices;
  readonly sztpAdmin: SztpAdminService;
  readonly sztpBootstrap: SztpBootstrapService;
  readonly signing: SigningService;
  readonly tuf: TufRepository;
  readonly releases: ReleaseService;
}

/** Builds the feature services (no I/O). */
export function createFeatures(p: Platform): Features {
  const pki = new PkiService(p, { urls: { baseUrl: p.config.publicUrl } });
  const by = { actor: 'system:sztp' };
  return {
    pki,
    factory: factoryServices(p, { publicUrl: p.config.publicUrl }),
    sztpAdmin: new SztpAdminService(p),
    sztpBootstrap: new SztpBootstrapService({
      ...p,
      onProgress: webhookDeliverer((message) => p.logger.info({ sztp: message }, 'sztp webhook')),
      // RFC 9646: an LDevID from the operational CA of the tenant that owns the device.
      issueLdevid: async (device, csrDer) => {
        const issued = await issueFromCsr(pki.ctx, by, {
          tenantId: device.tenantId,
          profile: 'ldevid',
          csr: csrDer,
        });
        return [issued.certificate.der, ...fromPemAll(issued.chainPem, 'CERTIFICATE')];
      },
    }),
    signing: new SigningService(p),
    tuf: new TufRepository(p),
    releases: new ReleaseService(p),
  };
}

/** The route plugins of every feature, in mount order. */
export function featureRoutes(p: Platform, f: Features): ((app: FastifyInstance) => Promise<void>)[] {
  return [
    (app) => pkiPublicRoutes(app, { pki: f.pki }),
    (app) => pkiApiRoutes(app, { pki: f.pki }),
    (app) =>
      factoryRoutes(app, {
        factory: f.factory.factory,
        manifests: f.factory.manifests,
        claims: f.factory.claims,
      }),
    (app) => sztpRoutes(app, { bootstrap: f.sztpBootstrap, admin: f.sztpAdmin }),
    (app) =>
      firmwareRoutes(app, { signing: f.signing, tuf: f.tuf, registry: p.registry, releases: f.releases }),
  ];
}

/**
 * Client CAs the TLS layer accepts (every tenant's TLS CA for stations, manufacturer CAs for devices), PEM.
 * A CA created after start-up is trusted after the next restart.
 */
export async function clientCas(p: Platform, f: Features): Promise<string[]> {
  const out: string[] = [];
  for (const tenant of await p.registry.listTenants()) {
    for (const ca of await f.pki.listCas(tenant.id)) {
      if (ca.state === 'active' || ca.role === 'root') out.push(toPem('CERTIFICATE', ca.certificate));
    }
  }
  return out;
}

/**
 * Station principals: a TLS client certificate (verified by the TLS layer against our CAs) whose subject
 * CN is the id of a registered station and that Imprint itself issued and has not revoked.
 */
export function stationResolver(p: Platform): CertificatePrincipalResolver {
  return async (chain) => {
    const leaf = chain[0];
    if (leaf === undefined) return undefined;
    const cert = new X509Certificate(leaf);
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn === undefined || !cn.startsWith('stn_')) return undefined;
    const stored = await goodStoredCertificate(p, leaf, cert);
    const station = await p.store.db
      .selectFrom('stations')
      .selectAll()
      .where('id', '=', cn)
      .executeTakeFirst();
    if (stored === undefined || station === undefined || station.disabled_at !== null) return undefined;
    if (station.tenant_id !== stored.tenantId) return undefined;
    const principal: Principal = {
      kind: 'station',
      id: station.id,
      tenantId: station.tenant_id,
      role: 'station',
      actor: `station:${station.id}`,
      certificateChain: chain,
    };
    return principal;
  };
}

/**
 * Device principals: a TLS client certificate that Imprint issued to a registered device (IDevID or
 * LDevID) and has not revoked. The tenant is the device's current owner.
 */
export function deviceResolver(p: Platform): CertificatePrincipalResolver {
  return async (chain) => {
    const leaf = chain[0];
    if (leaf === undefined) return undefined;
    const stored = await goodStoredCertificate(p, leaf, new X509Certificate(leaf));
    if (stored?.deviceId == null) return undefined;
    const device = await p.registry.getDevice(stored.deviceId);
    const principal: Principal = {
      kind: 'device',
      id: device.id,
      tenantId: device.tenantId,
      role: 'device',
      actor: `device:${device.id}`,
      certificateChain: chain,
    };
    return principal;
  };
}

/** The stored, unrevoked certificate that is byte for byte this leaf (so Imprint issued it), or undefined. */
async function goodStoredCertificate(
  p: Platform,
  leaf: Uint8Array,
  cert: X509Certificate,
): Promise<{ tenantId: string; deviceId: string | null } | undefined> {
  const row = await p.store.db
    .selectFrom('certificates')
    .select(['der', 'status', 'tenant_id', 'device_id'])
    .where('serial_hex', '=', cert.serialNumber.toLowerCase().replace(/^0+/, ''))
    .executeTakeFirst();
  if (row === undefined || row.status !== 'good' || !bytesEqual(new Uint8Array(row.der), leaf))
    return undefined;
  return { tenantId: row.tenant_id, deviceId: row.device_id };
}
