import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { KeyAlgorithm } from '../../keys/types.ts';
import type { FirmwareActor, FirmwareDeps } from '../types.ts';
import {
  DEFAULT_EXPIRIES,
  emptyTargets,
  expiresIn,
  rootSigned,
  seal,
  snapshotSigned,
  timestampSigned,
  type Expiries,
} from './build.ts';
import { tufKeyOf } from './keys.ts';
import {
  commitDocs,
  loadState,
  readMetadata,
  readTarget,
  splitKey,
  type Doc,
  type KeyRow,
  type State,
} from './store.ts';
import {
  TOP_ROLES,
  type RoleKeys,
  type RootSigned,
  type TargetsSigned,
  type TopRole,
  type TufKey,
} from './types.ts';

const ROLE_ALG: Record<TopRole, KeyAlgorithm> = {
  root: 'ed25519',
  targets: 'ecdsa-p256',
  snapshot: 'ed25519',
  timestamp: 'ecdsa-p256',
};

/**
 * A tenant's TUF repository: root, targets (delegating one role per device model), snapshot and
 * timestamp, signed by KeyStore keys and kept in the store. Every change writes all affected
 * metadata and its audit entry in one transaction; signing happens before it.
 */
export class TufRepository {
  readonly #d: FirmwareDeps;
  readonly #exp: Expiries;

  constructor(deps: FirmwareDeps, expiries: Expiries = DEFAULT_EXPIRIES) {
    this.#d = deps;
    this.#exp = expiries;
  }

