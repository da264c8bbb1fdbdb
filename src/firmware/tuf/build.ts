import { createHash } from 'node:crypto';
import type { KeyStore } from '../../keys/types.ts';
import { signWith } from './keys.ts';
import {
  SPEC_VERSION,
  tufTime,
  type Envelope,
  type MetaFile,
  type RoleKeys,
  type RootSigned,
  type SnapshotSigned,
  type TargetsSigned,
  type TimestampSigned,
  type TopRole,
  type TufKey,
} from './types.ts';

/** How long each role's metadata stays valid, in days. */
export interface Expiries {
  readonly root: number;
  readonly targets: number;
  readonly delegated: number;
  readonly snapshot: number;
  readonly timestamp: number;
}

/** Defaults: root a year, targets a quarter, snapshot a week, timestamp a day. */
export const DEFAULT_EXPIRIES: Expiries = {
  root: 365,
  targets: 90,
  delegated: 90,
  snapshot: 7,
  timestamp: 1,
};

/** Expiry `days` after `now`. */
export function expiresIn(now: Date, days: number): string {
  return tufTime(new Date(now.getTime() + days * 86_400_000));
}

/** The root `signed` object. */
export function rootSigned(
  version: number,
  expires: string,
  keys: Record<string, TufKey>,
  roles: Record<TopRole, RoleKeys>,
): RootSigned {
  return {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version,
    expires,
    consistent_snapshot: true,
    keys,
    roles,
  };
}

/** A snapshot listing every targets role's version. */
export function snapshotSigned(
  version: number,
  expires: string,
  roles: ReadonlyMap<string, number>,
): SnapshotSigned {
  const meta: Record<string, MetaFile> = {};
  for (const [name, v] of [...roles].sort(([a], [b]) => a.localeCompare(b)))
    meta[`${name}.json`] = { version: v };
  return { _type: 'snapshot', spec_version: SPEC_VERSION, version, expires, meta };
}

/** A timestamp pointing at the exact snapshot bytes. */
export function timestampSigned(
  version: number,
  expires: string,
  snapshotVersion: number,
  snapshotBody: string,
): TimestampSigned {
  const bytes = Buffer.from(snapshotBody);
  return {
    _type: 'timestamp',
    spec_version: SPEC_VERSION,
    version,
    expires,
    meta: {
      'snapshot.json': {
        version: snapshotVersion,
        length: bytes.length,
        hashes: { sha256: createHash('sha256').update(bytes).digest('hex') },
      },
    },
  };
}

/** An empty targets `signed` object. */
export function emptyTargets(version: number, expires: string): TargetsSigned {
  return { _type: 'targets', spec_version: SPEC_VERSION, version, expires, targets: {} };
}

/** Signs `signed` with the KeyStore keys and serialises the envelope as served. */
export async function seal<T>(
  keys: KeyStore,
  keyIds: readonly string[],
  signed: T,
): Promise<{ envelope: Envelope<T>; body: string }> {
  const envelope: Envelope<T> = { signatures: await signWith(keys, keyIds, signed), signed };
  return { envelope, body: JSON.stringify(envelope) };
}
