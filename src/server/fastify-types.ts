import type { Access, Principal } from './types.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by the auth hook for every non-public route. */
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** Who may call the route; routes without it are refused (deny by default). */
    access?: Access;
  }
}
