import { X509Certificate } from 'node:crypto';
import type { AuditEvent, AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, ForbiddenError, ImprintError, ValidationError } from '../core/errors.ts';
import { bytesEqual } from '../core/encoding.ts';
import type { Random } from '../core/random.ts';
import type { RegistryService } from '../registry/service.ts';
import type { DeviceModel } from '../registry/types.ts';
import type { Executor, Store, Tx } from '../store/database.ts';
import { auditGroupBuffer } from '../audit/deferred.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { HotSql } from '../store/hot-sql.ts';
import type { FactoryRunsTable } from '../store/tables/factory.ts';
import type { BatchesTable } from '../store/tables/foundation.ts';
import { BatchService, toBatch } from './batches.ts';
import { csrPublicKey } from './csr-key.ts';
import { newClaimCode } from './claim-code.ts';
import { deviceConfig, newRun, readbackProblems, sha256Hex } from './runs.ts';
import type { FirmwareSource } from './firmware.ts';
import type { IdentityIssuer } from './issuer.ts';
import { importable, sealedEvent, sealSecrets, verifyTransportKey } from './secrets.ts';
import { vendorIdentity } from './vendor-import.ts';
import type {
  AbortRequest,
  Batch,
  BeginRequest,
  BeginResult,
  CompleteRequest,
  CompleteResult,
  FirmwareBundle,
  IdentityRequest,
  IdentityResult,
  SealRequest,
  SealResult,
  StartRequest,
  StartResult,
  StationCaller,
} from './types.ts';

/** What the factory service is built from. */
export interface FactoryDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
  readonly random: Random;
  readonly issuer: IdentityIssuer;
  readonly firmware: FirmwareSource;
}

/**
 * The server half of provisioning, one call per station step. Each device's run is a row in
 * factory_runs, so a crashed station re-runs from where it stopped; every step is idempotent.
 * Quota: a device takes one unit of its batch's quantity when first issued, returned on abort.
 */
export class FactoryService {
  readonly #d: FactoryDeps;
  // Step transactions of concurrent devices commit together, each device in its own savepoint.
  readonly #group: GroupCommit;
  readonly #sql: HotSql;
  readonly batches: BatchService;

  constructor(deps: FactoryDeps) {
    this.#d = deps;
    // The audit entries of a group are written together at its end (one state read and write per group).
    this.#group = new GroupCommit(deps.store, { buffers: [auditGroupBuffer] });
    this.#sql = new HotSql(deps.store.dialect);
    this.batches = new BatchService(deps);
  }

  /**
   * Starts (or resumes) a device's run. Throws ERR_BATCH_NOT_FOUND, ERR_FACTORY_STATION_NOT_ASSIGNED,
   * ERR_FACTORY_BATCH_CLOSED, ERR_FACTORY_BATCH_WINDOW, ERR_FACTORY_MODEL_MISMATCH,
   * ERR_FACTORY_DEVICE_PROVISIONED, ERR_FACTORY_DEVICE_OTHER_BATCH, ERR_DEVICE_SERIAL_INVALID.
   */
  async begin(st: StationCaller, r: BeginRequest): Promise<BeginResult> {
    const b = await this.#refusing(st, r, 'begin', () => this.#group.run((tx) => this.#begin(st, r, tx)));
    return { deviceId: b.deviceId, state: b.state };
  }

