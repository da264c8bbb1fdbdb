import type { FastifyInstance } from 'fastify';
import type { CertificatePrincipalResolver } from '../server/auth.ts';
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
export function serveHooks(_p: Platform): Promise<ServeHooks> {
  return Promise.resolve({
    features: [],
    certificateResolvers: [],
    clientCas: [],
    tick: () => Promise.resolve(),
  });
}