  /** Creates keys and the first version of every role. Throws ERR_TUF_ALREADY_INITIALISED, ERR_TUF_BAD_THRESHOLD. */
  async init(by: FirmwareActor, options: { rootKeys?: number; rootThreshold?: number } = {}): Promise<void> {
    const n = options.rootKeys ?? 1;
    const threshold = options.rootThreshold ?? 1;
    if (!Number.isInteger(n) || !Number.isInteger(threshold) || threshold < 1 || threshold > n || n > 8) {
      throw new ValidationError(
        'ERR_TUF_BAD_THRESHOLD',
        'root threshold must be 1..number of root keys (≤ 8)',
      );
    }
    if ((await loadState(this.#d, by.tenantId)).latest.has('root')) {
      throw new ConflictError('ERR_TUF_ALREADY_INITIALISED', 'the TUF repository exists');
    }
    const keys: KeyRow[] = [];
    for (const role of TOP_ROLES)
      for (let i = 0; i < (role === 'root' ? n : 1); i++)
        keys.push(await this.#newKey(by.tenantId, role, ROLE_ALG[role]));
    const now = this.#d.clock.now();
    const root = this.#root(1, keys, threshold);
    const docs = [
      await this.#doc('root', root, ids(keys, 'root')),
      await this.#doc('targets', emptyTargets(1, expiresIn(now, this.#exp.targets)), ids(keys, 'targets')),
    ];
    docs.push(...(await this.#snapshotAndTimestamp(keys, new Map([['targets', 1]]), 1, 1)));
    await commitDocs(this.#d, by, docs, keys, {
      action: 'tuf.initialised',
      subject: by.tenantId,
      details: { rootKeys: n, rootThreshold: threshold },
    });
  }

  /**
   * Publishes a signed image as a target of its device model's delegated role (created on first
   * use), then new snapshot and timestamp. Returns the target path. Throws ERR_TUF_NOT_INITIALISED,
   * ERR_FIRMWARE_IMAGE_NOT_FOUND, ERR_TUF_TARGET_EXISTS.
   */
  async addTarget(
    by: FirmwareActor,
    imageDigest: string,
    model: { id: string; name: string },
  ): Promise<string> {
    const state = await this.#initialised(by.tenantId);
    const image = await this.#d.store.db
      .selectFrom('firmware_images')
      .select(['digest', 'image_hash', 'version', 'security_counter', 'size'])
      .where('digest', '=', imageDigest)
      .where('tenant_id', '=', by.tenantId)
      .executeTakeFirst();
    if (image === undefined)
      throw new NotFoundError('ERR_FIRMWARE_IMAGE_NOT_FOUND', `no image ${imageDigest}`);
    const path = `${model.id}/firmware-${image.version}.bin`;
    const clash = await this.#d.store.db
      .selectFrom('tuf_targets')
      .select('path')
      .where('tenant_id', '=', by.tenantId)
      .where('path', '=', path)
      .executeTakeFirst();
    if (clash !== undefined) throw new ConflictError('ERR_TUF_TARGET_EXISTS', `target ${path} exists`);
    const now = this.#d.clock.now();
    const roleName = `model-${model.id}`;
    const docs: Doc[] = [];
    const newKeys: KeyRow[] = [];
    const versions = targetVersions(state);
    if (!state.latest.has(roleName)) {
      const k = await this.#newKey(by.tenantId, roleName, 'ed25519');
      newKeys.push(k);
      const top = state.latest.get('targets')?.signed as TargetsSigned;
      const delegation = {
        name: roleName,
        keyids: [k.tufKeyId],
        threshold: 1,
        terminating: true,
        paths: [`${model.id}/*`],
      };
      const signed: TargetsSigned = {
        ...top,
        version: top.version + 1,
        expires: expiresIn(now, this.#exp.targets),
        delegations: {
          keys: { ...(top.delegations?.keys ?? {}), [k.tufKeyId]: k.key },
          roles: [...(top.delegations?.roles ?? []), delegation],
        },
      };
      docs.push(await this.#doc('targets', signed, ids(state.keys, 'targets')));
      versions.set('targets', signed.version);
    }
    const prev = (state.latest.get(roleName)?.signed as TargetsSigned | undefined) ?? emptyTargets(0, '');
    const custom = {
      hardwareModel: model.name,
      modelId: model.id,
      version: image.version,
      securityCounter: image.security_counter,
      imageHash: image.image_hash,
    };
    const delegated: TargetsSigned = {
      ...prev,
      version: prev.version + 1,
      expires: expiresIn(now, this.#exp.delegated),
      targets: { ...prev.targets, [path]: { length: image.size, hashes: { sha256: image.digest }, custom } },
    };
    docs.push(await this.#doc(roleName, delegated, ids([...state.keys, ...newKeys], roleName)));
    versions.set(roleName, delegated.version);
    docs.push(
      ...(await this.#snapshotAndTimestamp(
        state.keys,
        versions,
        nextVersion(state, 'snapshot'),
        nextVersion(state, 'timestamp'),
      )),
    );
    await commitDocs(
      this.#d,
      by,
      docs,
      newKeys,
      {
        action: 'tuf.target_added',
        subject: path,
        details: { imageDigest, modelId: model.id, version: image.version },
      },
      async (tx) => {
        await tx
          .insertInto('tuf_targets')
          .values({
            tenant_id: by.tenantId,
            path,
            role: roleName,
            image_digest: imageDigest,
            sha256: image.digest,
            custom: JSON.stringify(custom),
            created_at: now.toISOString(),
          })
          .execute();
      },
    );
    return path;
  }

  /**
   * Replaces the keys of a top-level role (revoking the old ones): a new root signed by the old and
   * the new root keys, then the affected metadata re-signed. Throws ERR_TUF_NOT_INITIALISED.
   */
  async rotateKey(by: FirmwareActor, role: TopRole): Promise<void> {
    const state = await this.#initialised(by.tenantId);
    const oldRoot = state.latest.get('root')?.signed as RootSigned;
    const fresh = await this.#newKey(by.tenantId, role, ROLE_ALG[role]);
    const revoked = state.keys.filter((k) => k.role === role);
    const keys = [...state.keys.filter((k) => k.role !== role), fresh];
    const threshold = role === 'root' ? 1 : oldRoot.roles.root.threshold;
    const root = this.#root(oldRoot.version + 1, keys, threshold);
    // A new root must satisfy both the old root's threshold and its own.
    const docs = [
      await this.#doc('root', root, [...new Set([...ids(state.keys, 'root'), ...ids(keys, 'root')])]),
    ];
    const versions = targetVersions(state);
    if (role === 'targets') {
      const top = state.latest.get('targets')?.signed as TargetsSigned;
      const signed = {
        ...top,
        version: top.version + 1,
        expires: expiresIn(this.#d.clock.now(), this.#exp.targets),
      };
      docs.push(await this.#doc('targets', signed, ids(keys, 'targets')));
      versions.set('targets', signed.version);
    }
    docs.push(
      ...(await this.#snapshotAndTimestamp(
        keys,
        versions,
        nextVersion(state, 'snapshot'),
        nextVersion(state, 'timestamp'),
      )),
    );
    await commitDocs(
      this.#d,
      by,
      docs,
      [fresh],
      {
        action: 'tuf.key_rotated',
        subject: role,
        details: {
          revoked: revoked.map((k) => k.tufKeyId),
          added: fresh.tufKeyId,
          rootVersion: root.version,
        },
      },
      async (tx) => {
        for (const k of revoked) {
          await tx
            .updateTable('tuf_keys')
            .set({ state: 'revoked' })
            .where('tenant_id', '=', by.tenantId)
            .where('key_id', '=', k.keyId)
            .execute();
        }
      },
    );
  }

  /** Re-issues snapshot and timestamp with fresh expiry (run periodically). Throws ERR_TUF_NOT_INITIALISED. */
  async refresh(by: FirmwareActor): Promise<void> {
    const state = await this.#initialised(by.tenantId);
    const docs = await this.#snapshotAndTimestamp(
      state.keys,
      targetVersions(state),
      nextVersion(state, 'snapshot'),
      nextVersion(state, 'timestamp'),
    );
    await commitDocs(this.#d, by, docs, [], { action: 'tuf.refreshed', subject: by.tenantId, details: {} });
  }

  /** A metadata file as served: `N.role.json` or `role.json` (latest). Throws ERR_TUF_METADATA_NOT_FOUND. */
  metadata(tenantId: string, name: string): Promise<string> {
    return readMetadata(this.#d.store.db, tenantId, name);
  }

  /** A target file by path, optionally with the consistent-snapshot hash prefix. Throws ERR_TUF_TARGET_NOT_FOUND. */
  target(tenantId: string, path: string): Promise<Uint8Array> {
    return readTarget(this.#d.store.db, tenantId, path);
  }

  async #initialised(tenantId: string): Promise<State> {
    const s = await loadState(this.#d, tenantId);
    if (!s.latest.has('root'))
      throw new NotFoundError('ERR_TUF_NOT_INITIALISED', 'the TUF repository is not initialised');
    return s;
  }

  async #newKey(tenantId: string, role: string, alg: KeyAlgorithm): Promise<KeyRow> {
    const info = await this.#d.keys.generate(
      `tuf:${tenantId}:${role}:${randomBytes(6).toString('hex')}`,
      alg,
    );
    return { role, keyId: info.id, ...splitKey(tufKeyOf(info)) };
  }

  #root(version: number, keys: readonly KeyRow[], rootThreshold: number): RootSigned {
    const map: Record<string, TufKey> = {};
    const roles = {} as Record<TopRole, RoleKeys>;
    for (const role of TOP_ROLES) {
      const mine = keys.filter((k) => k.role === role);
      for (const k of mine) map[k.tufKeyId] = k.key;
      roles[role] = { keyids: mine.map((k) => k.tufKeyId), threshold: role === 'root' ? rootThreshold : 1 };
    }
    return rootSigned(version, expiresIn(this.#d.clock.now(), this.#exp.root), map, roles);
  }

  async #snapshotAndTimestamp(
    keys: readonly KeyRow[],
    versions: ReadonlyMap<string, number>,
    snapV: number,
    tsV: number,
  ): Promise<Doc[]> {
    const now = this.#d.clock.now();
    const snap = await this.#doc(
      'snapshot',
      snapshotSigned(snapV, expiresIn(now, this.#exp.snapshot), versions),
      ids(keys, 'snapshot'),
    );
    const ts = await this.#doc(
      'timestamp',
      timestampSigned(tsV, expiresIn(now, this.#exp.timestamp), snapV, snap.body),
      ids(keys, 'timestamp'),
    );
    return [snap, ts];
  }

  async #doc(
    role: string,
    signed: { version: number; expires: string },
    keyIds: readonly string[],
  ): Promise<Doc> {
    const { body } = await seal(this.#d.keys, keyIds, signed);
    return { role, version: signed.version, body, expires: signed.expires };
  }
}

function ids(keys: readonly KeyRow[], role: string): string[] {
  return keys.filter((k) => k.role === role).map((k) => k.keyId);
}

function targetVersions(state: State): Map<string, number> {
  const out = new Map<string, number>();
  for (const [role, v] of state.latest)
    if (role === 'targets' || role.startsWith('model-')) out.set(role, v.version);
  return out;
}

function nextVersion(state: State, role: string): number {
  return (state.latest.get(role)?.version ?? 0) + 1;
}

/** Hex SHA-256 of bytes (target hashes). */
export function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
