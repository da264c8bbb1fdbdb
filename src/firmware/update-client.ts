import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { ValidationError } from '../core/errors.ts';
import type {
  Envelope,
  RootSigned,
  SnapshotSigned,
  TargetFile,
  TargetsSigned,
  TimestampSigned,
} from './tuf/types.ts';
import {
  parseEnvelope,
  pathMatches,
  requireFresh,
  requireNoRollback,
  requireThreshold,
  requireVersion,
} from './tuf/verify.ts';

/** Fetches a URL, reading at most `maxLength + 1` bytes; `undefined` when the server says 404/403. */
export type Fetcher = (url: string, maxLength: number) => Promise<Uint8Array | undefined>;

/** Where a device keeps the metadata it trusts (root, timestamp, snapshot, targets, delegated roles). */
export interface TrustedMetadataStore {
  load(role: string): Uint8Array | undefined;
  save(role: string, bytes: Uint8Array): void;
  remove(role: string): void;
}

/** Trusted metadata in memory. */
export class MemoryMetadataStore implements TrustedMetadataStore {
  readonly #m = new Map<string, Uint8Array>();

  constructor(initialRoot?: Uint8Array) {
    if (initialRoot !== undefined) this.#m.set('root', initialRoot);
  }

  /** See TrustedMetadataStore.load. */
  load(role: string): Uint8Array | undefined {
    return this.#m.get(role);
  }

  /** See TrustedMetadataStore.save. */
  save(role: string, bytes: Uint8Array): void {
    this.#m.set(role, Uint8Array.from(bytes));
  }

  /** See TrustedMetadataStore.remove. */
  remove(role: string): void {
    this.#m.delete(role);
  }
}

/** A fetcher over HTTP(S) with Node's fetch that stops reading past the limit. */
export function httpFetcher(): Fetcher {
  return async (url, maxLength) => {
    const res = await fetch(url);
    if (res.status === 404 || res.status === 403) return undefined;
    if (!res.ok || res.body === null)
      throw new ValidationError('ERR_TUF_FETCH_FAILED', `GET ${url} answered ${res.status}`);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      chunks.push(chunk);
      total += chunk.length;
      if (total > maxLength) break;
    }
    return new Uint8Array(Buffer.concat(chunks));
  };
}

/** A target the client chose, with its verified TUF description. */
export interface TargetChoice {
  readonly path: string;
  readonly info: TargetFile;
}

const LIMITS = { timestamp: 16_384, snapshot: 2_000_000, targets: 5_000_000, root: 512_000, rotations: 32 };

function refuse(code: string, message: string): never {
  throw new ValidationError(code, message);
}

/**
 * The device-side TUF client (TUF spec §5): updates root through every intermediate version, then
 * timestamp, snapshot, targets and the device model's delegated role, refusing rollback, freeze,
 * mix-and-match, too few or unauthorised signatures; then downloads a target with length and hash checks.
 */
export class UpdateClient {
  readonly #fetch: Fetcher;
  readonly #store: TrustedMetadataStore;
  readonly #meta: string;
  readonly #targets: string;
  readonly #clock: Clock;

  constructor(o: {
    fetcher: Fetcher;
    store: TrustedMetadataStore;
    metadataBaseUrl: string;
    targetBaseUrl: string;
    clock: Clock;
  }) {
    this.#fetch = o.fetcher;
    this.#store = o.store;
    this.#meta = o.metadataBaseUrl.replace(/\/$/, '');
    this.#targets = o.targetBaseUrl.replace(/\/$/, '');
    this.#clock = o.clock;
  }

