import { X509Certificate } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { fromBase64, toBase64, toHex } from '../core/encoding.ts';
import { newId } from '../core/ids.ts';
import type { KeyStore } from '../keys/types.ts';
import { caChain, findCaByRole } from '../pki/ca-store.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Store } from '../store/database.ts';
import { chainsTo, signJws, verifyJws } from './jws.ts';
import { createHash } from 'node:crypto';

/** JWS `typ` of a batch manifest. */
export const MANIFEST_TYP = 'imprint-batch-manifest+jws';

/** One device in a manifest. */
export interface ManifestDevice {
  readonly serial: string;
  readonly deviceId: string;
  readonly model: string;
  /** base64 SPKI DER of the identity key. */
  readonly publicKey: string;
  /** SHA-256 hex of the SPKI. */
  readonly fingerprint: string;
  /** base64 DER IDevID. */
  readonly certificate: string;
  readonly fuses: { secureBoot: boolean; debugLocked: boolean; provisioned: boolean };
}

/** The signed content. */
export interface BatchManifest {
  readonly version: 1;
  readonly manufacturer: string;
  readonly batchId: string;
  readonly model: string;
  readonly createdAt: string;
  readonly devices: ManifestDevice[];
}

/** Signs batch manifests with the manufacturer CA key (JWS ES256/ES384, x5c = CA chain). */
export class ManifestService {
  readonly #d: { store: Store; keys: KeyStore; audit: AuditLog; registry: RegistryService; clock: Clock };

  constructor(deps: {
    store: Store;
    keys: KeyStore;
    audit: AuditLog;
    registry: RegistryService;
    clock: Clock;
  }) {
    this.#d = deps;
  }

  /**
   * Signs and stores the manifest of a batch's provisioned devices.
   * Throws ERR_BATCH_NOT_FOUND, ERR_MANIFEST_EMPTY, ERR_CA_NOT_FOUND, ERR_CA_OFFLINE, ERR_MANIFEST_KEY_UNSUPPORTED.
   */
  async sign(
    by: { actor: string },
    tenantId: string,
    batchId: string,
  ): Promise<{ id: string; jws: string; devices: number }> {
    const db = this.#d.store.db;
    const batch = await db
      .selectFrom('batches')
      .selectAll()
      .where('id', '=', batchId)
      .where('tenant_id', '=', tenantId)
      .executeTakeFirst();
    if (batch === undefined) throw new NotFoundError('ERR_BATCH_NOT_FOUND', `no batch ${batchId}`);
    const rows = await db
      .selectFrom('factory_runs as r')
      .innerJoin('certificates as c', 'c.id', 'r.certificate_id')
      .select(['r.device_id', 'r.serial', 'r.fuses', 'c.der'])
      .where('r.batch_id', '=', batchId)
      .where('r.state', '=', 'completed')
      .orderBy('r.serial')
      .execute();
    if (rows.length === 0)
      throw new ConflictError('ERR_MANIFEST_EMPTY', `batch ${batchId} has no provisioned devices`);
    const model = await this.#d.registry.getModel(batch.model_id);
    const tenant = await this.#d.registry.getTenant(tenantId);
    const ca = await findCaByRole(db, tenantId, 'manufacturer');
    if (ca.keyId === null) throw new ConflictError('ERR_CA_OFFLINE', 'the manufacturer CA key is offline');
    const chain = (await caChain(db, ca)).map((c) => c.certificate);
    const manifest: BatchManifest = {
      version: 1,
      manufacturer: tenant.name,
      batchId,
      model: model.name,
      createdAt: this.#d.clock.now().toISOString(),
      devices: rows.map((r) => {
        const spki = spkiOf(new Uint8Array(r.der));
        return {
          serial: r.serial,
          deviceId: r.device_id,
          model: model.name,
          publicKey: toBase64(spki),
          fingerprint: sha256Hex(spki),
          certificate: toBase64(new Uint8Array(r.der)),
          fuses: JSON.parse(r.fuses ?? '{}') as ManifestDevice['fuses'],
        };
      }),
    };
    const jws = await signJws(this.#d.keys, ca.keyId, chain, MANIFEST_TYP, manifest);
    const id = newId('mft');
    await this.#d.store.transaction(async (tx) => {
      await tx
        .insertInto('batch_manifests')
        .values({
          id,
          batch_id: batchId,
          tenant_id: tenantId,
          devices: rows.length,
          jws,
          created_at: manifest.createdAt,
        })
        .execute();
      await this.#d.audit.append(tx, {
        ...by,
        action: 'batch.manifest.signed',
        subject: batchId,
        tenantId,
        details: { manifestId: id, devices: rows.length, sha256: sha256Hex(new TextEncoder().encode(jws)) },
      });
    });
    return { id, jws, devices: rows.length };
  }
}

/**
 * Verifies a batch manifest: JWS signature by x5c[0], the chain up to one of `anchors` (when given),
 * and every device certificate issued by x5c[0] for the listed key.
 * Throws ERR_MANIFEST_MALFORMED, ERR_MANIFEST_SIGNATURE, ERR_MANIFEST_UNTRUSTED, ERR_MANIFEST_DEVICE_INVALID.
 */
export function verifyManifest(
  jws: string,
  anchors: readonly Uint8Array[] = [],
): { manifest: BatchManifest; chain: Uint8Array[] } {
  const v = verifyJws(jws, MANIFEST_TYP);
  if (anchors.length > 0 && !chainsTo(v.chain, anchors)) {
    throw new ValidationError('ERR_MANIFEST_UNTRUSTED', 'the manifest signer does not chain to a trusted CA');
  }
  const m = v.payload as BatchManifest;
  if (m === null || typeof m !== 'object' || m.version !== 1 || !Array.isArray(m.devices)) {
    throw new ValidationError('ERR_MANIFEST_MALFORMED', 'malformed manifest: not a version 1 batch manifest');
  }
  const issuer = new X509Certificate(v.chain[0]!);
  for (const d of m.devices) checkDevice(d, [issuer]);
  return { manifest: m, chain: v.chain };
}

/** Checks one listed device: its certificate is issued by one of `issuers` for the listed key. Throws ERR_MANIFEST_DEVICE_INVALID. */
export function checkDevice(
  d: { serial?: unknown; publicKey?: unknown; certificate?: unknown },
  issuers: readonly X509Certificate[],
): { spki: Uint8Array; der: Uint8Array } {
  const bad = () =>
    new ValidationError('ERR_MANIFEST_DEVICE_INVALID', `manifest entry ${String(d.serial)} is invalid`);
  if (typeof d.serial !== 'string' || typeof d.publicKey !== 'string' || typeof d.certificate !== 'string')
    throw bad();
  try {
    const der = fromBase64(d.certificate);
    const x = new X509Certificate(der);
    const spki = fromBase64(d.publicKey);
    if (toHex(spkiOf(der)) !== toHex(spki)) throw bad();
    if (!issuers.some((i) => x.checkIssued(i) && x.verify(i.publicKey))) throw bad();
    return { spki, der };
  } catch {
    throw bad();
  }
}

/** SPKI DER of a certificate. */
export function spkiOf(certDer: Uint8Array): Uint8Array {
  return new Uint8Array(new X509Certificate(certDer).publicKey.export({ format: 'der', type: 'spki' }));
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
