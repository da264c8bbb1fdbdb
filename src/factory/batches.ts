import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Executor, Store } from '../store/database.ts';
import type { BatchesTable } from '../store/tables/foundation.ts';
import type { Batch, Station } from './types.ts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
/** Largest batch an operator may open (a quota, not a technical limit). */
export const MAX_BATCH = 1_000_000;

/** Input of createBatch. */
export interface NewBatch {
  readonly tenantId: string;
  readonly modelId: string;
  readonly quantity: number;
  readonly stationId?: string | null;
  readonly notBefore: string;
  readonly notAfter: string;
}

/** Stations and batches: created by operators, read by the station flow. Every change audited. */
export class BatchService {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #registry: RegistryService;
  readonly #clock: Clock;

  constructor(deps: { store: Store; audit: AuditLog; registry: RegistryService; clock: Clock }) {
    this.#store = deps.store;
    this.#audit = deps.audit;
    this.#registry = deps.registry;
    this.#clock = deps.clock;
  }

  /** Registers a station. Throws ERR_STATION_NAME_INVALID, ERR_STATION_EXISTS, ERR_TENANT_NOT_FOUND. */
  async createStation(by: { actor: string }, tenantId: string, name: string): Promise<Station> {
    if (!NAME_RE.test(name)) throw new ValidationError('ERR_STATION_NAME_INVALID', 'station name is invalid');
    return this.#store.transaction(async (tx) => {
      await this.#registry.getTenant(tenantId, tx);
      const dup = await tx
        .selectFrom('stations')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (dup !== undefined) throw new ConflictError('ERR_STATION_EXISTS', `station ${name} exists`);
      const s: Station = { id: newId('stn'), tenantId, name, createdAt: this.#clock.now().toISOString() };
      await tx
        .insertInto('stations')
        .values({ id: s.id, tenant_id: tenantId, name, created_at: s.createdAt, disabled_at: null })
        .execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'station.created',
        subject: s.id,
        tenantId,
        details: { name },
      });
      return s;
    });
  }

  /** The station with this id in the tenant. Throws ERR_STATION_NOT_FOUND. */
  async getStation(id: string, tenantId?: string, db: Executor = this.#store.db): Promise<Station> {
    let q = db.selectFrom('stations').selectAll().where('id', '=', id).where('disabled_at', 'is', null);
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    const r = await q.executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_STATION_NOT_FOUND', `no station ${id}`);
    return { id: r.id, tenantId: r.tenant_id, name: r.name, createdAt: r.created_at };
  }

  /**
   * Opens a batch: model, quantity (the identity quota), station and time window.
   * Throws ERR_BATCH_INVALID, ERR_MODEL_NOT_FOUND, ERR_STATION_NOT_FOUND.
   */
  async createBatch(by: { actor: string }, input: NewBatch): Promise<Batch> {
    const nb = Date.parse(input.notBefore);
    const na = Date.parse(input.notAfter);
    if (!Number.isInteger(input.quantity) || input.quantity < 1 || input.quantity > MAX_BATCH) {
      throw new ValidationError('ERR_BATCH_INVALID', `quantity must be 1-${MAX_BATCH}`);
    }
    if (!Number.isFinite(nb) || !Number.isFinite(na) || na <= nb) {
      throw new ValidationError(
        'ERR_BATCH_INVALID',
        'the time window must be two ISO times, notBefore < notAfter',
      );
    }
    return this.#store.transaction(async (tx) => {
      await this.#registry.getModel(input.modelId, input.tenantId, tx);
      if (input.stationId !== undefined && input.stationId !== null)
        await this.getStation(input.stationId, input.tenantId, tx);
      const row: BatchesTable = {
        id: newId('bat'),
        tenant_id: input.tenantId,
        model_id: input.modelId,
        station_id: input.stationId ?? null,
        quantity: input.quantity,
        issued: 0,
        state: 'open',
        not_before: new Date(nb).toISOString(),
        not_after: new Date(na).toISOString(),
        created_at: this.#clock.now().toISOString(),
      };
      await tx.insertInto('batches').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'batch.created',
        subject: row.id,
        tenantId: input.tenantId,
        details: {
          modelId: row.model_id,
          quantity: row.quantity,
          stationId: row.station_id,
          notBefore: row.not_before,
          notAfter: row.not_after,
        },
      });
      return toBatch(row);
    });
  }

  /** The batch with this id in the tenant. Throws ERR_BATCH_NOT_FOUND. */
  async getBatch(id: string, tenantId?: string, db: Executor = this.#store.db): Promise<Batch> {
    let q = db.selectFrom('batches').selectAll().where('id', '=', id);
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    const r = await q.executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_BATCH_NOT_FOUND', `no batch ${id}`);
    return toBatch(r);
  }

  /** Closes a batch: no further devices or identities. Throws ERR_BATCH_NOT_FOUND. */
  async closeBatch(by: { actor: string }, id: string, tenantId: string): Promise<Batch> {
    return this.#store.transaction(async (tx) => {
      await this.getBatch(id, tenantId, tx);
      await tx.updateTable('batches').set({ state: 'closed' }).where('id', '=', id).execute();
      await this.#audit.append(tx, { ...by, action: 'batch.closed', subject: id, tenantId });
      return this.getBatch(id, tenantId, tx);
    });
  }

  /** Counts of a batch's runs by state, with the quota. Throws ERR_BATCH_NOT_FOUND. */
  async progress(
    id: string,
    tenantId?: string,
  ): Promise<{ batch: Batch; completed: number; inProgress: number; failed: number }> {
    const batch = await this.getBatch(id, tenantId);
    const rows = await this.#store.db
      .selectFrom('factory_runs')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('batch_id', '=', id)
      .groupBy('state')
      .execute();
    const n = (s: string) => Number(rows.find((r) => r.state === s)?.n ?? 0);
    return { batch, completed: n('completed'), inProgress: n('started') + n('issued'), failed: n('failed') };
  }
}

/** Row → record. */
export function toBatch(r: BatchesTable): Batch {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    modelId: r.model_id,
    stationId: r.station_id,
    quantity: r.quantity,
    issued: r.issued,
    state: r.state,
    notBefore: r.not_before,
    notAfter: r.not_after,
    createdAt: r.created_at,
  };
}
