import type { FastifyInstance } from 'fastify';
import type { CertificatePrincipalResolver } from '../server/auth.ts';
import {
  clientCas,
  createFeatures,
  deviceResolver,
  featureRoutes,
  stationResolver,
} from '../server/features.ts';
import type { Platform } from '../server/platform.ts';

/** What each feature adds to a running server: routes, client-certificate principals, trusted client CAs, periodic work. */
export interface ServeHooks {
  readonly features: ((app: FastifyInstance) => Promise<void>)[];
  readonly certificateResolvers: CertificatePrincipalResolver[];
  readonly clientCas: string[];
  /** Periodic work (tree-head signing, CRL refresh); also run once at shutdown. */
  tick(): Promise<void>;
}

/** Collects every feature's contribution to `imprint serve`. */
export async function serveHooks(p: Platform): Promise<ServeHooks> {
  const f = createFeatures(p);
  return {
    features: featureRoutes(p, f),
    certificateResolvers: [stationResolver(p), deviceResolver(p)],
    clientCas: await clientCas(p, f),
    async tick() {
      // CRLs that are due are re-signed; a new signed tree head whenever the log has grown.
      await f.pki.runScheduled();
      await p.auditService.signTreeHead();
    },
  };
}
