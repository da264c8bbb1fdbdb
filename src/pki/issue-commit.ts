/**
 * Committing issued certificates. Each certificate needs a duplicate-key check, its row, its audit entry
 * and (for an IDevID) the device's identity binding, all in one transaction. Under load, one SQLite
 * write transaction per certificate was the issuance bottleneck, so certificates signed while a commit
 * is running queue up and the next commit stores them together: one transaction (through the store's
 * GroupCommit), one batched audit append (`appendMany`) for their `cert.issued` entries. A caller is
 * answered only after its certificate committed. Outcomes that refuse one certificate (key bound
 * elsewhere, identity key mismatch) are decided without throwing, so they never roll back the others; if
 * the shared transaction fails anyway, every certificate is retried in a transaction of its own.
 */
import { ConflictError } from '../core/errors.ts';
import type { AuditEvent } from '../audit/types.ts';
import type { IdentityBinding } from '../registry/identity-binding.ts';
import type { Device } from '../registry/types.ts';
import type { Tx } from '../store/database.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';
import { insertCertificates } from './cert-rows.ts';
import type { PkiContext } from './context.ts';
import type { LeafProfile } from './profiles.ts';

/** One signed certificate waiting to be stored. */
export interface PendingCertificate {
  readonly by: { actor: string };
  readonly row: CertificatesTable;
  readonly device: Device | null;
  readonly profile: LeafProfile;
  /** The CA key that signed it: the certificate is stored only if its CA is still active with this key. */
  readonly caKeyId: string;
  /** The `cert.issued` audit entry. */
  readonly event: AuditEvent;
}

/** What committing one certificate came to. */
export type CommitOutcome =
  | { readonly kind: 'stored' }
  /** The key is bound to another device or certificate (`boundTo`); nothing stored. */
  | { readonly kind: 'clash'; readonly boundTo: string }
  /** The device already has a different identity key; nothing stored. */
  | { readonly kind: 'identity-mismatch' }
  /** The CA was taken offline (or re-keyed) after the certificate was signed; nothing stored. */
  | { readonly kind: 'ca-offline' };

interface Waiting {
  readonly item: PendingCertificate;
  readonly resolve: (o: CommitOutcome) => void;
  readonly reject: (e: unknown) => void;
}

/** Event-loop turns a group waits at most for announced certificates (each turn runs due I/O callbacks). */
const GATHER_TURNS = 3;

/** Most certificates per shared transaction (bounds the time one commit holds the write lock). */
const MAX_GROUP = 256;

/** Stores signed certificates in groups (see the module comment). */
export class CertificateCommitter {
  readonly #ctx: PkiContext;
  #queue: Waiting[] = [];
  #running = false;
  /** Certificates being signed now, whose commit is about to be asked for. */
  #announced = 0;

  constructor(ctx: PkiContext) {
    this.#ctx = ctx;
  }

  /**
   * Announces a certificate about to be signed: a group starting meanwhile waits a few event-loop turns for
   * it (signatures take tens of microseconds on the thread pool), so concurrent issuances share a commit
   * instead of each paying its own. Call the returned function once, when the certificate was queued with
   * commit() or abandoned.
   */
  announce(): () => void {
    this.#announced += 1;
    let done = false;
    return () => {
      if (!done) this.#announced -= 1;
      done = true;
    };
  }

