import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ForbiddenError } from '../../core/errors.ts';
import type { RegistryService } from '../../registry/service.ts';
import { TOKEN_ROLES, type TokenService } from '../../registry/tokens.ts';
import { requirePrincipal } from '../principal.ts';
import { errorResponses, IdParams, TokenInfoBody } from './schemas.ts';

const ADMIN = { roles: ['admin'] } as const;

/** API token management under /api/v1/tokens (admin only), plus /api/v1/whoami. */
export async function tokenRoutes(
  app: FastifyInstance,
  deps: { tokens: TokenService; registry: RegistryService },
): Promise<void> {
  app.get(
    '/api/v1/whoami',
    {
      config: { access: { roles: ['admin', 'operator', 'auditor', 'station', 'release-manager'] } },
      schema: {
        tags: ['auth'],
        response: {
          200: Type.Object({
            kind: Type.String(),
            id: Type.String(),
            tenantId: Type.String(),
            role: Type.String(),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => requirePrincipal(request),
  );

  app.get(
    '/api/v1/tokens',
    {
      config: { access: ADMIN },
      schema: { tags: ['auth'], response: { 200: Type.Array(TokenInfoBody), ...errorResponses } },
    },
    async (request) => deps.tokens.list(requirePrincipal(request).tenantId),
  );

  app.post(
    '/api/v1/tokens',
    {
      config: { access: ADMIN },
      schema: {
        tags: ['auth'],
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 64 }),
            role: Type.Union(TOKEN_ROLES.map((r) => Type.Literal(r))),
            tenantId: Type.Optional(Type.String({ maxLength: 64 })),
            expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String(), info: TokenInfoBody }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const p = requirePrincipal(request);
      const body = request.body as { name: string; role: string; tenantId?: string; expiresAt?: string };
      const tenantId = body.tenantId ?? p.tenantId;
      if (tenantId !== p.tenantId) {
        // Only the manufacturer (the platform's operator) may hand a first token to a customer tenant.
        const own = await deps.registry.getTenant(p.tenantId);
        const target = await deps.registry.getTenant(tenantId);
        if (own.kind !== 'manufacturer' || target.kind !== 'owner') {
          throw new ForbiddenError('ERR_FORBIDDEN_TENANT', 'cannot create tokens for another tenant');
        }
      }
      const created = await deps.tokens.create(p, { ...body, tenantId });
      return reply.code(201).header('cache-control', 'no-store').send(created);
    },
  );

  app.delete(
    '/api/v1/tokens/:id',
    {
      config: { access: ADMIN },
      schema: { tags: ['auth'], params: IdParams, response: { 200: TokenInfoBody, ...errorResponses } },
    },
    async (request) =>
      deps.tokens.revoke(
        requirePrincipal(request),
        (request.params as { id: string }).id,
        requirePrincipal(request).tenantId,
      ),
  );
}
