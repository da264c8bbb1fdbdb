/** Delivery of progress events to owners' webhooks: best effort, after the report has committed. */
import type { ProgressListener } from './bootstrap-service.ts';

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
