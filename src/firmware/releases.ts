import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Executor } from '../store/database.ts';
import type { FirmwareReleasesTable } from '../store/tables/firmware.ts';
import { canonicalBytes } from './tuf/canonical.ts';
import type { FirmwareActor, FirmwareDeps } from './types.ts';

/** Rollout stages, in the only order a release may move through them. */
export const STAGES = ['draft', 'group', 'percentage', 'all'] as const;
/** One of STAGES. */
export type Stage = (typeof STAGES)[number];

/** A release as operators see it. */
export interface Release {
  readonly id: string;
  readonly imageDigest: string;
  readonly version: string;
  readonly securityCounter: number;
  readonly modelIds: readonly string[];
  readonly stage: Stage;
  readonly group: string | null;
  readonly percent: number | null;
}

/** What a device signs to report its running firmware. */
export interface InstallReport {
  readonly deviceId: string;
  readonly version: string;
  readonly imageDigest: string;
  readonly time: string;
  /** Set when the device refused an update (boot or TUF refusal code, and the target it refused). */
  readonly refused?: { readonly code: string; readonly target: string };
}

/** Rollout progress: per group, and overall for the release's models. */
export interface RolloutProgress {
  readonly release: Release;
  readonly groups: readonly { group: string; devices: number; installed: number }[];
  readonly total: { devices: number; eligible: number; installed: number };
}

/** Deterministic 0..99 bucket of a device for a release, so percentages grow without reshuffling. */
export function bucketOf(releaseId: string, deviceId: string): number {
  return createHash('sha256').update(`${releaseId}:${deviceId}`).digest().readUInt32BE(0) % 100;
}

/**
 * Releases (image + version + security counter + target models) staged to a device group, then a
 * percentage, then everyone; signed install reports from devices; progress per group. Throws the codes
 * named on each method.
 */
export class ReleaseService {
  readonly #d: FirmwareDeps;

  constructor(deps: FirmwareDeps) {
    this.#d = deps;
  }

