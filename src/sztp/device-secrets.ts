/** Per-device HTTP Basic secrets for SZTP (stored as scrypt hashes; device-auth.ts checks them). */
import { randomBytes, scryptSync } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';

/** Sets a device's HTTP Basic secret (stored as salt ‖ scrypt hash). Throws ERR_SZTP_SECRET_WEAK, ERR_DEVICE_NOT_FOUND. */
export async function setDeviceSecret(
  deps: AdminDeps,
  by: Actor,
  deviceId: string,
  secret: string,
): Promise<void> {
  if (secret.length < 16)
    throw new ValidationError('ERR_SZTP_SECRET_WEAK', 'device secret must be at least 16 characters');
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, 32);
  await deps.store.transaction(async (tx) => {
    const dev = await deps.registry.getDevice(deviceId, undefined, tx);
    await tx.deleteFrom('sztp_device_secrets').where('device_id', '=', deviceId).execute();
    await tx
      .insertInto('sztp_device_secrets')
      .values({
        device_id: deviceId,
        secret_hash: new Uint8Array(Buffer.concat([salt, hash])),
        created_at: nowIso(deps),
      })
      .execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.device.secret-set',
      subject: deviceId,
      tenantId: dev.tenantId,
      details: {},
    });
  });
}
