import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ImprintError } from '../core/errors.ts';

interface MappedError {
  readonly status: number;
  readonly body: { error: { code: string; message: string; details?: Record<string, unknown> } };
}

/** Maps any thrown value to the stable JSON error shape; internal details stay in the log. */
export function mapError(err: unknown): MappedError {
  if (err instanceof ImprintError) return { status: err.status, body: err.toJSON() };
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe.validation !== undefined) {
    return fail(
      400,
      'ERR_VALIDATION',
      `invalid ${fe.validationContext ?? 'request'}: ${fe.message ?? ''}`.trim(),
    );
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return fail(413, 'ERR_BODY_TOO_LARGE', 'request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return fail(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return fail(400, 'ERR_BODY_MALFORMED', 'request body is not valid JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return fail(400, 'ERR_BODY_MALFORMED', 'content length does not match the body');
    case 'FST_ERR_RATE_LIMIT_EXCEEDED':
      return fail(429, 'ERR_RATE_LIMITED', 'rate limit exceeded; retry later');
    default:
      break;
  }
  if (err instanceof SyntaxError && fe.statusCode === 400) {
    return fail(400, 'ERR_BODY_MALFORMED', 'request body is not valid JSON');
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return fail(fe.statusCode, 'ERR_BAD_REQUEST', 'the request was refused');
  }
  return fail(500, 'ERR_INTERNAL', 'internal error');
}

function fail(status: number, code: string, message: string): MappedError {
  return { status, body: { error: { code, message } } };
}

/** Fastify error handler producing `{error:{code,message}}` with the error's status. */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = mapError(err);
  if (status >= 500) request.log.error({ err }, 'request failed');
  else request.log.info({ code: body.error.code }, 'request refused');
  return reply.code(status).type('application/json').send(body);
}
