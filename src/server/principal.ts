import type { FastifyRequest } from 'fastify';
import { AuthenticationError } from '../core/errors.ts';
import type { Principal } from './types.ts';

/** The request's principal; throws ERR_AUTH_REQUIRED if the auth hook did not set one. */
export function requirePrincipal(request: FastifyRequest): Principal {
  if (request.principal === undefined)
    throw new AuthenticationError('ERR_AUTH_REQUIRED', 'authentication required');
  return request.principal;
}
