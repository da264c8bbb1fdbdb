import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/types.ts';
import { AuthenticationError, ForbiddenError, ImprintError, InternalError } from '../core/errors.ts';
import type { TokenService } from '../registry/tokens.ts';
import type { Store } from '../store/database.ts';
import { verifiedChain } from './peer-chain.ts';
import type { Principal } from './types.ts';

/** Maps a verified client certificate chain (leaf first) to a principal, or undefined if it is not one of ours. */
export type CertificatePrincipalResolver = (chain: readonly Uint8Array[]) => Promise<Principal | undefined>;

/** What the auth hook needs. */
export interface AuthDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly tokens: TokenService;
  readonly certificateResolvers: readonly CertificatePrincipalResolver[];
}

/**
 * Authenticates every request before its handler: API tokens (Bearer) for operators, client certificates
 * (mutual TLS) for stations and devices. Deny by default: a route without `config.access` is refused.
 * Refusals that are security events (bad or revoked tokens, wrong role) are audited.
 */
export function installAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config?.access;
    if (request.routeOptions.url === undefined) return; // 404s fall through to the not-found handler
    if (access === undefined) throw new InternalError('ERR_ROUTE_ACCESS_UNSET', 'route has no access rule');
    if (access === 'public') return;
    const chain = verifiedChain(request);
    if (access === 'device') {
      if (chain.length === 0) {
        throw new AuthenticationError('ERR_AUTH_CLIENT_CERT_REQUIRED', 'a client certificate is required');
      }
      request.principal = await fromCertificate(deps, chain);
      return;
    }
    const principal = await authenticate(request, deps, chain);
    request.principal = principal;
    if (!(access.roles as readonly string[]).includes(principal.role)) {
      await auditDenied(deps, principal.actor, request, 'authz.denied', principal.tenantId, {
        role: principal.role,
        allowed: access.roles,
      });
      throw new ForbiddenError(
        'ERR_FORBIDDEN_ROLE',
        `role ${principal.role} may not ${request.method} this resource`,
      );
    }
  });
}

async function authenticate(
  request: FastifyRequest,
  deps: AuthDeps,
  chain: readonly Uint8Array[],
): Promise<Principal> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (m === null)
      throw new AuthenticationError('ERR_AUTH_TOKEN_MALFORMED', 'Authorization must be "Bearer <token>"');
    try {
      const t = await deps.tokens.authenticate(m[1] ?? '');
      return { kind: 'token', id: t.id, tenantId: t.tenantId, role: t.role, actor: `token:${t.id}` };
    } catch (e) {
      if (e instanceof ImprintError && e.code !== 'ERR_AUTH_TOKEN_MALFORMED') {
        const tokenId = typeof e.details?.tokenId === 'string' ? e.details.tokenId : undefined;
        await auditDenied(
          deps,
          tokenId === undefined ? 'anonymous' : `token:${tokenId}`,
          request,
          'auth.denied',
          null,
          {
            code: e.code,
          },
        );
        throw new AuthenticationError(e.code, e.message);
      }
      throw e;
    }
  }
  const fromCert = await fromCertificate(deps, chain);
  if (fromCert !== undefined) return fromCert;
  throw new AuthenticationError(
    'ERR_AUTH_REQUIRED',
    'authentication required: a bearer token or a client certificate',
  );
}

async function fromCertificate(deps: AuthDeps, chain: readonly Uint8Array[]): Promise<Principal | undefined> {
  if (chain.length === 0) return undefined;
  for (const resolve of deps.certificateResolvers) {
    const p = await resolve(chain);
    if (p !== undefined) return p;
  }
  return undefined;
}

async function auditDenied(
  deps: AuthDeps,
  actor: string,
  request: FastifyRequest,
  action: string,
  tenantId: string | null,
  details: Record<string, unknown>,
): Promise<void> {
  await deps.store.transaction((tx) =>
    deps.audit.append(tx, {
      actor,
      action,
      subject: `${request.method} ${request.routeOptions.url ?? request.url}`,
      tenantId,
      details: { ...details, ip: request.ip },
    }),
  );
}