  /**
   * begin, issue and seal in one call: the station's single server round trip before it writes the
   * device. The transport key's signature is checked against the reported identity key before any
   * issuance, and the issued and sealed records (with their audit entries) commit together.
   * Throws every code of begin, issue and seal.
   */
  async start(st: StationCaller, r: StartRequest): Promise<StartResult> {
    // The request's own checks need no database; they run first so that a device first seen here
    // can take its quota unit in begin's transaction (one commit fewer). A refused request still
    // begins (as before: the device is registered, the refusal audited at its step).
    const checked = this.#startChecks(r);
    const b = await this.#refusing(st, r, 'begin', () =>
      this.#group.run((tx) => this.#begin(st, r, tx, checked.ok)),
    );
    if (b.state === 'completed') return { deviceId: b.deviceId, state: 'completed' };
    if (!checked.ok) return this.#refusing(st, r, checked.step, () => Promise.reject(checked.error));
    const { batch, run, model } = b;
    const spki = checked.spki;
    return this.#refusing(st, r, 'issue', async () => {
      if (b.quotaRefused) throw quotaExceeded(batch);
      const p = await this.#identity(st, r, spki, batch, run, model, b.fresh);
      const s = await sealSecrets(this.#d.random, r);
      await this.#group.run(async (tx) => {
        await this.#sql.update(
          tx,
          'factory_runs',
          { ...p.columns, secret_digests: JSON.stringify(s.digests), updated_at: this.#now() },
          { device_id: run.device_id },
        );
        await this.#d.audit.appendMany(tx, [...p.events, sealedEvent(st, r, run.device_id)]);
      });
      return { deviceId: b.deviceId, state: b.state, identity: p.result, sealed: s.sealed };
    });
  }

  /** start's checks of the request alone: the CSR is for the reported key, which signed the transport key. */
  #startChecks(
    r: StartRequest,
  ): { ok: true; spki: Uint8Array } | { ok: false; step: 'issue' | 'seal'; error: Error } {
    let spki: Uint8Array;
    try {
      spki = this.#csrKey(r);
    } catch (e) {
      return { ok: false, step: 'issue', error: asError(e) };
    }
    try {
      verifyTransportKey(r, importable(spki));
    } catch (e) {
      return { ok: false, step: 'seal', error: asError(e) };
    }
    return { ok: true, spki };
  }

  /**
   * begin's checks and writes inside `tx`; returns the run as it now stands, with its batch and model.
   * `takeQuota`: a device registered by this call takes its quota unit here, in the same transaction;
   * `fresh` says it was, `quotaRefused` that the batch had none left (begin's writes still commit).
   */
  async #begin(
    st: StationCaller,
    r: BeginRequest,
    tx: Tx,
    takeQuota = false,
  ): Promise<{
    deviceId: string;
    state: BeginResult['state'];
    batch: Batch;
    model: DeviceModel;
    run: FactoryRunsTable;
    fresh?: boolean;
    quotaRefused?: boolean;
  }> {
    const batch = await this.#usableBatch(st, r.batchId, tx);
    const model = await this.#d.registry.getModel(batch.modelId, undefined, tx);
    if (model.name !== r.model) {
      throw new ValidationError(
        'ERR_FACTORY_MODEL_MISMATCH',
        `device ${r.serial} is a ${r.model}, batch is ${model.name}`,
      );
    }
    const now = this.#now();
    const device = await this.#d.registry.findDeviceBySerial(st.tenantId, r.serial, tx);
    if (device === undefined) {
      const d = await this.#d.registry.registerDevice(tx, st, {
        manufacturerId: st.tenantId,
        modelId: batch.modelId,
        serial: r.serial,
        batchId: batch.id,
        state: 'provisioning',
      });
      const counted = takeQuota && (await this.#quotaUnit(tx, batch));
      const run = { ...newRun(d.id, batch.id, st.stationId, r.serial, now), quota_counted: counted ? 1 : 0 };
      await this.#sql.insert(tx, 'factory_runs', run);
      return {
        deviceId: d.id,
        state: 'started',
        batch,
        model,
        run,
        fresh: true,
        quotaRefused: takeQuota && !counted,
      };
    }
    let run = await tx
      .selectFrom('factory_runs')
      .selectAll()
      .where('device_id', '=', device.id)
      .executeTakeFirst();
    if (run?.state === 'completed' && run.batch_id === batch.id)
      return { deviceId: device.id, state: 'completed', batch, model, run };
    if (device.state !== 'registered' && device.state !== 'provisioning') {
      throw new ConflictError('ERR_FACTORY_DEVICE_PROVISIONED', `device ${r.serial} is already provisioned`);
    }
    if (device.batchId === null && device.modelId === batch.modelId) {
      // A device registered outside any batch (a silicon vendor's pre-provisioned part) joins this one.
      await tx
        .updateTable('devices')
        .set({ batch_id: batch.id, updated_at: now })
        .where('id', '=', device.id)
        .execute();
    } else if (device.batchId !== batch.id) {
      throw new ConflictError(
        'ERR_FACTORY_DEVICE_OTHER_BATCH',
        `device ${r.serial} belongs to another batch`,
      );
    }
    if (run === undefined) {
      run = newRun(device.id, batch.id, st.stationId, r.serial, now);
      await tx.insertInto('factory_runs').values(run).execute();
    } else if (run.state === 'failed') {
      const change = {
        state: 'started',
        station_id: st.stationId,
        attempts: run.attempts + 1,
        updated_at: now,
      } as const;
      await tx.updateTable('factory_runs').set(change).where('device_id', '=', device.id).execute();
      run = { ...run, ...change };
    }
    if (device.state !== 'provisioning') {
      await this.#d.registry.updateDevice(
        tx,
        st,
        device.id,
        { state: 'provisioning' },
        'factory.device.restarted',
      );
    }
    return { deviceId: device.id, state: run.state === 'issued' ? 'issued' : 'started', batch, model, run };
  }

  /**
   * Issues (or returns the already issued) IDevID for the key the device reported.
   * Throws ERR_FACTORY_RUN_STATE, ERR_FACTORY_CSR_KEY_MISMATCH, ERR_FACTORY_QUOTA_EXCEEDED, the batch
   * checks of begin, and the PKI's ERR_CSR_* codes.
   */
  async issue(st: StationCaller, r: IdentityRequest): Promise<IdentityResult> {
    return this.#refusing(st, r, 'issue', async () => {
      const { batch, run } = await this.#run(st, r.batchId, r.serial, ['started', 'issued']);
      const spki = this.#csrKey(r);
      const model = await this.#d.registry.getModel(batch.modelId);
      const p = await this.#identity(st, r, spki, batch, run, model);
      await this.#group.run(async (tx) => {
        await tx
          .updateTable('factory_runs')
          .set({ ...p.columns, updated_at: this.#now() })
          .where('device_id', '=', run.device_id)
          .execute();
        if (p.events.length > 0) await this.#d.audit.appendMany(tx, p.events);
      });
      return p.result;
    });
  }

  /** The SPKI of the CSR, which must be the key the device reported. Throws ERR_CSR_MALFORMED, ERR_FACTORY_CSR_KEY_MISMATCH. */
  #csrKey(r: IdentityRequest): Uint8Array {
    const spki = csrPublicKey(r.csr);
    if (!bytesEqual(spki, r.publicKey)) {
      throw new ValidationError(
        'ERR_FACTORY_CSR_KEY_MISMATCH',
        `the CSR of ${r.serial} is not for the key the device reported`,
      );
    }
    return spki;
  }

  /**
   * The device's identity for `spki`: the good one it already has, or a new one (quota taken, identities
   * of other keys revoked). Returns what the run row records and the audit entry for it, not yet written.
   */
  async #identity(
    st: StationCaller,
    r: IdentityRequest,
    spki: Uint8Array,
    batch: Batch,
    run: FactoryRunsTable,
    model: DeviceModel,
    fresh = false,
  ): Promise<{
    result: IdentityResult;
    columns: Pick<FactoryRunsTable, 'state' | 'certificate_id' | 'spki_sha256' | 'config_sha256'>;
    events: AuditEvent[];
  }> {
    const fp = sha256Hex(spki);
    // A silicon vendor's part keeps the identity the chip factory gave it: nothing is issued. (Looked
    // up even for a device this start registered: a concurrent run or import may have given it one.)
    const vendor = await vendorIdentity(this.#d.store.db, run.device_id, fp);
    if (vendor !== undefined) await this.#takeQuota(st, batch, run);
    const good =
      vendor === undefined ? await this.#d.issuer.goodIdentities(this.#d.store.db, run.device_id) : [];
    let identity = vendor ?? good.find((g) => g.spkiSha256 === fp);
    for (const g of good.filter((x) => x !== identity)) {
      // The device came back with another key (it was reset): its earlier identity must not stay valid.
      await this.#d.issuer.revoke(st, {
        tenantId: st.tenantId,
        certificateId: g.certificateId,
        reason: 'superseded',
      });
    }
    if (identity === undefined) {
      await this.#takeQuota(st, batch, run);
      // A device this start registered has no identity key bound yet (the PKI binds the new one).
      const dev = fresh ? undefined : await this.#d.registry.getDevice(run.device_id);
      if (dev !== undefined && dev.identityKeyFingerprint !== null && dev.identityKeyFingerprint !== fp) {
        await this.#d.store.transaction((tx) =>
          this.#d.registry.updateDevice(
            tx,
            st,
            dev.id,
            { identityKeyFingerprint: null },
            'factory.identity_reset',
          ),
        );
      }
      identity = {
        ...(await this.#d.issuer.issue(st, { tenantId: st.tenantId, csr: r.csr, model: model.name })),
        spkiSha256: fp,
      };
    }
    const config = deviceConfig({
      serial: r.serial,
      deviceId: run.device_id,
      batchId: batch.id,
      tenantId: batch.tenantId,
      modelId: model.id,
      model: model.name,
      certificateId: identity.certificateId,
    });
    const events: AuditEvent[] =
      run.certificate_id === identity.certificateId
        ? []
        : [
            {
              ...st,
              action: vendor === undefined ? 'factory.identity.issued' : 'factory.identity.vendor',
              subject: run.device_id,
              tenantId: st.tenantId,
              details: {
                serial: r.serial,
                batchId: batch.id,
                certificateId: identity.certificateId,
                spkiSha256: fp,
              },
            },
          ];
    return {
      result: { certificate: identity.der, chain: identity.chain, config },
      columns: {
        state: 'issued',
        certificate_id: identity.certificateId,
        spki_sha256: fp,
        config_sha256: sha256Hex(config),
      },
      events,
    };
  }

  /**
   * Generates the device's secrets and seals them (HPKE) to its transport key, which the device vouched
   * for with its identity key. Throws ERR_FACTORY_RUN_STATE, ERR_FACTORY_TRANSPORT_KEY_UNVERIFIED, ERR_HPKE_BAD_PUBLIC_KEY.
   */
  async seal(st: StationCaller, r: SealRequest): Promise<SealResult> {
    return this.#refusing(st, r, 'seal', async () => {
      const { run } = await this.#run(st, r.batchId, r.serial, ['issued']);
      const cert = (await this.#d.issuer.goodIdentities(this.#d.store.db, run.device_id)).find(
        (g) => g.certificateId === run.certificate_id,
      );
      verifyTransportKey(r, cert === undefined ? undefined : new X509Certificate(cert.der).publicKey);
      const s = await sealSecrets(this.#d.random, r);
      await this.#group.run(async (tx) => {
        await tx
          .updateTable('factory_runs')
          .set({ secret_digests: JSON.stringify(s.digests), updated_at: this.#now() })
          .where('device_id', '=', run.device_id)
          .execute();
        await this.#d.audit.append(tx, sealedEvent(st, r, run.device_id));
      });
      return s.sealed;
    });
  }

  /** The signed firmware of a batch. Throws ERR_BATCH_NOT_FOUND, ERR_FACTORY_STATION_NOT_ASSIGNED, ERR_FACTORY_FIRMWARE_UNAVAILABLE. */
  async firmware(st: StationCaller, batchId: string): Promise<FirmwareBundle> {
    const batch = await this.#usableBatch(st, batchId, this.#d.store.db);
    return this.#d.firmware.bundle(batch.tenantId, batch.id);
  }

  /**
   * Checks the read-back against what was issued and written, then marks the device provisioned and
   * mints its claim code, in one transaction. Throws ERR_FACTORY_RUN_STATE, ERR_FACTORY_READBACK_MISMATCH.
   */
  async complete(st: StationCaller, r: CompleteRequest): Promise<CompleteResult> {
    return this.#refusing(st, r, 'complete', async () => {
      const { batch, run } = await this.#run(st, r.batchId, r.serial, ['issued']);
      const fw = await this.#d.firmware.bundle(batch.tenantId, batch.id);
      const rb = r.readback;
      const wrong = readbackProblems(run, fw, rb);
      if (wrong.length > 0) {
        throw new ConflictError(
          'ERR_FACTORY_READBACK_MISMATCH',
          `read-back of ${r.serial} differs: ${wrong.join(', ')}`,
          { details: { mismatched: wrong } },
        );
      }
      const claim = newClaimCode(this.#d.random);
      const now = this.#now();
      await this.#group.run(async (tx) => {
        await this.#sql.update(
          tx,
          'factory_runs',
          { state: 'completed', fuses: JSON.stringify(rb.fuses), updated_at: now },
          { device_id: run.device_id },
        );
        await this.#sql.query(tx, 'delete from "claim_codes" where "device_id" = ?', [run.device_id]);
        await this.#sql.insert(tx, 'claim_codes', {
          device_id: run.device_id,
          code_hash: claim.hash,
          created_at: now,
          claimed_at: null,
          claimed_by: null,
        });
        await this.#d.registry.updateDevice(
          tx,
          st,
          run.device_id,
          { state: 'provisioned', identityKeyFingerprint: run.spki_sha256 },
          'factory.device.provisioned',
        );
      });
      return { deviceId: run.device_id, fingerprint: run.spki_sha256 ?? '', claimCode: claim.code };
    });
  }

  /**
   * Abandons a device's run: revokes any identity issued to it (cessationOfOperation), returns its
   * quota, resets the record, and audits the failing step. Throws ERR_FACTORY_RUN_STATE.
   */
  async abort(st: StationCaller, r: AbortRequest): Promise<void> {
    const dev = await this.#d.registry.findDeviceBySerial(st.tenantId, r.serial);
    const run =
      dev === undefined
        ? undefined
        : await this.#d.store.db
            .selectFrom('factory_runs')
            .selectAll()
            .where('device_id', '=', dev.id)
            .executeTakeFirst();
    if (dev === undefined || run === undefined || run.batch_id !== r.batchId) {
      await this.#auditRefusal(st, r, r.step, new ImprintError(r.code, 502, r.message));
      return;
    }
    if (run.state === 'completed')
      throw new ConflictError('ERR_FACTORY_RUN_STATE', `device ${r.serial} is already provisioned`);
    for (const g of await this.#d.issuer.goodIdentities(this.#d.store.db, dev.id)) {
      await this.#d.issuer.revoke(st, {
        tenantId: st.tenantId,
        certificateId: g.certificateId,
        reason: 'cessationOfOperation',
      });
    }
    await this.#d.store.transaction(async (tx) => {
      if (run.quota_counted === 1) {
        await tx
          .updateTable('batches')
          .set((eb) => ({ issued: eb('issued', '-', 1) }))
          .where('id', '=', run.batch_id)
          .execute();
      }
      await tx
        .updateTable('factory_runs')
        .set({
          state: 'failed',
          certificate_id: null,
          spki_sha256: null,
          secret_digests: null,
          quota_counted: 0,
          last_error: `${r.step}: ${r.code}`,
          updated_at: this.#now(),
        })
        .where('device_id', '=', dev.id)
        .execute();
      await this.#d.registry.updateDevice(
        tx,
        st,
        dev.id,
        { state: 'registered', identityKeyFingerprint: null },
        'factory.device.reset',
      );
      await this.#d.audit.append(tx, {
        ...st,
        action: 'factory.device.failed',
        subject: dev.id,
        tenantId: st.tenantId,
        details: {
          serial: r.serial,
          batchId: r.batchId,
          step: r.step,
          code: r.code,
          message: r.message.slice(0, 200),
        },
      });
    });
  }

  /** Takes one unit of the batch's quantity (atomic conditional update); false when none is left. */
  async #quotaUnit(tx: Tx, batch: Batch): Promise<boolean> {
    const res = await tx.executeQuery(
      this.#sql.compiled('update "batches" set "issued" = "issued" + 1 where "id" = ? and "issued" < ?', [
        batch.id,
        batch.quantity,
      ]),
    );
    return Number(res.numAffectedRows ?? 0n) === 1;
  }

  async #takeQuota(st: StationCaller, batch: Batch, run: FactoryRunsTable): Promise<void> {
    if (run.quota_counted === 1) return;
    await this.#group.run(async (tx) => {
      if (!(await this.#quotaUnit(tx, batch))) throw quotaExceeded(batch);
      await tx
        .updateTable('factory_runs')
        .set({ quota_counted: 1 })
        .where('device_id', '=', run.device_id)
        .execute();
    });
    void st;
  }

  async #usableBatch(st: StationCaller, batchId: string, db: Executor): Promise<Batch> {
    return this.#checkUsable(st, await this.batches.getBatch(batchId, st.tenantId, db));
  }

  /** The device's run in `batchId` with its batch, in one query; undefined if not exactly that. */
  async #runWithBatch(
    st: StationCaller,
    batchId: string,
    serial: string,
  ): Promise<{ batch: Batch; run: FactoryRunsTable } | undefined> {
    const [r] = await this.#sql.query<RunWithBatchRow>(this.#d.store.db, RUN_WITH_BATCH, [
      st.tenantId,
      serial,
      batchId,
      st.tenantId,
    ]);
    if (r === undefined) return undefined;
    const { b_tenant_id, b_model_id, b_station_id, b_quantity, b_issued, b_state, ...rest } = r;
    const { b_not_before, b_not_after, b_created_at, ...run } = rest;
    const batch = toBatch({
      id: run.batch_id,
      tenant_id: b_tenant_id,
      model_id: b_model_id,
      station_id: b_station_id,
      quantity: b_quantity,
      issued: b_issued,
      state: b_state,
      not_before: b_not_before,
      not_after: b_not_after,
      created_at: b_created_at,
    });
    return { batch, run };
  }

  /** The batch if this station may provision into it now. */
  #checkUsable(st: StationCaller, batch: Batch): Batch {
    const batchId = batch.id;
    if (batch.stationId !== null && batch.stationId !== st.stationId) {
      throw new ForbiddenError(
        'ERR_FACTORY_STATION_NOT_ASSIGNED',
        `batch ${batchId} is not assigned to this station`,
      );
    }
    if (batch.state !== 'open')
      throw new ConflictError('ERR_FACTORY_BATCH_CLOSED', `batch ${batchId} is closed`);
    const now = this.#d.clock.now().getTime();
    if (now < Date.parse(batch.notBefore) || now > Date.parse(batch.notAfter)) {
      throw new ForbiddenError('ERR_FACTORY_BATCH_WINDOW', `batch ${batchId} is outside its time window`);
    }
    return batch;
  }

  async #run(
    st: StationCaller,
    batchId: string,
    serial: string,
    states: readonly string[],
  ): Promise<{ batch: Batch; run: FactoryRunsTable }> {
    const joined = await this.#runWithBatch(st, batchId, serial);
    if (joined !== undefined && states.includes(joined.run.state)) {
      this.#checkUsable(st, joined.batch);
      return joined;
    }
    // The slow path only to name the exact refusal (unknown batch, other batch, wrong state).
    const batch = await this.#usableBatch(st, batchId, this.#d.store.db);
    const dev = await this.#d.registry.findDeviceBySerial(st.tenantId, serial);
    const run =
      dev === undefined
        ? undefined
        : await this.#d.store.db
            .selectFrom('factory_runs')
            .selectAll()
            .where('device_id', '=', dev.id)
            .executeTakeFirst();
    if (run === undefined || run.batch_id !== batchId || !states.includes(run.state)) {
      throw new ConflictError(
        'ERR_FACTORY_RUN_STATE',
        `device ${serial} is not at this step (${run?.state ?? 'not started'})`,
      );
    }
    return { batch, run };
  }

  /** Runs a step; a refusal is audited in its own transaction (the step's own changes rolled back). */
  async #refusing<T>(
    st: StationCaller,
    r: { batchId: string; serial: string },
    step: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof ImprintError) await this.#auditRefusal(st, r, step, e);
      throw e;
    }
  }

  async #auditRefusal(
    st: StationCaller,
    r: { batchId: string; serial: string },
    step: string,
    e: ImprintError,
  ): Promise<void> {
    await this.#d.store.transaction((tx) =>
      this.#d.audit.append(tx, {
        ...st,
        action: 'factory.refused',
        subject: r.serial,
        tenantId: st.tenantId,
        details: {
          batchId: r.batchId,
          serial: r.serial,
          step,
          code: e.code,
          message: e.message.slice(0, 200),
        },
      }),
    );
  }

  #now(): string {
    return this.#d.clock.now().toISOString();
  }
}

