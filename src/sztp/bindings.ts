/** Device → owner bindings: which owner's bootstrapping data a device gets (the device record moves with it). */
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { NotFoundError, ValidationError } from '../core/errors.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Executor } from '../store/database.ts';
import type { Actor, AdminDeps } from './admin-deps.ts';
import { getOwner } from './owners.ts';

/** What binding needs. */
export interface BindingDeps {
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
}

/**
 * Binds devices to an owner inside the caller's transaction: replaces any earlier binding, moves each device
 * record to the owner's tenant, and audits each (`sztp.device.bound`, with `reason` when given).
 */
export async function bindDevices(
  tx: Executor,
  deps: BindingDeps,
  by: { actor: string },
  owner: { id: string; tenantId: string },
  deviceIds: readonly string[],
): Promise<void> {
  const now = deps.clock.now().toISOString();
  for (const id of deviceIds) {
    await tx.deleteFrom('sztp_bindings').where('device_id', '=', id).execute();
    await tx
      .insertInto('sztp_bindings')
      .values({ device_id: id, owner_id: owner.id, created_at: now })
      .execute();
    const dev = await deps.registry.getDevice(id, undefined, tx);
    if (dev.tenantId !== owner.tenantId)
      await deps.registry.updateDevice(tx, by, id, { tenantId: owner.tenantId }, 'sztp.device.bound');
    else
      await deps.audit.append(tx, {
        ...by,
        action: 'sztp.device.bound',
        subject: id,
        tenantId: owner.tenantId,
        details: { ownerId: owner.id },
      });
  }
}

/**
 * Binds devices (by serial list or by batch) of manufacturer `tenantId` to an owner, moving their records to
 * the owner's tenant. All or nothing. Throws ERR_SZTP_OWNER_NOT_FOUND, ERR_DEVICE_NOT_FOUND, ERR_SZTP_BIND_EMPTY.
 */
export async function bind(
  deps: AdminDeps,
  by: Actor,
  input: { tenantId: string; ownerId: string; serials?: readonly string[]; batchId?: string },
): Promise<{ bound: number }> {
  return deps.store.transaction(async (tx) => {
    const owner = await getOwner(tx, input.ownerId);
    let ids: string[] = [];
    if (input.batchId !== undefined) {
      const rows = await tx
        .selectFrom('devices')
        .select('id')
        .where('manufacturer_id', '=', input.tenantId)
        .where('batch_id', '=', input.batchId)
        .execute();
      ids = rows.map((r) => r.id);
    }
    for (const serial of input.serials ?? []) {
      const d = await deps.registry.findDeviceBySerial(input.tenantId, serial, tx);
      if (d === undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${serial}`);
      ids.push(d.id);
    }
    ids = [...new Set(ids)];
    if (ids.length === 0) throw new ValidationError('ERR_SZTP_BIND_EMPTY', 'no devices to bind');
    await bindDevices(tx, deps, by, owner, ids);
    return { bound: ids.length };
  });
}
