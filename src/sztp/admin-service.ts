/**
 * SZTP administration: owners (certificate chain + signing key), the manufacturer's MASA key and CAs,
 * device→owner bindings, onboarding and redirect records, vouchers, webhooks and device secrets. Every
 * change is audited in its own transaction.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { bytesEqual, fromPemAll, toBase64 } from '../core/encoding.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Executor, Store } from '../store/database.ts';
import { nameOf, parseCert, validatePath } from './cms/certs.ts';
import { parseConveyedJson } from './conveyed-info.ts';
import type { Encoding } from './types.ts';

/** Who is acting (written to the audit log). */
export interface Actor {
  readonly actor: string;
}

/** An owner as the API shows it. */
export interface OwnerView {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly keyId: string | null;
  readonly subject: string;
  readonly createdAt: string;
}

/** Scope of an onboarding or redirect record; the most specific one wins (device, then model, then owner). */
export type RecordScope = 'device' | 'model' | 'owner';

/** Parses PEM certificates (leaf first). Throws ERR_SZTP_CERT_INVALID. */
export function pemChain(pem: string): Uint8Array[] {
  const ders = fromPemAll(pem, 'CERTIFICATE');
  if (ders.length === 0) throw new ValidationError('ERR_SZTP_CERT_INVALID', 'no PEM certificate found');
  ders.forEach((d) => parseCert(d));
  return ders;
}

/** Administration of SZTP state. */
export class SztpAdminService {
  readonly #store: Store;
  readonly #keys: KeyStore;
  readonly #audit: AuditLog;
  readonly #registry: RegistryService;
  readonly #clock: Clock;

