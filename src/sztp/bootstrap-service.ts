/**
 * The bootstrap server's logic (RFC 8572 §7): authenticate the device by its IDevID chain (and optionally
 * HTTP Basic; device-auth.ts), pick the most specific onboarding or redirect record of its owner
 * (device-records.ts), sign it with the owner's key and add the owner certificate and a voucher
 * (bootstrap-answer.ts, voucher-source.ts), optionally encrypt to the IDevID; log and audit every request and
 * progress report (bootstrap-log.ts), group-committed.
 */
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Store } from '../store/database.ts';
import { conveyedArtifacts, ldevidStep, type LdevidIssuer } from './bootstrap-answer.ts';
import { writeLogEntries, type NewLogEntry } from './bootstrap-log.ts';
import { SztpDeviceAuth, type BootstrapCaller } from './device-auth.ts';
import { ownerOf, recordFor } from './device-records.ts';
import { GroupCommit } from './group-commit.ts';
import { dataMissing, RestconfFailure } from './restconf-errors.ts';
import type { GetBootstrappingDataInput, GetBootstrappingDataOutput, ReportProgressInput } from './types.ts';
import { issueVoucher, voucherFor } from './voucher-source.ts';
import { BoundedCache } from './bounded-cache.ts';

/** Signed artifacts kept in memory: a few per device and owner, bounded so a large fleet cannot exhaust it. */
const SIGNED_CACHE_ENTRIES = 50_000;

/** Called after a progress report commits (webhook delivery lives outside the transaction). */
export type ProgressListener = (event: {
  ownerId: string | null;
  deviceId: string;
  serial: string;
  progressType: string;
  message?: string;
  urls: string[];
}) => void;

/** Issues an LDevID from a device's PKCS#10 CSR (defined with the RFC 9646 step). */
export type { LdevidIssuer } from './bootstrap-answer.ts';
/** The authenticated device of a request (defined with the authentication). */
export type { BootstrapCaller } from './device-auth.ts';