function quotaExceeded(batch: Batch): ForbiddenError {
  return new ForbiddenError(
    'ERR_FACTORY_QUOTA_EXCEEDED',
    `batch ${batch.id} has issued all ${batch.quantity} identities`,
  );
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** #runWithBatch's row: the run's columns and its batch's, prefixed. */
type RunWithBatchRow = FactoryRunsTable & {
  b_tenant_id: BatchesTable['tenant_id'];
  b_model_id: BatchesTable['model_id'];
  b_station_id: BatchesTable['station_id'];
  b_quantity: BatchesTable['quantity'];
  b_issued: BatchesTable['issued'];
  b_state: BatchesTable['state'];
  b_not_before: BatchesTable['not_before'];
  b_not_after: BatchesTable['not_after'];
  b_created_at: BatchesTable['created_at'];
};

/** The device's run in one batch with that batch (the station's steps after start look it up so). */
const RUN_WITH_BATCH =
  'select "r".*, "b"."tenant_id" as "b_tenant_id", "b"."model_id" as "b_model_id", ' +
  '"b"."station_id" as "b_station_id", "b"."quantity" as "b_quantity", "b"."issued" as "b_issued", ' +
  '"b"."state" as "b_state", "b"."not_before" as "b_not_before", "b"."not_after" as "b_not_after", ' +
  '"b"."created_at" as "b_created_at" from "devices" as "d" ' +
  'inner join "factory_runs" as "r" on "r"."device_id" = "d"."id" ' +
  'inner join "batches" as "b" on "b"."id" = "r"."batch_id" ' +
  'where "d"."manufacturer_id" = ? and "d"."serial" = ? and "r"."batch_id" = ? and "b"."tenant_id" = ?';
