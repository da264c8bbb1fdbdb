import { createHash } from 'node:crypto';
import { ImprintError } from '../core/errors.ts';
import { bootHardwareOf } from '../firmware/boot/adapter.ts';
import { bootDevice, confirmImage, type BootResult } from '../firmware/boot/bootloader.ts';
import type { BootHardware, BootMeasurement } from '../firmware/boot/types.ts';
import { checkForUpdate } from '../firmware/device-update.ts';
import { imageLength } from '../firmware/mcuboot/parse.ts';
import type { UpdateClient } from '../firmware/update-client.ts';
import type { SimulatedDevice } from './simulator.ts';

/** What the device tells the server after a cycle (the caller signs and sends it). */
export interface UpdateReport {
  readonly version: string;
  /** Hex SHA-256 of the running image file (the TUF target hash). */
  readonly imageDigest: string;
  readonly refused?: { readonly code: string; readonly target: string };
}

/** One step of the cycle, for the operator's log. */
export interface CycleEvent {
  readonly step: 'boot' | 'check' | 'stage' | 'health' | 'confirm' | 'revert' | 'refuse' | 'report';
  readonly detail: string;
}

/** Outcome of one update cycle. */
export interface UpdateCycleResult {
  readonly before: BootMeasurement;
  readonly after: BootMeasurement;
  /** `updated` when a new image runs and is confirmed. */
  readonly outcome: 'up-to-date' | 'updated' | 'reverted' | 'refused';
  readonly refusal?: { readonly code: string; readonly message: string; readonly target?: string };
  readonly securityCounter: number;
  readonly events: readonly CycleEvent[];
}

/** How one cycle runs. */
export interface UpdateCycleOptions {
  readonly client: UpdateClient;
  /** The registry model id whose delegated TUF role lists this device's images. */
  readonly modelId: string;
  /** The new image's health check (the application's self-test); false leaves it unconfirmed. */
  readonly healthy: () => Promise<boolean>;
  /** Image digests (TUF target sha256) that staged releases let this device install; absent: any. */
  readonly rollout?: () => Promise<ReadonlySet<string>>;
  /** Sends a report to the server; a failed report is logged in the events and undoes nothing. */
  readonly report?: (r: UpdateReport) => Promise<void>;
}

/** Boot hardware of a simulated device: fused key hash, PUBKEY images, persisted swap state. */
export function deviceBootHardware(device: SimulatedDevice): BootHardware {
  return bootHardwareOf(device, { romKeys: [], state: device.bootState() });
}

/**
 * One update cycle on a simulated device, as its firmware agent would run it: boot (reverting an
 * image left unconfirmed), refresh TUF metadata and stage the newest eligible image, reboot into
 * it, run the health check, confirm it or let the watchdog reboot revert it, and report the result.
 * Refusals (TUF or secure boot) leave the running image in place and are reported, not thrown.
 * Throws ERR_DEVICE_BOOT_FAILED when the primary image itself does not boot.
 */
export async function runUpdateCycle(
  device: SimulatedDevice,
  o: UpdateCycleOptions,
): Promise<UpdateCycleResult> {
  const hw = deviceBootHardware(device);
  const events: CycleEvent[] = [];
  const boot = (): BootResult & { measurement: BootMeasurement } => {
    const r = bootDevice(hw);
    if (!r.booted || r.measurement === undefined) {
      throw new ImprintError(
        'ERR_DEVICE_BOOT_FAILED',
        500,
        `the device does not boot: ${r.refusal?.message}`,
        {
          details: { reason: r.refusal?.code },
        },
      );
    }
    events.push({ step: 'boot', detail: `${r.action} → running ${r.measurement.version}` });
    return r as BootResult & { measurement: BootMeasurement };
  };
  const finish = async (
    outcome: UpdateCycleResult['outcome'],
    before: BootMeasurement,
    after: BootMeasurement,
    refusal?: UpdateCycleResult['refusal'],
  ): Promise<UpdateCycleResult> => {
    const report: UpdateReport = {
      version: after.version,
      imageDigest: runningImageDigest(hw),
      ...(refusal === undefined ? {} : { refused: { code: refusal.code, target: refusal.target ?? '' } }),
    };
    if (o.report !== undefined) {
      try {
        await o.report(report);
        events.push({
          step: 'report',
          detail: `sent (${report.refused === undefined ? 'installed' : 'refused'})`,
        });
      } catch (e) {
        events.push({ step: 'report', detail: `not sent: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
    return {
      before,
      after,
      outcome,
      ...(refusal === undefined ? {} : { refusal }),
      securityCounter: hw.counter.read(),
      events,
    };
  };

  const first = boot();
  if (first.action === 'reverted') {
    events.push({ step: 'revert', detail: 'the last update never confirmed itself; the old image is back' });
  }
  if (hw.state.read() === 'testing') await healthCheck(hw, o, events);
  const before = first.measurement;

  let staged;
  try {
    const rollout = await o.rollout?.();
    const check = await checkForUpdate(o.client, hw, {
      modelId: o.modelId,
      runningVersion: before.version,
      ...(rollout === undefined ? {} : { rollout }),
    });
    const held = check.held > 0 ? ` (${check.held} newer image(s) not yet rolled out to this device)` : '';
    events.push({ step: 'check', detail: `${check.action}${held}` });
    if (check.target === undefined) return await finish('up-to-date', before, before);
    staged = check.target;
    events.push({ step: 'stage', detail: `${staged.path} (${staged.info.custom?.version ?? '?'})` });
  } catch (e) {
    if (!(e instanceof ImprintError)) throw e;
    const reason = typeof e.details?.reason === 'string' ? e.details.reason : e.code;
    const target = typeof e.details?.path === 'string' ? e.details.path : undefined;
    events.push({ step: 'refuse', detail: `${reason}: ${e.message}` });
    return finish('refused', before, before, {
      code: reason,
      message: e.message,
      ...(target ? { target } : {}),
    });
  }

  const second = boot();
  if (second.action === 'upgrade-refused') {
    const refusal = second.refusal ?? { code: 'ERR_BOOT_VERIFY_FAILED', message: 'update refused at boot' };
    events.push({ step: 'refuse', detail: `${refusal.code}: ${refusal.message}` });
    return finish('refused', before, second.measurement, { ...refusal, target: staged.path });
  }
  // Confirmed: the next boot makes the image permanent and raises the anti-rollback counter.
  if (await healthCheck(hw, o, events)) return finish('updated', before, boot().measurement);
  // The watchdog fires: the next boot finds the image still unconfirmed and swaps the old one back.
  const third = boot();
  events.push({ step: 'revert', detail: `${third.measurement.version} restored` });
  return finish('reverted', before, third.measurement, {
    code: 'ERR_FIRMWARE_HEALTH_CHECK_FAILED',
    message: 'the new image failed its health check and was reverted',
    target: staged.path,
  });
}

async function healthCheck(hw: BootHardware, o: UpdateCycleOptions, events: CycleEvent[]): Promise<boolean> {
  const ok = await o.healthy();
  events.push({ step: 'health', detail: ok ? 'passed' : 'failed' });
  if (ok) {
    confirmImage(hw);
    events.push({ step: 'confirm', detail: 'image confirmed; the next boot makes it permanent' });
  }
  return ok;
}

/** Hex SHA-256 of the image in the primary slot (without the erased tail). */
function runningImageDigest(hw: BootHardware): string {
  const slot = hw.primary.read();
  return createHash('sha256')
    .update(slot.subarray(0, imageLength(slot)))
    .digest('hex');
}