  constructor(deps: {
    store: Store;
    keys: KeyStore;
    audit: AuditLog;
    registry: RegistryService;
    clock: Clock;
  }) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#audit = deps.audit;
    this.#registry = deps.registry;
    this.#clock = deps.clock;
  }

  #now(): string {
    return this.#clock.now().toISOString();
  }

  async #checkKeyMatches(keyId: string, leaf: Uint8Array): Promise<void> {
    const key = await this.#keys.get(keyId);
    if (!bytesEqual(key.publicKeyDer, parseCert(leaf).spki)) {
      throw new ValidationError(
        'ERR_SZTP_KEY_MISMATCH',
        'the certificate does not hold the public key of that key',
      );
    }
  }

  /**
   * Registers an owner: its certificate chain (owner certificate first, pinned domain certificate last) and,
   * on a server that signs for it, the key-store key of the owner certificate.
   * Throws ERR_SZTP_CERT_INVALID, ERR_SZTP_CHAIN_INVALID, ERR_SZTP_KEY_MISMATCH, ERR_KEY_NOT_FOUND, ERR_SZTP_OWNER_EXISTS.
   */
  async registerOwner(
    by: Actor,
    input: { tenantId: string; name: string; chainPem: string; keyId?: string },
  ): Promise<OwnerView> {
    const chain = pemChain(input.chainPem);
    const leaf = chain[0] as Uint8Array;
    const pinned = chain[chain.length - 1] as Uint8Array;
    validatePath(parseCert(leaf), chain.slice(1).map(parseCert), [parseCert(pinned)], this.#clock.now());
    if (input.keyId !== undefined) await this.#checkKeyMatches(input.keyId, leaf);
    await this.#registry.getTenant(input.tenantId);
    return this.#store.transaction(async (tx) => {
      const dup = await tx
        .selectFrom('sztp_owners')
        .select('id')
        .where('tenant_id', '=', input.tenantId)
        .where('name', '=', input.name)
        .executeTakeFirst();
      if (dup !== undefined) throw new ConflictError('ERR_SZTP_OWNER_EXISTS', `owner ${input.name} exists`);
      const row = {
        id: newId('own'),
        tenant_id: input.tenantId,
        name: input.name,
        key_id: input.keyId ?? null,
        chain: JSON.stringify(chain.map(toBase64)),
        pinned_domain_cert: pinned,
        created_at: this.#now(),
      };
      await tx.insertInto('sztp_owners').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.owner.registered',
        subject: row.id,
        tenantId: row.tenant_id,
        details: { name: row.name, keyId: row.key_id, subject: nameOf(parseCert(leaf)) },
      });
      return toOwner(row);
    });
  }

  /** The owner with this id (visible to `tenantId` when given). Throws ERR_SZTP_OWNER_NOT_FOUND. */
  async getOwner(id: string, tenantId?: string, db: Executor = this.#store.db): Promise<OwnerView> {
    let q = db.selectFrom('sztp_owners').selectAll().where('id', '=', id);
    if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
    const r = await q.executeTakeFirst();
    if (r === undefined) throw new NotFoundError('ERR_SZTP_OWNER_NOT_FOUND', `no owner ${id}`);
    return toOwner(r);
  }

  /** Owners of a tenant. */
  async listOwners(tenantId: string): Promise<OwnerView[]> {
    const rows = await this.#store.db
      .selectFrom('sztp_owners')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at')
      .execute();
    return rows.map(toOwner);
  }

  /** Sets the manufacturer's voucher-signing (MASA) key and certificate chain. Throws ERR_SZTP_CERT_INVALID, ERR_SZTP_KEY_MISMATCH. */
  async setMasa(
    by: Actor,
    input: { tenantId: string; keyId: string; chainPem: string; validityDays?: number },
  ): Promise<void> {
    const chain = pemChain(input.chainPem);
    await this.#checkKeyMatches(input.keyId, chain[0] as Uint8Array);
    const days = input.validityDays ?? 30;
    if (!Number.isInteger(days) || days < 1 || days > 3650)
      throw new ValidationError('ERR_SZTP_VALIDITY_INVALID', 'voucher validity must be 1..3650 days');
    await this.#store.transaction(async (tx) => {
      await tx.deleteFrom('sztp_masa').where('tenant_id', '=', input.tenantId).execute();
      await tx
        .insertInto('sztp_masa')
        .values({
          tenant_id: input.tenantId,
          key_id: input.keyId,
          chain: JSON.stringify(chain.map(toBase64)),
          voucher_validity_days: days,
          created_at: this.#now(),
        })
        .execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.masa.set',
        subject: input.tenantId,
        tenantId: input.tenantId,
        details: { keyId: input.keyId, validityDays: days },
      });
    });
  }

  /** Registers a CA that issues this manufacturer's IDevIDs (device mTLS is validated against these). Throws ERR_SZTP_CERT_INVALID. */
  async addManufacturerCa(
    by: Actor,
    tenantId: string,
    pem: string,
  ): Promise<{ id: string; subject: string }> {
    const [der] = pemChain(pem);
    const cert = parseCert(der as Uint8Array);
    if (!cert.isCa) throw new ValidationError('ERR_SZTP_CERT_INVALID', 'not a CA certificate');
    return this.#store.transaction(async (tx) => {
      const row = {
        id: newId('crt'),
        tenant_id: tenantId,
        der: cert.der,
        subject: nameOf(cert),
        created_at: this.#now(),
      };
      await tx.insertInto('sztp_manufacturer_cas').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.ca.added',
        subject: row.id,
        tenantId,
        details: { subject: row.subject },
      });
      return { id: row.id, subject: row.subject };
    });
  }

  /**
   * Binds devices (by serial list or by batch) of manufacturer `tenantId` to an owner, moving their records to
   * the owner's tenant. All or nothing. Throws ERR_SZTP_OWNER_NOT_FOUND, ERR_DEVICE_NOT_FOUND, ERR_SZTP_BIND_EMPTY.
   */
  async bind(
    by: Actor,
    input: { tenantId: string; ownerId: string; serials?: readonly string[]; batchId?: string },
  ): Promise<{ bound: number }> {
    return this.#store.transaction(async (tx) => {
      const owner = await this.getOwner(input.ownerId, undefined, tx);
      let ids: string[] = [];
      if (input.batchId !== undefined) {
        const rows = await tx
          .selectFrom('devices')
          .select('id')
          .where('manufacturer_id', '=', input.tenantId)
          .where('batch_id', '=', input.batchId)
          .execute();
        ids = rows.map((r) => r.id);
      }
      for (const serial of input.serials ?? []) {
        const d = await this.#registry.findDeviceBySerial(input.tenantId, serial, tx);
        if (d === undefined) throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${serial}`);
        ids.push(d.id);
      }
      ids = [...new Set(ids)];
      if (ids.length === 0) throw new ValidationError('ERR_SZTP_BIND_EMPTY', 'no devices to bind');
      for (const id of ids) {
        await tx.deleteFrom('sztp_bindings').where('device_id', '=', id).execute();
        await tx
          .insertInto('sztp_bindings')
          .values({ device_id: id, owner_id: owner.id, created_at: this.#now() })
          .execute();
        const dev = await this.#registry.getDevice(id, undefined, tx);
        if (dev.tenantId !== owner.tenantId)
          await this.#registry.updateDevice(tx, by, id, { tenantId: owner.tenantId }, 'sztp.device.bound');
        else
          await this.#audit.append(tx, {
            ...by,
            action: 'sztp.device.bound',
            subject: id,
            tenantId: owner.tenantId,
            details: { ownerId: owner.id },
          });
      }
      return { bound: ids.length };
    });
  }

  /**
   * Sets the onboarding or redirect information for a scope (RFC 8572 JSON document, validated).
   * Throws ERR_SZTP_CONVEYED_INFO_INVALID, ERR_SZTP_OWNER_NOT_FOUND.
   */
  async setRecord(
    by: Actor,
    input: {
      ownerId: string;
      scope: RecordScope;
      scopeId: string;
      document: unknown;
      encoding?: Encoding;
      encrypt?: boolean;
      ldevid?: boolean;
    },
  ): Promise<{ id: string; kind: string }> {
    const text = JSON.stringify(input.document);
    const info = parseConveyedJson(text);
    return this.#store.transaction(async (tx) => {
      const owner = await this.getOwner(input.ownerId, undefined, tx);
      await tx
        .deleteFrom('sztp_onboarding')
        .where('owner_id', '=', owner.id)
        .where('scope', '=', input.scope)
        .where('scope_id', '=', input.scopeId)
        .execute();
      const row = {
        id: newId('lnk'),
        owner_id: owner.id,
        scope: input.scope,
        scope_id: input.scopeId,
        document: text,
        kind: info.kind,
        encoding: input.encoding ?? 'json',
        encrypt: input.encrypt === true ? 1 : 0,
        ldevid: input.ldevid === true ? 1 : 0,
        updated_at: this.#now(),
      };
      await tx.insertInto('sztp_onboarding').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: `sztp.${info.kind}.set`,
        subject: row.id,
        tenantId: owner.tenantId,
        details: { scope: row.scope, scopeId: row.scope_id, encrypt: input.encrypt === true },
      });
      return { id: row.id, kind: info.kind };
    });
  }

  /** Stores a voucher issued by the device's manufacturer for an owner (owner-side import). */
  async importVoucher(
    by: Actor,
    input: { ownerId: string; deviceId: string; cms: Uint8Array; expiresAt: string },
  ): Promise<string> {
    return this.#store.transaction(async (tx) => {
      const owner = await this.getOwner(input.ownerId, undefined, tx);
      const row = {
        id: newId('vch'),
        device_id: input.deviceId,
        owner_id: owner.id,
        cms: input.cms,
        expires_at: input.expiresAt,
        created_at: this.#now(),
      };
      await tx.insertInto('sztp_vouchers').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.voucher.imported',
        subject: input.deviceId,
        tenantId: owner.tenantId,
        details: { ownerId: owner.id, expiresAt: input.expiresAt },
      });
      return row.id;
    });
  }

  /** Adds a webhook called on every progress report of the owner's devices. Throws ERR_SZTP_WEBHOOK_INVALID. */
  async addWebhook(by: Actor, ownerId: string, url: string): Promise<string> {
    if (!/^https?:\/\/[^\s]+$/.test(url))
      throw new ValidationError('ERR_SZTP_WEBHOOK_INVALID', 'webhook URL must be http(s)');
    return this.#store.transaction(async (tx) => {
      const owner = await this.getOwner(ownerId, undefined, tx);
      const id = newId('hook');
      await tx
        .insertInto('sztp_webhooks')
        .values({ id, owner_id: owner.id, url, created_at: this.#now() })
        .execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.webhook.added',
        subject: id,
        tenantId: owner.tenantId,
        details: { url },
      });
      return id;
    });
  }

  /** Sets a device's HTTP Basic secret (stored as scrypt hash). Throws ERR_SZTP_SECRET_WEAK. */
  async setDeviceSecret(by: Actor, deviceId: string, secret: string): Promise<void> {
    if (secret.length < 16)
      throw new ValidationError('ERR_SZTP_SECRET_WEAK', 'device secret must be at least 16 characters');
    const salt = randomBytes(16);
    const hash = scryptSync(secret, salt, 32);
    await this.#store.transaction(async (tx) => {
      const dev = await this.#registry.getDevice(deviceId, undefined, tx);
      await tx.deleteFrom('sztp_device_secrets').where('device_id', '=', deviceId).execute();
      await tx
        .insertInto('sztp_device_secrets')
        .values({
          device_id: deviceId,
          secret_hash: new Uint8Array(Buffer.concat([salt, hash])),
          created_at: this.#now(),
        })
        .execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'sztp.device.secret-set',
        subject: deviceId,
        tenantId: dev.tenantId,
        details: {},
      });
    });
  }

  /** A device's bootstrapping log, oldest first. Throws ERR_DEVICE_NOT_FOUND when the tenant cannot see it. */
  async log(
    tenantId: string,
    deviceId: string,
  ): Promise<
    {
      kind: string;
      progressType: string | null;
      message: string | null;
      details: Record<string, unknown>;
      createdAt: string;
    }[]
  > {
    await this.#registry.getDevice(deviceId, tenantId);
    const rows = await this.#store.db
      .selectFrom('sztp_log')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      kind: r.kind,
      progressType: r.progress_type,
      message: r.message,
      details: JSON.parse(r.details) as Record<string, unknown>,
      createdAt: r.created_at,
    }));
  }
}

function toOwner(r: {
  id: string;
  tenant_id: string;
  name: string;
  key_id: string | null;
  chain: string;
  created_at: string;
}): OwnerView {
  const leaf = (JSON.parse(r.chain) as string[])[0] ?? '';
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    keyId: r.key_id,
    subject: nameOf(parseCert(new Uint8Array(Buffer.from(leaf, 'base64')))),
    createdAt: r.created_at,
  };
}
