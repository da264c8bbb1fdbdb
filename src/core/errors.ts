/**
 * Typed errors. Every failure the platform reports carries a stable `code` (listed in docs/errors.md),
 * an HTTP status and a message that is safe to show to the caller (never a secret, never a stack).
 */

/** Options accepted by every ImprintError constructor. */
export interface ErrorOptions {
  /** Machine-readable context that is safe to return to the caller. */
  readonly details?: Record<string, unknown>;
  /** The underlying error; kept for logs, never serialised to clients. */
  readonly cause?: unknown;
}

/** Base of every error Imprint raises on purpose. */
export class ImprintError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, status: number, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.details = options.details;
  }

  /** The JSON body sent to API clients. */
  toJSON(): { error: { code: string; message: string; details?: Record<string, unknown> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** 400: the input is malformed or violates a policy. */
export class ValidationError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 400, message, options);
  }
}

/** 401: the caller did not prove who it is. */
export class AuthenticationError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 401, message, options);
  }
}

/** 403: the caller is known but may not do this. */
export class ForbiddenError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 403, message, options);
  }
}

/** 404: the named thing does not exist (or is not visible to this caller). */
export class NotFoundError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 404, message, options);
  }
}

/** 409: the request conflicts with the current state. */
export class ConflictError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 409, message, options);
  }
}

/** 413: the body is larger than the route accepts. */
export class PayloadTooLargeError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 413, message, options);
  }
}

/** 429: the caller exceeded its rate limit. */
export class RateLimitError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 429, message, options);
  }
}

/** 500: an internal invariant failed; the message stays generic. */
export class InternalError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 500, message, options);
  }
}

/** 503: a dependency (HSM, database) is unavailable. */
export class UnavailableError extends ImprintError {
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(code, 503, message, options);
  }
}

/** True when `e` is an ImprintError with the given code. */
export function hasCode(e: unknown, code: string): boolean {
  return e instanceof ImprintError && e.code === code;
}
