import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { ImprintError, ValidationError } from '../core/errors.ts';
import { fromBase64, toBase64 } from '../core/encoding.ts';

/** Environment variable that may carry the key-encryption key (base64 of 32 bytes). */
export const KEK_ENV = 'IMPRINT_KEK';

/**
 * Loads the 32-byte key-encryption key from IMPRINT_KEK or from `file`.
 * Throws ERR_KEK_MISSING, ERR_KEK_MALFORMED, ERR_KEK_FILE_MODE (file readable by group/others).
 */
export function loadKek(file: string, env: NodeJS.ProcessEnv = process.env): Uint8Array {
  const fromEnv = env[KEK_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return decode(fromEnv, KEK_ENV);
  if (!existsSync(file)) {
    throw new ImprintError(
      'ERR_KEK_MISSING',
      500,
      `no key-encryption key: set ${KEK_ENV} or run imprint init`,
    );
  }
  if ((statSync(file).mode & 0o077) !== 0) {
    throw new ImprintError('ERR_KEK_FILE_MODE', 500, `key-encryption key file ${file} must have mode 0600`);
  }
  return decode(readFileSync(file, 'utf8').trim(), file);
}

/** Creates a new random KEK file with mode 0600; refuses to overwrite one. Throws ERR_KEK_EXISTS. */
export function createKekFile(file: string): void {
  if (existsSync(file)) throw new ImprintError('ERR_KEK_EXISTS', 409, `${file} already exists`);
  const kek = randomBytes(32);
  writeFileSync(file, `${toBase64(kek)}\n`, { mode: 0o600, flag: 'wx' });
  kek.fill(0);
}

function decode(text: string, where: string): Uint8Array {
  let kek: Uint8Array;
  try {
    kek = fromBase64(text);
  } catch {
    throw new ValidationError('ERR_KEK_MALFORMED', `key-encryption key in ${where} is not base64`);
  }
  if (kek.length !== 32) {
    throw new ValidationError('ERR_KEK_MALFORMED', `key-encryption key in ${where} must be 32 bytes`);
  }
  return kek;
}