/** The bootstrap server. Stateless apart from small caches of CAs and signed artifacts. */
export class SztpBootstrapService {
  readonly #deps: {
    store: Store;
    keys: KeyStore;
    audit: AuditLog;
    registry: RegistryService;
    clock: Clock;
  };
  readonly #listener: ProgressListener | undefined;
  readonly #issueLdevid: LdevidIssuer | undefined;
  /** Signed artifacts that do not depend on the request: nonceless vouchers, conveyed info, owner certificates. */
  readonly #signed: Map<string, Uint8Array> = new BoundedCache(SIGNED_CACHE_ENTRIES);
  readonly #auth: SztpDeviceAuth;
  readonly #commits: GroupCommit<NewLogEntry>;

  constructor(deps: {
    store: Store;
    keys: KeyStore;
    audit: AuditLog;
    registry: RegistryService;
    clock: Clock;
    onProgress?: ProgressListener;
    issueLdevid?: LdevidIssuer;
  }) {
    this.#deps = deps;
    this.#listener = deps.onProgress;
    this.#auth = new SztpDeviceAuth(deps);
    this.#commits = new GroupCommit<NewLogEntry>(deps.store, (tx, entries) =>
      writeLogEntries(tx, { ...deps, dialect: deps.store.dialect }, entries),
    );
    this.#issueLdevid = deps.issueLdevid;
  }

  /**
   * Authenticates a device by its TLS client chain and/or HTTP Basic credentials (see SztpDeviceAuth).
   * Throws ERR_SZTP_ACCESS_DENIED.
   */
  authenticate(
    chain: readonly Uint8Array[],
    basic?: { serial: string; secret: string },
  ): Promise<BootstrapCaller> {
    return this.#auth.authenticate(chain, basic);
  }

  /** Issues a nonceless voucher for a bound device (manufacturer side, for export to the owner's server). Throws ERR_SZTP_DATA_MISSING. */
  issueVoucher(actor: string, deviceId: string): Promise<{ cms: Uint8Array; expiresAt: string }> {
    return issueVoucher(this.#deps, this.#signed, actor, deviceId);
  }

  /**
   * Answers get-bootstrapping-data. Throws ERR_SZTP_DATA_MISSING (RESTCONF data-missing) when the device has no
   * owner or record, or when signed data is preferred but cannot be produced; ERR_SZTP_CSR_REQUIRED and
   * ERR_SZTP_CSR_UNSUPPORTED from the RFC 9646 step.
   */
  async getBootstrappingData(
    caller: BootstrapCaller,
    input: GetBootstrappingDataInput,
  ): Promise<GetBootstrappingDataOutput> {
    const { device } = caller;
    const { store } = this.#deps;
    // Read with the device at authentication (one statement) when the device used mutual TLS.
    const ctx = caller.context;
    const owner = ctx !== undefined ? ctx.owner : await ownerOf(store, device);
    const rec =
      ctx !== undefined
        ? ctx.record
        : owner === undefined
          ? undefined
          : await recordFor(store, device, owner.id);
    const details: Record<string, unknown> = {
      hwModel: input.hwModel ?? null,
      osName: input.osName ?? null,
      osVersion: input.osVersion ?? null,
      signedDataPreferred: input.signedDataPreferred,
      nonceful: input.nonce !== undefined,
    };
    try {
      if (owner === undefined || rec === undefined)
        throw dataMissing('no bootstrapping data for this device');
      const { document, perDevice } = await ldevidStep(rec, device, input, this.#issueLdevid, details);
      const voucher =
        owner.key_id !== null
          ? await voucherFor(
              this.#deps,
              this.#signed,
              device,
              owner,
              input.nonce,
              ctx !== undefined ? (ctx.masa ?? null) : undefined,
            )
          : undefined;
      const a = await conveyedArtifacts(this.#deps, this.#signed, {
        caller,
        owner,
        rec,
        document,
        perDevice,
        signedDataPreferred: input.signedDataPreferred,
        voucher,
      });
      details['kind'] = rec.kind;
      details['signed'] = a.ownerCertificate !== undefined;
      details['encrypted'] = rec.encrypt === 1;
      await this.#log({
        device,
        ownerId: owner.id,
        kind: 'request',
        progressType: null,
        message: null,
        details,
      });
      return {
        reportingLevel: 'verbose',
        conveyedInformation: a.conveyed,
        ...(a.ownerCertificate !== undefined && a.voucher !== undefined
          ? { ownerCertificate: a.ownerCertificate, ownershipVoucher: a.voucher }
          : {}),
      };
    } catch (e) {
      if (e instanceof RestconfFailure)
        await this.#log({
          device,
          ownerId: owner?.id ?? null,
          kind: 'request',
          progressType: null,
          message: e.restconf.tag,
          details,
        });
      throw e;
    }
  }

  /** Log batches committed and the entries they held. */
  get logStats(): { batches: number; entries: number } {
    return this.#commits.stats;
  }

  /** Stores and audits one log entry; the answer leaves only after its entry has committed. */
  async #log(e: Omit<NewLogEntry, 'now'>): Promise<void> {
    const now = this.#deps.clock.now();
    await this.#commits.run({ ...e, now });
  }

  /** Records a progress report (stored, audited, webhooks notified after commit). */
  async reportProgress(caller: BootstrapCaller, input: ReportProgressInput): Promise<void> {
    const owner =
      caller.context !== undefined ? caller.context.owner : await ownerOf(this.#deps.store, caller.device);
    const details = {
      sshHostKeys: input.sshHostKeys?.map((k) => k.algorithm) ?? [],
      trustAnchorCerts: input.trustAnchorCerts?.length ?? 0,
    };
    await this.#log({
      device: caller.device,
      ownerId: owner?.id ?? null,
      kind: 'progress',
      progressType: input.progressType,
      message: input.message ?? null,
      details,
    });
    if (this.#listener !== undefined && owner !== undefined) {
      const hooks = await this.#deps.store.db
        .selectFrom('sztp_webhooks')
        .select('url')
        .where('owner_id', '=', owner.id)
        .execute();
      this.#listener({
        ownerId: owner.id,
        deviceId: caller.device.id,
        serial: caller.device.serial,
        progressType: input.progressType,
        ...(input.message !== undefined ? { message: input.message } : {}),
        urls: hooks.map((h) => h.url),
      });
    }
  }
}
