/** RFC 8572 §5.6 processing of trusted onboarding information, each step reported. */
import { createHash } from 'node:crypto';
import { bytesEqual } from '../../core/encoding.ts';
import { ImprintError } from '../../core/errors.ts';
import type { OnboardingInformation, ProgressType } from '../../sztp/types.ts';
import type { DevicePlatform } from './platform.ts';

/** Sends one progress report (the agent decides whether it actually leaves the device). */
export type Reporter = (type: ProgressType, message?: string) => Promise<void>;

function stepError(code: string, message: string, cause?: unknown): ImprintError {
  return new ImprintError(code, 400, message, cause === undefined ? {} : { cause });
}

async function bootImage(
  info: OnboardingInformation,
  platform: DevicePlatform,
  report: Reporter,
): Promise<void> {
  const bi = info.bootImage;
  if (bi === undefined) return;
  const os = platform.currentOs();
  if (
    (bi.osName === undefined || bi.osName === os.name) &&
    (bi.osVersion === undefined || bi.osVersion === os.version)
  )
    return;
  await report('boot-image-initiated');
  const hashes = bi.imageVerification.filter((v) => v.hashAlgorithm === 'sha-256').map((v) => v.hashValue);
  if (hashes.length === 0) {
    await report('boot-image-error', 'no sha-256 image-verification');
    throw stepError('ERR_SZTP_BOOT_IMAGE_UNVERIFIABLE', 'boot image has no sha-256 verification');
  }
  let lastError = 'no download-uri';
  for (const uri of bi.downloadUris) {
    let image: Uint8Array;
    try {
      image = await platform.download(uri);
    } catch (e) {
      lastError = `download failed: ${uri}`;
      await report('boot-image-warning', lastError);
      void e;
      continue;
    }
    const digest = new Uint8Array(createHash('sha256').update(image).digest());
    if (!hashes.some((h) => bytesEqual(h, digest))) {
      lastError = `hash mismatch: ${uri}`;
      continue;
    }
    await platform.installBootImage(image, bi.osName, bi.osVersion);
    await report('boot-image-complete');
    return;
  }
  await report('boot-image-error', lastError);
  throw stepError(
    lastError.startsWith('hash') ? 'ERR_SZTP_BOOT_IMAGE_HASH_MISMATCH' : 'ERR_SZTP_BOOT_IMAGE_UNAVAILABLE',
    `boot image not installed (${lastError})`,
  );
}

async function script(
  phase: 'pre' | 'post',
  body: Uint8Array | undefined,
  platform: DevicePlatform,
  report: Reporter,
): Promise<void> {
  if (body === undefined) return;
  const p = phase === 'pre' ? 'pre-script' : 'post-script';
  await report(`${p}-initiated`);
  const r = await platform
    .runScript(phase, body)
    .catch((e: unknown) => ({ ok: false, message: e instanceof Error ? e.message : 'script failed' }));
  if (!r.ok) {
    await report(`${p}-error`, r.message);
    throw stepError('ERR_SZTP_SCRIPT_FAILED', `${p} failed`);
  }
  if ('warning' in r && r.warning !== undefined) await report(`${p}-warning`, r.warning);
  await report(`${p}-complete`);
}

/**
 * Applies onboarding information in RFC order: boot image (download, SHA-256 check, install), pre-script,
 * configuration (atomic), post-script. Throws ERR_SZTP_BOOT_IMAGE_HASH_MISMATCH, ERR_SZTP_BOOT_IMAGE_UNAVAILABLE,
 * ERR_SZTP_BOOT_IMAGE_UNVERIFIABLE, ERR_SZTP_SCRIPT_FAILED, ERR_SZTP_CONFIG_FAILED.
 */
export async function applyOnboarding(
  info: OnboardingInformation,
  platform: DevicePlatform,
  report: Reporter,
): Promise<void> {
  await bootImage(info, platform, report);
  await script('pre', info.preConfigurationScript, platform, report);
  if (info.configuration !== undefined) {
    await report('config-initiated');
    try {
      await platform.applyConfiguration(info.configurationHandling ?? 'merge', info.configuration);
    } catch (e) {
      await report('config-error', e instanceof Error ? e.message : 'configuration rejected');
      throw stepError('ERR_SZTP_CONFIG_FAILED', 'configuration not applied', e);
    }
    await report('config-complete');
  }
  await script('post', info.postConfigurationScript, platform, report);
}
