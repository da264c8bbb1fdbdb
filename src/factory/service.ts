import { X509Certificate, verify as nodeVerify } from 'node:crypto';
import { encodeCbor } from './link/cbor-encode.ts';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, ForbiddenError, ImprintError, ValidationError } from '../core/errors.ts';
import { toHex } from '../core/encoding.ts';
import type { Random } from '../core/random.ts';
import { SECRETS_AAD } from '../device/agent.ts';
import { sealTo, secretsInfo, transportKeyStatement } from '../device/hpke.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Executor, Store } from '../store/database.ts';
import type { FactoryRunsTable } from '../store/tables/factory.ts';
import { BatchService } from './batches.ts';
import { csrPublicKey } from './csr-key.ts';
import { newClaimCode } from './claim-code.ts';
import { deviceConfig, newRun, readbackProblems, sha256Hex } from './runs.ts';
import type { FirmwareSource } from './firmware.ts';
import type { IdentityIssuer } from './issuer.ts';
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

/** Names of the per-device secrets the server generates and seals. */
export const SECRET_NAMES = ['cloudToken', 'wifiKey', 'appKey'] as const;

/**
 * The server half of provisioning, one call per station step. Each device's run is a row in
 * factory_runs, so a crashed station re-runs from where it stopped; every step is idempotent.
 * Quota: a device takes one unit of its batch's quantity when first issued, returned on abort.
 */
export class FactoryService {
  readonly #d: FactoryDeps;
  readonly batches: BatchService;

  constructor(deps: FactoryDeps) {
    this.#d = deps;
    this.batches = new BatchService(deps);
  }

