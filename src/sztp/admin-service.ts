/**
 * SZTP administration, one entry point for routes and commands: owners (owners.ts), the manufacturer's MASA
 * key and CAs (manufacturer.ts), device→owner bindings (bindings.ts, manifest-import.ts), onboarding and
 * redirect records (records.ts), imported vouchers (voucher-import.ts), webhooks (webhooks.ts), device secrets
 * (device-secrets.ts) and bootstrapping logs (bootstrap-log.ts). Every change is audited in its own transaction.
 */
import type { Executor } from '../store/database.ts';
import type { Actor, AdminDeps } from './admin-deps.ts';
import { bind } from './bindings.ts';
import { readLog, type LogEntry } from './bootstrap-log.ts';
import { setDeviceSecret } from './device-secrets.ts';
import { importManifest, type ManifestImportResult } from './manifest-import.ts';
import { addManufacturerCa, generateMasa, setMasa } from './manufacturer.ts';
import { generateOwner, getOwner, listOwners, registerOwner, type OwnerView } from './owners.ts';
import { setRecord } from './records.ts';
import { importVoucher } from './voucher-import.ts';
import { addWebhook } from './webhooks.ts';

export type { Actor } from './admin-deps.ts';
export type { OwnerView } from './owners.ts';
export { pemChain } from './owners.ts';
export type { RecordScope } from './records.ts';

/** Administration of SZTP state (each method's codes are on the function it calls). */
export class SztpAdminService {
  readonly #deps: AdminDeps;

  constructor(deps: AdminDeps) {
    this.#deps = deps;
  }

  /** See registerOwner (owners.ts). */
  registerOwner(by: Actor, input: Parameters<typeof registerOwner>[2]): ReturnType<typeof registerOwner> {
    return registerOwner(this.#deps, by, input);
  }

  /** See generateOwner (owners.ts). */
  generateOwner(by: Actor, input: Parameters<typeof generateOwner>[2]): ReturnType<typeof generateOwner> {
    return generateOwner(this.#deps, by, input);
  }

  /** The owner with this id (visible to `tenantId` when given). Throws ERR_SZTP_OWNER_NOT_FOUND. */
  getOwner(id: string, tenantId?: string, db: Executor = this.#deps.store.db): Promise<OwnerView> {
    return getOwner(db, id, tenantId);
  }

  /** Owners of a tenant. */
  listOwners(tenantId: string): Promise<OwnerView[]> {
    return listOwners(this.#deps, tenantId);
  }

  /** See setMasa (manufacturer.ts). */
  setMasa(by: Actor, input: Parameters<typeof setMasa>[2]): ReturnType<typeof setMasa> {
    return setMasa(this.#deps, by, input);
  }

  /** See generateMasa (manufacturer.ts). */
  generateMasa(by: Actor, input: Parameters<typeof generateMasa>[2]): ReturnType<typeof generateMasa> {
    return generateMasa(this.#deps, by, input);
  }

  /** See addManufacturerCa (manufacturer.ts). */
  addManufacturerCa(by: Actor, tenantId: string, pem: string): Promise<{ id: string; subject: string }> {
    return addManufacturerCa(this.#deps, by, tenantId, pem);
  }

  /** See bind (bindings.ts). */
  bind(by: Actor, input: Parameters<typeof bind>[2]): ReturnType<typeof bind> {
    return bind(this.#deps, by, input);
  }

  /**
   * Binds every device of a device maker's signed batch manifest to an owner (see importManifest in
   * manifest-import.ts for the checks and codes). Throws ERR_SZTP_OWNER_NOT_FOUND as well.
   */
  async importManifest(
    by: Actor,
    input: { ownerId: string; jws: string; registerDevices?: boolean },
  ): Promise<ManifestImportResult> {
    const owner = await this.getOwner(input.ownerId);
    return importManifest(this.#deps, by, owner, {
      jws: input.jws,
      ...(input.registerDevices !== undefined ? { registerDevices: input.registerDevices } : {}),
    });
  }

  /** See setRecord (records.ts). */
  setRecord(by: Actor, input: Parameters<typeof setRecord>[2]): ReturnType<typeof setRecord> {
    return setRecord(this.#deps, by, input);
  }

  /** See importVoucher (voucher-import.ts). */
  importVoucher(by: Actor, input: Parameters<typeof importVoucher>[2]): ReturnType<typeof importVoucher> {
    return importVoucher(this.#deps, by, input);
  }

  /** See addWebhook (webhooks.ts). */
  addWebhook(by: Actor, ownerId: string, url: string): Promise<string> {
    return addWebhook(this.#deps, by, ownerId, url);
  }

  /** See setDeviceSecret (device-secrets.ts). */
  setDeviceSecret(by: Actor, deviceId: string, secret: string): Promise<void> {
    return setDeviceSecret(this.#deps, by, deviceId, secret);
  }

  /** A device's bootstrapping log, oldest first. Throws ERR_DEVICE_NOT_FOUND when the tenant cannot see it. */
  log(tenantId: string, deviceId: string): Promise<LogEntry[]> {
    return readLog(this.#deps, tenantId, deviceId);
  }
}
