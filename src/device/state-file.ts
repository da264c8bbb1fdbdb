import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { decode, encode } from 'cbor2';
import { ImprintError } from '../core/errors.ts';

/** Reads a CBOR state file. Throws ERR_DEVICE_STATE_UNREADABLE. */
export function readStateFile(path: string): unknown {
  try {
    return decode(new Uint8Array(readFileSync(path)));
  } catch (cause) {
    throw new ImprintError('ERR_DEVICE_STATE_UNREADABLE', 500, `device state ${path} cannot be read`, {
      cause,
    });
  }
}

/**
 * Writes a CBOR state file atomically: a temp file in the same directory, fsync, rename over the old
 * one. A crash leaves either the old or the new state, never a torn one.
 */
export function writeStateFile(path: string, value: unknown, durable = true): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, encode(value));
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
