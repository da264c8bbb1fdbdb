/** The device's calls to Imprint's firmware API, over mutual TLS with its identity. */
import { toBase64 } from '../core/encoding.ts';
import { ImprintError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { InstallReport } from '../firmware/releases.ts';
import { canonicalBytes } from '../firmware/tuf/canonical.ts';
import type { DeviceConfig } from './config.ts';
import { requestJson, type DeviceTls } from './https-client.ts';
import type { SecureElement } from './secure-element.ts';
import type { UpdateReport } from './update-agent.ts';

/**
 * Sends update reports to `POST /api/v1/firmware/reports` over mutual TLS with the device identity,
 * each signed by the identity key in the secure element (canonical JSON, as the server verifies).
 * Throws ERR_DEVICE_REPORT_REJECTED with the server's error code.
 */
export function installReporter(o: {
  serverUrl: string;
  config: DeviceConfig;
  se: SecureElement;
  tls: DeviceTls;
  clock: Clock;
}): (r: UpdateReport) => Promise<void> {
  return async (r) => {
    const report: InstallReport = {
      deviceId: o.config.deviceId,
      version: r.version,
      imageDigest: r.imageDigest,
      time: o.clock.now().toISOString(),
      ...(r.refused === undefined ? {} : { refused: r.refused }),
    };
    const signature = toBase64(await o.se.sign(canonicalBytes(report)));
    const url = `${o.serverUrl.replace(/\/$/, '')}/api/v1/firmware/reports`;
    const { status, reply } = await requestJson(url, o.tls, { report, signature });
    if (status !== 200) throw refused('ERR_DEVICE_REPORT_REJECTED', 'the report', status, reply);
  };
}

/**
 * Asks `GET /api/v1/firmware/rollout` (mutual TLS) which image digests staged releases let this device
 * install. Throws ERR_DEVICE_ROLLOUT_UNAVAILABLE.
 */
export function rolloutOf(o: { serverUrl: string; tls: DeviceTls }): () => Promise<ReadonlySet<string>> {
  return async () => {
    const url = `${o.serverUrl.replace(/\/$/, '')}/api/v1/firmware/rollout`;
    const { status, reply } = await requestJson(url, o.tls);
    const releases = (reply as { releases?: unknown } | undefined)?.releases;
    if (status !== 200 || !Array.isArray(releases))
      throw refused('ERR_DEVICE_ROLLOUT_UNAVAILABLE', 'the rollout request', status, reply);
    return new Set(
      releases
        .map((r: unknown) => (r as { imageDigest?: unknown }).imageDigest)
        .filter((d): d is string => typeof d === 'string' && /^[0-9a-f]{64}$/.test(d)),
    );
  };
}

function refused(code: string, what: string, status: number, reply: unknown): ImprintError {
  const server = (reply as { error?: { code?: unknown } } | undefined)?.error?.code;
  return new ImprintError(
    code,
    502,
    `the server refused ${what} (${status}${typeof server === 'string' ? ` ${server}` : ''})`,
  );
}