  /**
   * Refreshes all top-level metadata and returns the trusted targets of `modelId`'s delegated role.
   * Throws ERR_TUF_NO_TRUSTED_ROOT, ERR_TUF_METADATA_MISSING, ERR_TUF_TOO_LARGE, ERR_TUF_BAD_METADATA,
   * ERR_TUF_THRESHOLD_NOT_MET, ERR_TUF_UNAUTHORISED_KEY, ERR_TUF_ROLLBACK, ERR_TUF_EXPIRED, ERR_TUF_MIX_AND_MATCH.
   */
  async refresh(modelId: string): Promise<TargetChoice[]> {
    const root = await this.#updateRoot();
    const ts = await this.#updateTimestamp(root);
    const snap = await this.#updateSnapshot(root, ts);
    const targets = await this.#updateTargets(snap, 'targets', root.keys, root.roles.targets, 'targets');
    const roleName = `model-${modelId}`;
    const delegation = targets.delegations?.roles.find((r) => r.name === roleName);
    if (delegation === undefined || targets.delegations === undefined) return [];
    const delegated = await this.#updateTargets(
      snap,
      roleName,
      targets.delegations.keys,
      delegation,
      roleName,
    );
    return Object.entries(delegated.targets)
      .filter(
        ([path, info]) =>
          delegation.paths.some((p) => pathMatches(p, path)) && info.custom?.modelId === modelId,
      )
      .map(([path, info]) => ({ path, info }));
  }

  /** Downloads a chosen target, refusing more bytes than listed or a wrong hash. Throws ERR_TUF_TARGET_TOO_LARGE, ERR_TUF_TARGET_HASH_MISMATCH, ERR_TUF_METADATA_MISSING. */
  async download(t: TargetChoice): Promise<Uint8Array> {
    const slash = t.path.lastIndexOf('/');
    const url = `${this.#targets}/${t.path.slice(0, slash + 1)}${t.info.hashes.sha256}.${t.path.slice(slash + 1)}`;
    const bytes = await this.#fetch(url, t.info.length);
    if (bytes === undefined) refuse('ERR_TUF_METADATA_MISSING', `target ${t.path} is missing`);
    if (bytes.length > t.info.length)
      refuse('ERR_TUF_TARGET_TOO_LARGE', `target ${t.path} is larger than its ${t.info.length} bytes`);
    if (
      bytes.length !== t.info.length ||
      createHash('sha256').update(bytes).digest('hex') !== t.info.hashes.sha256
    ) {
      refuse('ERR_TUF_TARGET_HASH_MISMATCH', `target ${t.path} does not match its length and hash`);
    }
    return bytes;
  }

  async #get(name: string, max: number, required = true): Promise<Uint8Array | undefined> {
    const bytes = await this.#fetch(`${this.#meta}/${name}`, max);
    if (bytes === undefined && required) refuse('ERR_TUF_METADATA_MISSING', `${name} is missing`);
    if (bytes !== undefined && bytes.length > max)
      refuse('ERR_TUF_TOO_LARGE', `${name} exceeds ${max} bytes`);
    return bytes;
  }

  #trusted<T extends { version: number; expires: string; _type: string; spec_version: string }>(
    role: string,
    type: string,
  ): Envelope<T> | undefined {
    const b = this.#store.load(role);
    return b === undefined ? undefined : parseEnvelope<T>(b, type);
  }

  async #updateRoot(): Promise<RootSigned> {
    let trusted = this.#trusted<RootSigned>('root', 'root');
    if (trusted === undefined) return refuse('ERR_TUF_NO_TRUSTED_ROOT', 'the device holds no trusted root');
    const first = trusted.signed;
    for (let i = 0; i < LIMITS.rotations; i++) {
      const v = trusted.signed.version + 1;
      const bytes = await this.#get(`${v}.root.json`, LIMITS.root, false);
      if (bytes === undefined) break;
      const next = parseEnvelope<RootSigned>(bytes, 'root');
      // A new root needs the old root's threshold and its own.
      requireThreshold('root', next, trusted.signed.keys, trusted.signed.roles.root);
      requireThreshold('root', next, next.signed.keys, next.signed.roles.root);
      if (next.signed.version !== v)
        refuse('ERR_TUF_ROLLBACK', `root ${v}.root.json carries version ${next.signed.version}`);
      this.#store.save('root', bytes);
      trusted = next;
    }
    const root = trusted.signed;
    requireFresh('root', root, this.#clock.now());
    // After a timestamp or snapshot key rotation, drop what the old keys vouched for (fast-forward recovery).
    for (const role of ['timestamp', 'snapshot'] as const) {
      if (JSON.stringify(first.roles[role]) !== JSON.stringify(root.roles[role])) this.#store.remove(role);
    }
    return root;
  }

  async #updateTimestamp(root: RootSigned): Promise<TimestampSigned> {
    const bytes = (await this.#get('timestamp.json', LIMITS.timestamp)) as Uint8Array;
    const next = parseEnvelope<TimestampSigned>(bytes, 'timestamp');
    requireThreshold('timestamp', next, root.keys, root.roles.timestamp);
    const trusted = this.#trusted<TimestampSigned>('timestamp', 'timestamp')?.signed;
    requireNoRollback('timestamp', next.signed.version, trusted?.version);
    const snapMeta = next.signed.meta['snapshot.json'];
    if (snapMeta === undefined) refuse('ERR_TUF_BAD_METADATA', 'timestamp names no snapshot');
    requireNoRollback('snapshot', snapMeta.version, trusted?.meta['snapshot.json']?.version);
    requireFresh('timestamp', next.signed, this.#clock.now());
    this.#store.save('timestamp', bytes);
    return next.signed;
  }

  async #updateSnapshot(root: RootSigned, ts: TimestampSigned): Promise<SnapshotSigned> {
    const meta = ts.meta['snapshot.json'] ?? refuse('ERR_TUF_BAD_METADATA', 'timestamp names no snapshot');
    const bytes = (await this.#get(
      `${meta.version}.snapshot.json`,
      meta.length ?? LIMITS.snapshot,
    )) as Uint8Array;
    if (
      (meta.length !== undefined && bytes.length !== meta.length) ||
      (meta.hashes !== undefined && createHash('sha256').update(bytes).digest('hex') !== meta.hashes.sha256)
    ) {
      refuse('ERR_TUF_MIX_AND_MATCH', 'snapshot does not match the length and hash the timestamp names');
    }
    const next = parseEnvelope<SnapshotSigned>(bytes, 'snapshot');
    requireThreshold('snapshot', next, root.keys, root.roles.snapshot);
    requireVersion('snapshot', next.signed.version, meta.version);
    const trusted = this.#trusted<SnapshotSigned>('snapshot', 'snapshot')?.signed;
    for (const [name, m] of Object.entries(trusted?.meta ?? {})) {
      const now = next.signed.meta[name];
      if (now === undefined) refuse('ERR_TUF_ROLLBACK', `snapshot dropped ${name}`);
      requireNoRollback(name, now.version, m.version);
    }
    requireFresh('snapshot', next.signed, this.#clock.now());
    this.#store.save('snapshot', bytes);
    return next.signed;
  }

  async #updateTargets(
    snap: SnapshotSigned,
    role: string,
    keys: RootSigned['keys'],
    roleKeys: { keyids: readonly string[]; threshold: number },
    label: string,
  ): Promise<TargetsSigned> {
    const meta =
      snap.meta[`${role}.json`] ?? refuse('ERR_TUF_MIX_AND_MATCH', `snapshot does not list ${role}`);
    const bytes = (await this.#get(
      `${meta.version}.${encodeURIComponent(role)}.json`,
      meta.length ?? LIMITS.targets,
    )) as Uint8Array;
    const next = parseEnvelope<TargetsSigned>(bytes, 'targets');
    requireThreshold(label, next, keys, roleKeys);
    requireVersion(label, next.signed.version, meta.version);
    requireFresh(label, next.signed, this.#clock.now());
    this.#store.save(role, bytes);
    return next.signed;
  }
}