  /** Creates a draft release of a signed image. Throws ERR_FIRMWARE_IMAGE_NOT_FOUND, ERR_FIRMWARE_BAD_RELEASE. */
  async create(by: FirmwareActor, imageDigest: string, modelIds: readonly string[]): Promise<Release> {
    if (modelIds.length === 0 || modelIds.length > 64)
      throw new ValidationError('ERR_FIRMWARE_BAD_RELEASE', 'a release targets 1..64 models');
    return this.#d.store.transaction(async (tx) => {
      const img = await tx
        .selectFrom('firmware_images')
        .select(['version', 'security_counter'])
        .where('digest', '=', imageDigest)
        .where('tenant_id', '=', by.tenantId)
        .executeTakeFirst();
      if (img === undefined)
        throw new NotFoundError('ERR_FIRMWARE_IMAGE_NOT_FOUND', `no image ${imageDigest}`);
      const models = await tx
        .selectFrom('device_models')
        .select('id')
        .where('tenant_id', '=', by.tenantId)
        .where('id', 'in', [...modelIds])
        .execute();
      if (models.length !== new Set(modelIds).size)
        throw new ValidationError('ERR_FIRMWARE_BAD_RELEASE', 'unknown device model');
      const now = this.#d.clock.now().toISOString();
      const row: FirmwareReleasesTable = {
        id: newId('rel'),
        tenant_id: by.tenantId,
        image_digest: imageDigest,
        version: img.version,
        security_counter: img.security_counter,
        model_ids: JSON.stringify([...new Set(modelIds)].sort()),
        stage: 'draft',
        stage_group: null,
        stage_percent: null,
        created_at: now,
        updated_at: now,
      };
      await tx.insertInto('firmware_releases').values(row).execute();
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.release_created',
        subject: row.id,
        tenantId: by.tenantId,
        details: { imageDigest, version: img.version, securityCounter: img.security_counter, modelIds },
      });
      return toRelease(row);
    });
  }

  /** Puts devices into a named rollout group. Throws ERR_FIRMWARE_BAD_RELEASE (unknown device). */
  async addToGroup(by: FirmwareActor, group: string, deviceIds: readonly string[]): Promise<void> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(group))
      throw new ValidationError('ERR_FIRMWARE_BAD_RELEASE', 'group names are 1..64 of [A-Za-z0-9._-]');
    await this.#d.store.transaction(async (tx) => {
      const found = await tx
        .selectFrom('devices')
        .select('id')
        .where('tenant_id', '=', by.tenantId)
        .where('id', 'in', [...deviceIds])
        .execute();
      if (found.length !== new Set(deviceIds).size)
        throw new ValidationError('ERR_FIRMWARE_BAD_RELEASE', 'unknown device');
      for (const id of new Set(deviceIds)) {
        const exists = await tx
          .selectFrom('firmware_device_groups')
          .select('device_id')
          .where('tenant_id', '=', by.tenantId)
          .where('name', '=', group)
          .where('device_id', '=', id)
          .executeTakeFirst();
        if (exists === undefined)
          await tx
            .insertInto('firmware_device_groups')
            .values({ tenant_id: by.tenantId, name: group, device_id: id })
            .execute();
      }
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.group_changed',
        subject: group,
        tenantId: by.tenantId,
        details: { added: deviceIds.length },
      });
    });
  }

  /**
   * Moves a release forward: to a group, to a percentage (which may only grow), then to all.
   * Throws ERR_FIRMWARE_RELEASE_NOT_FOUND, ERR_FIRMWARE_STAGE_BACKWARDS, ERR_FIRMWARE_BAD_RELEASE.
   */
  async stage(
    by: FirmwareActor,
    releaseId: string,
    to: { stage: 'group'; group: string } | { stage: 'percentage'; percent: number } | { stage: 'all' },
  ): Promise<Release> {
    return this.#d.store.transaction(async (tx) => {
      const r = await this.#row(tx, by.tenantId, releaseId);
      const from = STAGES.indexOf(r.stage as Stage);
      const next = STAGES.indexOf(to.stage);
      const growing =
        to.stage === 'percentage' && r.stage === 'percentage' && to.percent > (r.stage_percent ?? 0);
      if (next < from || (next === from && !growing))
        throw new ConflictError(
          'ERR_FIRMWARE_STAGE_BACKWARDS',
          `release is at ${r.stage}; rollouts only move forward`,
        );
      if (
        to.stage === 'percentage' &&
        (!Number.isInteger(to.percent) || to.percent < 1 || to.percent > 100)
      ) {
        throw new ValidationError('ERR_FIRMWARE_BAD_RELEASE', 'percentage must be 1..100');
      }
      const set = {
        stage: to.stage,
        stage_group: to.stage === 'group' ? to.group : r.stage_group,
        stage_percent: to.stage === 'percentage' ? to.percent : r.stage_percent,
        updated_at: this.#d.clock.now().toISOString(),
      };
      await tx.updateTable('firmware_releases').set(set).where('id', '=', releaseId).execute();
      await this.#d.audit.append(tx, {
        actor: by.actor,
        action: 'firmware.release_staged',
        subject: releaseId,
        tenantId: by.tenantId,
        details: { from: r.stage, ...to },
      });
      return toRelease({ ...r, ...set });
    });
  }

  /** Whether a device may take a release now. Throws ERR_FIRMWARE_RELEASE_NOT_FOUND. */
  async eligible(
    tenantId: string,
    releaseId: string,
    device: { id: string; modelId: string },
  ): Promise<boolean> {
    const r = toRelease(await this.#row(this.#d.store.db, tenantId, releaseId));
    if (!r.modelIds.includes(device.modelId) || r.stage === 'draft') return false;
    if (r.stage === 'all') return true;
    const inGroup =
      r.group !== null &&
      (await this.#d.store.db
        .selectFrom('firmware_device_groups')
        .select('device_id')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', r.group)
        .where('device_id', '=', device.id)
        .executeTakeFirst()) !== undefined;
    return inGroup || (r.stage === 'percentage' && bucketOf(r.id, device.id) < (r.percent ?? 0));
  }

  /**
   * The releases a device may install now (its manufacturer's, for its model, at a stage that includes
   * it), newest security counter first. The device's update agent installs only TUF targets listed here.
   * Throws ERR_DEVICE_NOT_FOUND.
   */
  async rolloutFor(deviceId: string): Promise<Release[]> {
    const db = this.#d.store.db;
    const device = await db
      .selectFrom('devices')
      .select(['id', 'model_id', 'manufacturer_id'])
      .where('id', '=', deviceId)
      .executeTakeFirst();
    if (device === undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${deviceId}`);
    const rows = await db
      .selectFrom('firmware_releases')
      .selectAll()
      .where('tenant_id', '=', device.manufacturer_id)
      .where('stage', '!=', 'draft')
      .orderBy('security_counter', 'desc')
      .execute();
    const out: Release[] = [];
    for (const r of rows) {
      if (await this.eligible(device.manufacturer_id, r.id, { id: device.id, modelId: device.model_id }))
        out.push(toRelease(r));
    }
    return out;
  }

  /**
   * Records a device's signed report of what it runs (or of an update it refused, audited only); the signature must come from the key bound to
   * the device's identity (SPKI DER whose SHA-256 is the device's fingerprint). Throws
   * ERR_FIRMWARE_REPORT_UNTRUSTED, ERR_FIRMWARE_BAD_RELEASE.
   */
  async report(
    tenantId: string,
    report: InstallReport,
    signature: Uint8Array,
    identitySpki: Uint8Array,
  ): Promise<void> {
    const device = await this.#d.store.db
      .selectFrom('devices')
      .select(['id', 'identity_key_fingerprint', 'manufacturer_id'])
      .where('id', '=', report.deviceId)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    const fp = createHash('sha256').update(identitySpki).digest('hex');
    if (device === undefined || device.identity_key_fingerprint !== fp)
      throw new ForbiddenError('ERR_FIRMWARE_REPORT_UNTRUSTED', 'report key is not the device identity key');
    let ok: boolean;
    try {
      const key = createPublicKey({ key: Buffer.from(identitySpki), format: 'der', type: 'spki' });
      ok = nodeVerify(
        key.asymmetricKeyType === 'ed25519' ? null : 'sha256',
        canonicalBytes(report),
        key,
        signature,
      );
    } catch {
      ok = false;
    }
    if (!ok) throw new ForbiddenError('ERR_FIRMWARE_REPORT_UNTRUSTED', 'report signature does not verify');
    await this.#d.store.transaction(async (tx) => {
      if (report.refused !== undefined) {
        // A refused update changes nothing installed; it is recorded so operators see the attack or fault.
        await this.#d.audit.append(tx, {
          actor: `device:${report.deviceId}`,
          action: 'firmware.update_refused',
          subject: report.deviceId,
          tenantId,
          details: { running: report.version, code: report.refused.code, target: report.refused.target },
        });
        return;
      }
      await tx.deleteFrom('firmware_reports').where('device_id', '=', report.deviceId).execute();
      await tx
        .insertInto('firmware_reports')
        .values({
          device_id: report.deviceId,
          // Releases are the manufacturer's: its progress counts a device even after the device is sold.
          tenant_id: device.manufacturer_id,
          version: report.version,
          image_digest: report.imageDigest,
          reported_at: report.time,
        })
        .execute();
      await this.#d.audit.append(tx, {
        actor: `device:${report.deviceId}`,
        action: 'firmware.installed_reported',
        subject: report.deviceId,
        tenantId,
        details: { version: report.version, imageDigest: report.imageDigest },
      });
    });
  }

  /** Progress of a release per group and overall. Throws ERR_FIRMWARE_RELEASE_NOT_FOUND. */
  async progress(tenantId: string, releaseId: string): Promise<RolloutProgress> {
    const db = this.#d.store.db;
    const release = toRelease(await this.#row(db, tenantId, releaseId));
    const devices = await db
      .selectFrom('devices')
      .select(['id', 'model_id'])
      .where('manufacturer_id', '=', tenantId)
      .where('model_id', 'in', [...release.modelIds])
      .execute();
    const reports = await db
      .selectFrom('firmware_reports')
      .select(['device_id', 'image_digest'])
      .where('tenant_id', '=', tenantId)
      .execute();
    const installed = new Set(
      reports.filter((r) => r.image_digest === release.imageDigest).map((r) => r.device_id),
    );
    const groupRows = await db
      .selectFrom('firmware_device_groups')
      .select(['name', 'device_id'])
      .where('tenant_id', '=', tenantId)
      .execute();
    const groups = new Map<string, string[]>();
    for (const g of groupRows) groups.set(g.name, [...(groups.get(g.name) ?? []), g.device_id]);
    let eligible = 0;
    for (const d of devices)
      if (await this.eligible(tenantId, releaseId, { id: d.id, modelId: d.model_id })) eligible++;
    return {
      release,
      groups: [...groups]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([group, ids]) => ({
          group,
          devices: ids.length,
          installed: ids.filter((i) => installed.has(i)).length,
        })),
      total: {
        devices: devices.length,
        eligible,
        installed: devices.filter((d) => installed.has(d.id)).length,
      },
    };
  }

  async #row(db: Executor, tenantId: string, id: string): Promise<FirmwareReleasesTable> {
    const r = await db
      .selectFrom('firmware_releases')
      .selectAll()
      .where('id', '=', id)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_FIRMWARE_RELEASE_NOT_FOUND', `no release ${id}`);
    return r;
  }
}

function toRelease(r: FirmwareReleasesTable): Release {
  return {
    id: r.id,
    imageDigest: r.image_digest,
    version: r.version,
    securityCounter: r.security_counter,
    modelIds: JSON.parse(r.model_ids) as string[],
    stage: r.stage as Stage,
    group: r.stage_group,
    percent: r.stage_percent,
  };
}
