import { ValidationError } from '../../core/errors.ts';
import type { ImageVersion } from './types.ts';

/** Parses `major[.minor[.revision]][+build]` as imgtool's `-v` does. Throws ERR_FIRMWARE_BAD_VERSION. */
export function parseVersion(text: string): ImageVersion {
  const m = /^(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:\+(\d+))?$/.exec(text.trim());
  const major = Number(m?.[1] ?? NaN);
  const minor = Number(m?.[2] ?? 0);
  const revision = Number(m?.[3] ?? 0);
  const build = Number(m?.[4] ?? 0);
  if (m === null || major > 0xff || minor > 0xff || revision > 0xffff || build > 0xffffffff) {
    throw new ValidationError('ERR_FIRMWARE_BAD_VERSION', `not an MCUboot version: ${text}`);
  }
  return { major, minor, revision, build };
}