  /** Stores one certificate with the others waiting; resolves once it is committed (or refused). */
  commit(item: PendingCertificate): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0) {
        for (let turn = 0; turn < GATHER_TURNS && this.#announced > 0; turn++)
          await new Promise((resolve) => setImmediate(resolve));
        const group = this.#queue.splice(0, MAX_GROUP);
        let outcomes: CommitOutcome[];
        try {
          outcomes = await this.#ctx.commits.run((tx) => this.#write(tx, group));
        } catch {
          for (const w of group) {
            await this.#ctx.commits.run((tx) => this.#write(tx, [w])).then(([o]) => w.resolve(o!), w.reject);
          }
          continue;
        }
        group.forEach((w, i) => w.resolve(outcomes[i]!));
      }
    } finally {
      this.#running = false;
    }
  }

  /**
   * The group's writes: one check that each CA is still active with the key that signed (signing handles
   * are kept in memory, see issuance-signer.ts), two lookups for every key in the group, then the
   * decisions in memory (so a key certified earlier in the same group counts too), one multi-row insert,
   * then the identity bindings and all the group's audit entries in one registry call (one batched append).
   */
  async #write(tx: Tx, group: readonly Waiting[]): Promise<CommitOutcome[]> {
    const caIds = [...new Set(group.map((w) => w.item.row.ca_id ?? ''))];
    const liveCas = new Map<string, string>(); // CA id -> key id, active CAs only
    const cas = await tx
      .selectFrom('cas')
      .select(['id', 'key_id', 'state'])
      .where('id', 'in', caIds)
      .execute();
    for (const c of cas) if (c.state === 'active' && c.key_id !== null) liveCas.set(c.id, c.key_id);
    const fingerprints = [...new Set(group.map((w) => w.item.row.spki_sha256))];
    const known = new Map<string, { id: string; deviceId: string | null }[]>();
    const certs = await tx
      .selectFrom('certificates')
      .select(['id', 'device_id', 'spki_sha256'])
      .where('spki_sha256', 'in', fingerprints)
      .execute();
    for (const c of certs) push(known, c.spki_sha256, { id: c.id, deviceId: c.device_id });
    const identities = new Map<string, string[]>();
    const bound = await tx
      .selectFrom('devices')
      .select(['id', 'identity_key_fingerprint'])
      .where('identity_key_fingerprint', 'in', fingerprints)
      .execute();
    for (const d of bound)
      if (d.identity_key_fingerprint !== null) push(identities, d.identity_key_fingerprint, d.id);
    const boundNow = new Map<string, string>(); // device id -> identity key bound in this group
    const outcomes: CommitOutcome[] = [];
    const rows: CertificatesTable[] = [];
    const bindings: IdentityBinding[] = [];
    const events: AuditEvent[] = [];
    for (const { item } of group) {
      const fp = item.row.spki_sha256;
      const outcome =
        liveCas.get(item.row.ca_id ?? '') !== item.caKeyId
          ? ({ kind: 'ca-offline' } as const)
          : decide(item, known.get(fp) ?? [], identities.get(fp) ?? [], boundNow);
      outcomes.push(outcome);
      if (outcome.kind !== 'stored') continue;
      rows.push(item.row);
      events.push(item.event);
      push(known, fp, { id: item.row.id, deviceId: item.row.device_id });
      const device = item.device;
      if (item.profile.bindsIdentityKey && device !== null && device.identityKeyFingerprint !== fp) {
        if (!boundNow.has(device.id)) bindings.push({ by: item.by, deviceId: device.id, fingerprint: fp });
        boundNow.set(device.id, fp);
        push(identities, fp, device.id);
      }
    }
    await insertCertificates(tx, this.#ctx.store.dialect, rows);
    // The registry appends its binding entries and these `cert.issued` entries in one batch.
    await this.#ctx.registry.bindIdentityKeys(tx, bindings, events);
    return outcomes;
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/**
 * May this key be certified for this device (or for no device)? `certs` are the certificates already
 * holding the key, `devices` the devices bound to it as their identity key, `boundNow` the identity keys
 * bound earlier in the same group.
 */
function decide(
  item: PendingCertificate,
  certs: readonly { id: string; deviceId: string | null }[],
  devices: readonly string[],
  boundNow: ReadonlyMap<string, string>,
): CommitOutcome {
  const { device, profile } = item;
  const fp = item.row.spki_sha256;
  for (const c of certs) {
    if (device === null ? c.deviceId !== null : c.deviceId !== device.id)
      return { kind: 'clash', boundTo: c.deviceId ?? c.id };
  }
  const other = devices.find((id) => id !== device?.id);
  if (other !== undefined) return { kind: 'clash', boundTo: other };
  if (profile.bindsIdentityKey && device !== null) {
    const identity = boundNow.get(device.id) ?? device.identityKeyFingerprint;
    if (identity !== null && identity !== fp) return { kind: 'identity-mismatch' };
  }
  return { kind: 'stored' };
}

/** The cloned-key alarm commits in its own transaction: the refused issuance must still leave a trace. */
export async function cloneAlarm(
  ctx: PkiContext,
  by: { actor: string },
  c: { fingerprint: string; device: Device | null; caTenant: string; boundTo: string },
): Promise<void> {
  await ctx.store.transaction((tx) =>
    ctx.audit.append(tx, {
      ...by,
      action: 'security.cloned_key',
      subject: c.device?.id ?? `spki:${c.fingerprint}`,
      tenantId: c.caTenant,
      details: { spkiSha256: c.fingerprint, serial: c.device?.serial ?? null, boundTo: c.boundTo },
    }),
  );
}

/** ERR_CSR_KEY_IN_USE. */
export function keyInUse(): ConflictError {
  return new ConflictError(
    'ERR_CSR_KEY_IN_USE',
    'this public key is already bound to another device or certificate',
  );
}
