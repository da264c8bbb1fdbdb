import { pino, type Logger } from 'pino';

/** Paths pino blanks out in every log line, so secrets never reach logs. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'pin',
  'password',
  'kek',
  '*.token',
  '*.secret',
  '*.pin',
  '*.password',
  '*.privateKey',
  '*.claimCode',
];

/** The process logger: JSON lines, secrets redacted. */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger };
