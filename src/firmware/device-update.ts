import { ValidationError } from '../core/errors.ts';
import { stageUpdate } from './boot/bootloader.ts';
import type { BootHardware } from './boot/types.ts';
import { bootPolicy } from './boot/bootloader.ts';
import { verifyBootImage } from './boot/verify.ts';
import { compareVersions } from './mcuboot/types.ts';
import { parseVersion } from './mcuboot/version.ts';
import type { TargetChoice, UpdateClient } from './update-client.ts';

/** What one update check did. */
export interface UpdateCheck {
  readonly action: 'up-to-date' | 'staged';
  readonly target?: TargetChoice;
  /** Newer targets left alone because no staged release includes this device yet. */
  readonly held: number;
}

/**
 * Downloads a target, verifies it as the boot ROM will (signature, fused key, counter, class ids)
 * and only then stages it in the secondary slot for the next boot. Throws the client's download
 * codes and ERR_FIRMWARE_UPDATE_REFUSED (details.reason = the boot refusal code).
 */
export async function installTarget(
  client: UpdateClient,
  hw: BootHardware,
  target: TargetChoice,
): Promise<void> {
  const image = await client.download(target);
  const verdict = verifyBootImage(image, bootPolicy(hw));
  if (!verdict.ok) {
    throw new ValidationError('ERR_FIRMWARE_UPDATE_REFUSED', `update refused: ${verdict.refusal.message}`, {
      details: { reason: verdict.refusal.code, path: target.path },
    });
  }
  stageUpdate(hw, image);
}

/**
 * Refreshes TUF metadata for the device's model and stages the newest image that is newer than
 * `runningVersion`, not below the device's security counter and, when `rollout` is given, among the
 * image digests a staged release lets this device take. Throws the refresh and install codes.
 */
export async function checkForUpdate(
  client: UpdateClient,
  hw: BootHardware,
  device: { modelId: string; runningVersion: string; rollout?: ReadonlySet<string> },
): Promise<UpdateCheck> {
  const running = parseVersion(device.runningVersion);
  const floor = hw.counter.read();
  const newer = (await client.refresh(device.modelId))
    .filter((t) => t.info.custom !== undefined && t.info.custom.securityCounter >= floor)
    .filter((t) => compareVersions(parseVersion(t.info.custom?.version ?? '0'), running) > 0);
  const rollout = device.rollout;
  const candidates = (
    rollout === undefined ? newer : newer.filter((t) => rollout.has(t.info.hashes.sha256))
  ).sort((a, b) =>
    compareVersions(parseVersion(b.info.custom?.version ?? '0'), parseVersion(a.info.custom?.version ?? '0')),
  );
  const best = candidates[0];
  const held = newer.length - candidates.length;
  if (best === undefined) return { action: 'up-to-date', held };
  await installTarget(client, hw, best);
  return { action: 'staged', target: best, held };
}
