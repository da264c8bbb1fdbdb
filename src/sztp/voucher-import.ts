/** Owner side: storing a voucher the device's manufacturer issued, for a bootstrap server without the MASA key. */
import { newId } from '../core/ids.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';
import { getOwner } from './owners.ts';

/** Stores a voucher issued by the device's manufacturer for an owner. Throws ERR_SZTP_OWNER_NOT_FOUND. */
export async function importVoucher(
  deps: AdminDeps,
  by: Actor,
  input: { ownerId: string; deviceId: string; cms: Uint8Array; expiresAt: string },
): Promise<string> {
  return deps.store.transaction(async (tx) => {
    const owner = await getOwner(tx, input.ownerId);
    const row = {
      id: newId('vch'),
      device_id: input.deviceId,
      owner_id: owner.id,
      cms: input.cms,
      expires_at: input.expiresAt,
      created_at: nowIso(deps),
    };
    await tx.insertInto('sztp_vouchers').values(row).execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.voucher.imported',
      subject: input.deviceId,
      tenantId: owner.tenantId,
      details: { ownerId: owner.id, expiresAt: input.expiresAt },
    });
    return row.id;
  });
}