  /**
   * Starts (or resumes) a device's run. Throws ERR_BATCH_NOT_FOUND, ERR_FACTORY_STATION_NOT_ASSIGNED,
   * ERR_FACTORY_BATCH_CLOSED, ERR_FACTORY_BATCH_WINDOW, ERR_FACTORY_MODEL_MISMATCH,
   * ERR_FACTORY_DEVICE_PROVISIONED, ERR_FACTORY_DEVICE_OTHER_BATCH, ERR_DEVICE_SERIAL_INVALID.
   */
  async begin(st: StationCaller, r: BeginRequest): Promise<BeginResult> {
    return this.#refusing(st, r, 'begin', () =>
      this.#d.store.transaction(async (tx) => {
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
          await tx
            .insertInto('factory_runs')
            .values(newRun(d.id, batch.id, st.stationId, r.serial, now))
            .execute();
          return { deviceId: d.id, state: 'started' as const };
        }
        const run = await tx
          .selectFrom('factory_runs')
          .selectAll()
          .where('device_id', '=', device.id)
          .executeTakeFirst();
        if (run?.state === 'completed' && run.batch_id === batch.id)
          return { deviceId: device.id, state: 'completed' as const };
        if (device.state !== 'registered' && device.state !== 'provisioning') {
          throw new ConflictError(
            'ERR_FACTORY_DEVICE_PROVISIONED',
            `device ${r.serial} is already provisioned`,
          );
        }
        if (device.batchId !== batch.id) {
          throw new ConflictError(
            'ERR_FACTORY_DEVICE_OTHER_BATCH',
            `device ${r.serial} belongs to another batch`,
          );
        }
        if (run === undefined) {
          await tx
            .insertInto('factory_runs')
            .values(newRun(device.id, batch.id, st.stationId, r.serial, now))
            .execute();
        } else if (run.state === 'failed') {
          await tx
            .updateTable('factory_runs')
            .set({ state: 'started', station_id: st.stationId, attempts: run.attempts + 1, updated_at: now })
            .where('device_id', '=', device.id)
            .execute();
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
        return {
          deviceId: device.id,
          state: run?.state === 'issued' ? ('issued' as const) : ('started' as const),
        };
      }),
    );
  }

  /**
   * Issues (or returns the already issued) IDevID for the key the device reported.
   * Throws ERR_FACTORY_RUN_STATE, ERR_FACTORY_CSR_KEY_MISMATCH, ERR_FACTORY_QUOTA_EXCEEDED, the batch
   * checks of begin, and the PKI's ERR_CSR_* codes.
   */
  async issue(st: StationCaller, r: IdentityRequest): Promise<IdentityResult> {
    return this.#refusing(st, r, 'issue', async () => {
      const { batch, run } = await this.#run(st, r.batchId, r.serial, ['started', 'issued']);
      const spki = csrPublicKey(r.csr);
      if (toHex(spki) !== toHex(r.publicKey)) {
        throw new ValidationError(
          'ERR_FACTORY_CSR_KEY_MISMATCH',
          `the CSR of ${r.serial} is not for the key the device reported`,
        );
      }
      const fp = sha256Hex(spki);
      const model = await this.#d.registry.getModel(batch.modelId);
      const good = await this.#d.issuer.goodIdentities(this.#d.store.db, run.device_id);
      let identity = good.find((g) => g.spkiSha256 === fp);
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
        const dev = await this.#d.registry.getDevice(run.device_id);
        if (dev.identityKeyFingerprint !== null && dev.identityKeyFingerprint !== fp) {
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
        model: model.name,
        certificateId: identity.certificateId,
      });
      await this.#d.store.transaction(async (tx) => {
        await tx
          .updateTable('factory_runs')
          .set({
            state: 'issued',
            certificate_id: identity.certificateId,
            spki_sha256: fp,
            config_sha256: sha256Hex(config),
            updated_at: this.#now(),
          })
          .where('device_id', '=', run.device_id)
          .execute();
        if (run.certificate_id !== identity.certificateId) {
          await this.#d.audit.append(tx, {
            ...st,
            action: 'factory.identity.issued',
            subject: run.device_id,
            tenantId: st.tenantId,
            details: {
              serial: r.serial,
              batchId: batch.id,
              certificateId: identity.certificateId,
              spkiSha256: fp,
            },
          });
        }
      });
      return { certificate: identity.der, chain: identity.chain, config };
    });
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
      const key = cert === undefined ? undefined : new X509Certificate(cert.der).publicKey;
      let ok: boolean;
      try {
        ok =
          key !== undefined &&
          nodeVerify('sha256', transportKeyStatement(r.serial, r.transportPublicKey), key, r.signature);
      } catch {
        ok = false;
      }
      if (!ok)
        throw new ForbiddenError(
          'ERR_FACTORY_TRANSPORT_KEY_UNVERIFIED',
          `the transport key of ${r.serial} is not signed by its identity key`,
        );
      const secrets: Record<string, Uint8Array> = {};
      for (const n of SECRET_NAMES) secrets[n] = this.#d.random.bytes(32);
      const digests = Object.fromEntries(Object.entries(secrets).map(([k, v]) => [k, sha256Hex(v)]));
      const pt = encodeCbor(secrets);
      let sealed: SealResult;
      try {
        sealed = await sealTo(r.transportPublicKey, pt, secretsInfo(r.serial), SECRETS_AAD);
      } finally {
        pt.fill(0);
        for (const v of Object.values(secrets)) v.fill(0);
      }
      await this.#d.store.transaction(async (tx) => {
        await tx
          .updateTable('factory_runs')
          .set({ secret_digests: JSON.stringify(digests), updated_at: this.#now() })
          .where('device_id', '=', run.device_id)
          .execute();
        await this.#d.audit.append(tx, {
          ...st,
          action: 'factory.secrets.sealed',
          subject: run.device_id,
          tenantId: st.tenantId,
          details: { serial: r.serial, names: [...SECRET_NAMES] },
        });
      });
      return sealed;
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
      await this.#d.store.transaction(async (tx) => {
        await tx
          .updateTable('factory_runs')
          .set({ state: 'completed', fuses: JSON.stringify(rb.fuses), updated_at: now })
          .where('device_id', '=', run.device_id)
          .execute();
        await tx.deleteFrom('claim_codes').where('device_id', '=', run.device_id).execute();
        await tx
          .insertInto('claim_codes')
          .values({
            device_id: run.device_id,
            code_hash: claim.hash,
            created_at: now,
            claimed_at: null,
            claimed_by: null,
          })
          .execute();
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

  async #takeQuota(st: StationCaller, batch: Batch, run: FactoryRunsTable): Promise<void> {
    if (run.quota_counted === 1) return;
    await this.#d.store.transaction(async (tx) => {
      const res = await tx
        .updateTable('batches')
        .set((eb) => ({ issued: eb('issued', '+', 1) }))
        .where('id', '=', batch.id)
        .where('issued', '<', batch.quantity)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) {
        throw new ForbiddenError(
          'ERR_FACTORY_QUOTA_EXCEEDED',
          `batch ${batch.id} has issued all ${batch.quantity} identities`,
        );
      }
      await tx
        .updateTable('factory_runs')
        .set({ quota_counted: 1 })
        .where('device_id', '=', run.device_id)
        .execute();
    });
    void st;
  }

  async #usableBatch(st: StationCaller, batchId: string, db: Executor): Promise<Batch> {
    const batch = await this.batches.getBatch(batchId, st.tenantId, db);
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
