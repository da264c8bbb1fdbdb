/**
 * Device authentication at the bootstrap server: the IDevID chain presented in mutual TLS, validated against
 * the registered manufacturer CAs (serial from the subject serialNumber), and/or HTTP Basic with a per-device
 * secret; when both are used the serials must match.
 */
import { createHash, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../core/clock.ts';
import { toHex } from '../core/encoding.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store } from '../store/database.ts';
import { BootstrapContextCache } from './context-cache.ts';
import type { BootstrapContext } from './device-records.ts';
import { parseCert, subjectAttribute, validatePath, type Cert } from './cms/certs.ts';
import { RestconfFailure } from './restconf-errors.ts';

const scryptAsync = promisify(scrypt);

const denied = (message: string) =>
  new RestconfFailure('ERR_SZTP_ACCESS_DENIED', 403, { type: 'protocol', tag: 'access-denied', message });

/** The authenticated device of a request. */
export interface BootstrapCaller {
  readonly device: Device;
  /** The IDevID leaf when the device used mutual TLS. */
  readonly idevid?: Cert;
  /** Owner, record and MASA key, read with the device in one statement (mutual TLS only). */
  readonly context?: BootstrapContext;
}

/**
 * Authenticates devices; keeps small caches of the CAs (5 s), of validated chains (60 s) and of device contexts
 * (while the SZTP context generation stands; context-cache.ts).
 */
export class SztpDeviceAuth {
  readonly #store: Store;
  readonly #registry: RegistryService;
  readonly #clock: Clock;
  #cas: { at: number; list: { tenantId: string; cert: Cert }[] } | undefined;
  readonly #authCache = new Map<
    string,
    { until: number; value: { tenantId: string; serial: string; spkiSha256: string; leaf: Cert } }
  >();

  /** Owners, records and MASA keys of devices seen before, checked against the context generation per request. */
  readonly #contexts = new BootstrapContextCache();

  /** Cache keys of chain arrays seen before (the routes hand in the same array for every request of a connection). */
  readonly #chainKeys = new WeakMap<readonly Uint8Array[], string>();

  constructor(deps: { store: Store; registry: RegistryService; clock: Clock }) {
    this.#store = deps.store;
    this.#registry = deps.registry;
    this.#clock = deps.clock;
  }

  async #manufacturerCas(): Promise<{ tenantId: string; cert: Cert }[]> {
    const now = Date.now();
    if (this.#cas !== undefined && now - this.#cas.at < 5000) return this.#cas.list;
    const rows = await this.#store.db
      .selectFrom('sztp_manufacturer_cas')
      .select(['tenant_id', 'der'])
      .execute();
    this.#cas = {
      at: now,
      list: rows.map((r) => ({ tenantId: r.tenant_id, cert: parseCert(new Uint8Array(r.der)) })),
    };
    return this.#cas.list;
  }

  /**
   * Authenticates a device by its TLS client chain (leaf first) and/or HTTP Basic credentials; when both are
   * given the serials must match. Throws ERR_SZTP_ACCESS_DENIED (RESTCONF access-denied).
   */
  async authenticate(
    chain: readonly Uint8Array[],
    basic?: { serial: string; secret: string },
  ): Promise<BootstrapCaller> {
    let device: Device | undefined;
    let idevid: Cert | undefined;
    let context: BootstrapContext | undefined;
    if (chain.length > 0) {
      const v = await this.#validatedChain(chain);
      context = await this.#contexts.get(this.#store, v.tenantId, v.serial);
      device = context?.device;
      if (device === undefined) throw denied('unknown device');
      if (device.identityKeyFingerprint !== null && device.identityKeyFingerprint !== v.spkiSha256)
        throw denied('IDevID key does not match the device record');
      idevid = v.leaf;
    }
    if (basic !== undefined) {
      if (device !== undefined && device.serial !== basic.serial)
        throw denied('HTTP Basic and certificate name different devices');
      const candidates =
        device !== undefined
          ? [device]
          : await this.#store.db
              .selectFrom('devices')
              .select('id')
              .where('serial', '=', basic.serial)
              .execute();
      let ok: Device | undefined;
      for (const c of candidates) {
        const row = await this.#store.db
          .selectFrom('sztp_device_secrets')
          .select('secret_hash')
          .where('device_id', '=', c.id)
          .executeTakeFirst();
        if (row === undefined) continue;
        const h = new Uint8Array(row.secret_hash);
        const got = (await scryptAsync(basic.secret, h.subarray(0, 16), 32)) as Buffer;
        if (timingSafeEqual(got, h.subarray(16))) ok = await this.#registry.getDevice(c.id);
      }
      if (ok === undefined) throw denied('bad credentials');
      device = ok;
    }
    if (device === undefined) throw denied('no device credentials');
    if (device.state === 'deprovisioned') throw denied('device is deprovisioned');
    return {
      device,
      ...(idevid !== undefined ? { idevid } : {}),
      // The context belongs to the certificate's device; HTTP Basic names the same device or was refused.
      ...(context !== undefined && context.device.id === device.id ? { context } : {}),
    };
  }

  // Path validation is the costly part of device authentication; its result is kept for a minute per chain.
  async #validatedChain(
    chain: readonly Uint8Array[],
  ): Promise<{ tenantId: string; serial: string; spkiSha256: string; leaf: Cert }> {
    let k = this.#chainKeys.get(chain);
    if (k === undefined) {
      const h = createHash('sha256');
      for (const c of chain) h.update(c);
      k = h.digest('hex');
      this.#chainKeys.set(chain, k);
    }
    const now = this.#clock.now();
    const hit = this.#authCache.get(k);
    if (hit !== undefined && hit.until > Date.now() && now <= hit.value.leaf.notAfter) return hit.value;
    let certs: Cert[];
    try {
      certs = chain.map(parseCert);
    } catch {
      throw denied('unreadable client certificate');
    }
    const leaf = certs[0] as Cert;
    const serial = subjectAttribute(leaf, '2.5.4.5');
    if (serial === undefined) throw denied('IDevID has no serialNumber');
    for (const ca of await this.#manufacturerCas()) {
      try {
        validatePath(leaf, certs.slice(1), [ca.cert], now);
      } catch {
        continue;
      }
      const value = {
        tenantId: ca.tenantId,
        serial,
        spkiSha256: toHex(createHash('sha256').update(leaf.spki).digest()),
        leaf,
      };
      if (this.#authCache.size >= 100_000) this.#authCache.clear();
      this.#authCache.set(k, { until: Date.now() + 60_000, value });
      return value;
    }
    throw denied('unknown device');
  }
}
