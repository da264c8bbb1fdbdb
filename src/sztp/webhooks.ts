/** Owners' webhooks: registering them, and delivering progress events (best effort, after the report committed). */
import { ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';
import type { ProgressListener } from './bootstrap-service.ts';
import { getOwner } from './owners.ts';

/** Adds a webhook called on every progress report of the owner's devices. Throws ERR_SZTP_WEBHOOK_INVALID, ERR_SZTP_OWNER_NOT_FOUND. */
export async function addWebhook(deps: AdminDeps, by: Actor, ownerId: string, url: string): Promise<string> {
  if (!/^https?:\/\/[^\s]+$/.test(url))
    throw new ValidationError('ERR_SZTP_WEBHOOK_INVALID', 'webhook URL must be http(s)');
  return deps.store.transaction(async (tx) => {
    const owner = await getOwner(tx, ownerId);
    const id = newId('hook');
    await tx
      .insertInto('sztp_webhooks')
      .values({ id, owner_id: owner.id, url, created_at: nowIso(deps) })
      .execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.webhook.added',
      subject: id,
      tenantId: owner.tenantId,
      details: { url },
    });
    return id;
  });
}

/** A ProgressListener that POSTs each event as JSON to the owner's webhook URLs (5 s timeout, errors logged). */
export function webhookDeliverer(log: (message: string) => void = () => undefined): ProgressListener {
  return (event) => {
    const body = JSON.stringify({
      type: 'sztp.progress',
      deviceId: event.deviceId,
      serial: event.serial,
      ownerId: event.ownerId,
      progressType: event.progressType,
      message: event.message ?? null,
    });
    for (const url of event.urls) {
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(5000),
      }).catch(() => log(`webhook ${url} failed`));
    }
  };
}
