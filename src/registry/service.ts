import type { AuditEvent, AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { isUniqueViolation } from '../store/constraint.ts';
import type { Executor, Store } from '../store/database.ts';
import type { DevicesTable } from '../store/tables/foundation.ts';
import type { Device, DeviceModel, DeviceState, Tenant, TenantKind } from './types.ts';
import { bindIdentityKeys, type IdentityBinding } from './identity-binding.ts';

const SERIAL_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;

/** Who is asking, for audit entries. */
export interface Actor {
  readonly actor: string;
}

/** Tenants, device models and devices: create, read, change state; each change audited in its transaction. */
export class RegistryService {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(store: Store, audit: AuditLog, clock: Clock) {
    this.#store = store;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** Creates a tenant. Throws ERR_TENANT_NAME_INVALID, ERR_TENANT_EXISTS. */
  async createTenant(by: Actor, name: string, kind: TenantKind): Promise<Tenant> {
    if (!NAME_RE.test(name)) throw new ValidationError('ERR_TENANT_NAME_INVALID', 'tenant name is invalid');
    return this.#store.transaction(async (tx) => {
      if (
        (await tx.selectFrom('tenants').select('id').where('name', '=', name).executeTakeFirst()) !==
        undefined
      ) {
        throw new ConflictError('ERR_TENANT_EXISTS', `tenant ${name} exists`);
      }
      const t: Tenant = { id: newId('ten'), name, kind, createdAt: this.#now() };
      await tx
        .insertInto('tenants')
        .values({ id: t.id, name, kind, created_at: t.createdAt })
        .execute()
        .catch(conflictOn(() => new ConflictError('ERR_TENANT_EXISTS', `tenant ${name} exists`)));
      await this.#audit.append(tx, {
        ...by,
        action: 'tenant.created',
        subject: t.id,
        tenantId: t.id,
        details: { name, kind },
      });
      return t;
    });
  }

  /** The tenant with this id. Throws ERR_TENANT_NOT_FOUND. */
  async getTenant(id: string, db: Executor = this.#store.db): Promise<Tenant> {
    const r = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_TENANT_NOT_FOUND', `no tenant ${id}`);
    return { id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at };
  }

  /** The tenant with this name, or undefined. */
  async findTenantByName(name: string): Promise<Tenant | undefined> {
    const r = await this.#store.db
      .selectFrom('tenants')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return r === undefined ? undefined : { id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at };
  }

  /** Every tenant, by name. */
  async listTenants(): Promise<Tenant[]> {
    const rows = await this.#store.db.selectFrom('tenants').selectAll().orderBy('name').execute();
    return rows.map((r) => ({ id: r.id, name: r.name, kind: r.kind, createdAt: r.created_at }));
  }

  /** Creates a device model of a manufacturer. Throws ERR_MODEL_NAME_INVALID, ERR_MODEL_EXISTS, ERR_TENANT_NOT_FOUND. */
  async createModel(by: Actor, tenantId: string, name: string, description = ''): Promise<DeviceModel> {
    if (!NAME_RE.test(name)) throw new ValidationError('ERR_MODEL_NAME_INVALID', 'model name is invalid');
    return this.#store.transaction(async (tx) => {
      await this.getTenant(tenantId, tx);
      const dup = await tx
        .selectFrom('device_models')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (dup !== undefined) throw new ConflictError('ERR_MODEL_EXISTS', `model ${name} exists`);
      const m: DeviceModel = { id: newId('mdl'), tenantId, name, description, createdAt: this.#now() };
      await tx
        .insertInto('device_models')
        .values({ id: m.id, tenant_id: tenantId, name, description, created_at: m.createdAt })
        .execute()
        .catch(conflictOn(() => new ConflictError('ERR_MODEL_EXISTS', `model ${name} exists`)));
      await this.#audit.append(tx, {
        ...by,
        action: 'model.created',
        subject: m.id,
        tenantId,
        details: { name },
      });
      return m;
    });
  }

  /** The model with this id, visible to `tenantId` when given. Throws ERR_MODEL_NOT_FOUND. */
  async getModel(id: string, tenantId?: string, db: Executor = this.#store.db): Promise<DeviceModel> {
    let q = db.selectFrom('device_models').selectAll().where('id', '=', id);
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    const r = await q.executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_MODEL_NOT_FOUND', `no model ${id}`);
    return {
      id: r.id,
      tenantId: r.tenant_id,
      name: r.name,
      description: r.description,
      createdAt: r.created_at,
    };
  }

  /** Models of a tenant, by name. */
  async listModels(tenantId: string): Promise<DeviceModel[]> {
    const rows = await this.#store.db
      .selectFrom('device_models')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      name: r.name,
      description: r.description,
      createdAt: r.created_at,
    }));
  }

  /**
   * Registers a device inside the caller's transaction (factory and import flows call this with theirs).
   * Throws ERR_DEVICE_SERIAL_INVALID, ERR_DEVICE_EXISTS, ERR_MODEL_NOT_FOUND.
   */
  async registerDevice(
    tx: Executor,
    by: Actor,
    input: {
      manufacturerId: string;
      modelId: string;
      serial: string;
      batchId?: string | null;
      state?: DeviceState;
    },
  ): Promise<Device> {
    if (!SERIAL_RE.test(input.serial)) {
      throw new ValidationError('ERR_DEVICE_SERIAL_INVALID', 'device serial must be 1-64 of [A-Za-z0-9._:-]');
    }
    await this.getModel(input.modelId, input.manufacturerId, tx);
    const dup = await tx
      .selectFrom('devices')
      .select('id')
      .where('manufacturer_id', '=', input.manufacturerId)
      .where('serial', '=', input.serial)
      .executeTakeFirst();
    if (dup !== undefined) throw new ConflictError('ERR_DEVICE_EXISTS', `device ${input.serial} exists`);
    const now = this.#now();
    const row: DevicesTable = {
      id: newId('dev'),
      serial: input.serial,
      manufacturer_id: input.manufacturerId,
      tenant_id: input.manufacturerId,
      model_id: input.modelId,
      state: input.state ?? 'registered',
      identity_key_fingerprint: null,
      batch_id: input.batchId ?? null,
      created_at: now,
      updated_at: now,
    };
    await tx
      .insertInto('devices')
      .values(row)
      .execute()
      .catch(conflictOn(() => new ConflictError('ERR_DEVICE_EXISTS', `device ${input.serial} exists`)));
    await this.#audit.append(tx, {
      ...by,
      action: 'device.registered',
      subject: row.id,
      tenantId: input.manufacturerId,
      details: { serial: row.serial, modelId: row.model_id, batchId: row.batch_id },
    });
    return toDevice(row);
  }

  /** Registers one device in its own transaction (see registerDevice). */
  async createDevice(
    by: Actor,
    input: { manufacturerId: string; modelId: string; serial: string; batchId?: string | null },
  ): Promise<Device> {
    return this.#store.transaction((tx) => this.registerDevice(tx, by, input));
  }

  /** The device with this id visible to `tenantId` (its owner or its manufacturer). Throws ERR_DEVICE_NOT_FOUND. */
  async getDevice(id: string, tenantId?: string, db: Executor = this.#store.db): Promise<Device> {
    let q = db.selectFrom('devices').selectAll().where('id', '=', id);
    if (tenantId !== undefined) {
      q = q.where((eb) => eb.or([eb('tenant_id', '=', tenantId), eb('manufacturer_id', '=', tenantId)]));
    }
    const r = await q.executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${id}`);
    return toDevice(r);
  }

  /** The device with this serial made by `manufacturerId`, or undefined. */
  async findDeviceBySerial(
    manufacturerId: string,
    serial: string,
    db: Executor = this.#store.db,
  ): Promise<Device | undefined> {
    const r = await db
      .selectFrom('devices')
      .selectAll()
      .where('manufacturer_id', '=', manufacturerId)
      .where('serial', '=', serial)
      .executeTakeFirst();
    return r === undefined ? undefined : toDevice(r);
  }

  /** Devices visible to a tenant, newest first, with optional filters and keyset paging by id. */
  async listDevices(
    tenantId: string,
    filter: { state?: DeviceState; modelId?: string; batchId?: string; limit?: number; after?: string } = {},
  ): Promise<Device[]> {
    let q = this.#store.db
      .selectFrom('devices')
      .selectAll()
      .where((eb) => eb.or([eb('tenant_id', '=', tenantId), eb('manufacturer_id', '=', tenantId)]));
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    if (filter.modelId !== undefined) q = q.where('model_id', '=', filter.modelId);
    if (filter.batchId !== undefined) q = q.where('batch_id', '=', filter.batchId);
    if (filter.after !== undefined) q = q.where('id', '>', filter.after);
    const rows = await q
      .orderBy('id')
      .limit(Math.min(filter.limit ?? 100, 1000))
      .execute();
    return rows.map(toDevice);
  }

  /** Changes a device's state (and optionally its fingerprint or owner) inside the caller's transaction, audited. Throws ERR_DEVICE_NOT_FOUND. */
  async updateDevice(
    tx: Executor,
    by: Actor,
    id: string,
    change: { state?: DeviceState; identityKeyFingerprint?: string | null; tenantId?: string },
    reason: string,
  ): Promise<Device> {
    const row = await tx.selectFrom('devices').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${id}`);
    const before = toDevice(row);
    const set: Partial<DevicesTable> = { updated_at: this.#now() };
    if (change.state !== undefined) set.state = change.state;
    if (change.identityKeyFingerprint !== undefined)
      set.identity_key_fingerprint = change.identityKeyFingerprint;
    if (change.tenantId !== undefined) set.tenant_id = change.tenantId;
    await tx.updateTable('devices').set(set).where('id', '=', id).execute();
    await this.#audit.append(tx, {
      ...by,
      action: reason,
      subject: id,
      tenantId: change.tenantId ?? before.tenantId,
      details: { serial: before.serial, from: before.state, ...change },
    });
    // The row as written (read once above, inside the same transaction): no second read.
    return toDevice({ ...row, ...set });
  }

  /**
   * Binds the identity keys of several devices inside the caller's transaction, each audited as
   * `device.identity_bound` (as updateDevice does), in a few statements for the whole list; `alsoAppend`
   * (the caller's entries for the same change) goes into the same batched audit append after them.
   * Throws ERR_DEVICE_NOT_FOUND.
   */
  async bindIdentityKeys(
    tx: Executor,
    bindings: readonly IdentityBinding[],
    alsoAppend: readonly AuditEvent[] = [],
  ): Promise<void> {
    const deps = { audit: this.#audit, dialect: this.#store.dialect, now: this.#now() };
    await bindIdentityKeys(tx, deps, bindings, alsoAppend);
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }
}

// A concurrent transaction can pass the duplicate check at the same time; the unique index decides.
function conflictOn(conflict: () => ConflictError): (e: unknown) => never {
  return (e) => {
    throw isUniqueViolation(e) ? conflict() : e;
  };
}

/** The registry's Device from its row. */
export function toDevice(r: DevicesTable): Device {
  return {
    id: r.id,
    serial: r.serial,
    manufacturerId: r.manufacturer_id,
    tenantId: r.tenant_id,
    modelId: r.model_id,
    state: r.state as DeviceState,
    identityKeyFingerprint: r.identity_key_fingerprint,
    batchId: r.batch_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}
