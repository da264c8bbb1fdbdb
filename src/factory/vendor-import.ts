import { createHash, X509Certificate } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, ForbiddenError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Executor, Store } from '../store/database.ts';
import type { IssuedIdentity } from './issuer.ts';
import { chainsTo, verifyJws } from './jws.ts';
import { checkDevice } from './manifest.ts';

/** JWS `typ` of a silicon vendor's pre-provisioned secure-element manifest. */
export const VENDOR_MANIFEST_TYP = 'imprint-se-manifest+jws';

/**
 * The vendor manifest format (documented in docs/factory.md): a compact JWS by the vendor's signing
 * certificate (x5c) over `{version: 1, vendor, devices: [{serial, publicKey, certificate}]}`, where each
 * certificate was issued by a certificate of the x5c chain or a trusted vendor anchor.
 */
export interface VendorManifest {
  readonly version: 1;
  readonly vendor: string;
  readonly devices: { serial: string; publicKey: string; certificate: string }[];
}

/**
 * Registers devices whose keys were injected at the chip factory, by public key and certificate, all
 * or nothing in one transaction. Throws ERR_MANIFEST_MALFORMED, ERR_MANIFEST_SIGNATURE,
 * ERR_MANIFEST_UNTRUSTED, ERR_MANIFEST_DEVICE_INVALID, ERR_MANIFEST_KEY_IN_USE, ERR_DEVICE_EXISTS,
 * ERR_DEVICE_SERIAL_INVALID, ERR_MODEL_NOT_FOUND.
 */
export async function importVendorManifest(
  deps: { store: Store; audit: AuditLog; registry: RegistryService; clock: Clock },
  by: { actor: string },
  input: { tenantId: string; modelId: string; jws: string; anchors: readonly Uint8Array[] },
): Promise<{ imported: number; vendor: string }> {
  const v = verifyJws(input.jws, VENDOR_MANIFEST_TYP);
  if (!chainsTo(v.chain, input.anchors))
    throw new ValidationError(
      'ERR_MANIFEST_UNTRUSTED',
      'the vendor manifest does not chain to a trusted vendor CA',
    );
  const m = v.payload as VendorManifest;
  if (
    m === null ||
    typeof m !== 'object' ||
    m.version !== 1 ||
    typeof m.vendor !== 'string' ||
    !Array.isArray(m.devices) ||
    m.devices.length === 0
  ) {
    throw new ValidationError(
      'ERR_MANIFEST_MALFORMED',
      'malformed manifest: not a version 1 vendor manifest',
    );
  }
  const issuers = [...v.chain, ...input.anchors].map((c) => new X509Certificate(c));
  const checked = m.devices.map((d) => ({ serial: d.serial, ...checkDevice(d, issuers) }));
  const fps = checked.map((c) => createHash('sha256').update(c.spki).digest('hex'));
  if (new Set(fps).size !== fps.length)
    throw new ConflictError('ERR_MANIFEST_KEY_IN_USE', 'two devices in the manifest share a key');
  const now = deps.clock.now().toISOString();
  return deps.store.transaction(async (tx) => {
    const used = await tx
      .selectFrom('certificates')
      .select('spki_sha256')
      .where('spki_sha256', 'in', fps)
      .executeTakeFirst();
    const bound = await tx
      .selectFrom('devices')
      .select('id')
      .where('identity_key_fingerprint', 'in', fps)
      .executeTakeFirst();
    if (used !== undefined || bound !== undefined)
      throw new ConflictError('ERR_MANIFEST_KEY_IN_USE', 'a key in the manifest is already in use');
    for (const [i, c] of checked.entries()) {
      const dev = await deps.registry.registerDevice(tx, by, {
        manufacturerId: input.tenantId,
        modelId: input.modelId,
        serial: c.serial,
      });
      const x = new X509Certificate(c.der);
      await tx
        .insertInto('certificates')
        .values({
          id: newId('crt'),
          tenant_id: input.tenantId,
          ca_id: null,
          device_id: dev.id,
          profile: 'vendor-idevid',
          serial_hex: x.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
          subject: x.subject,
          issuer: x.issuer,
          not_before: new Date(x.validFrom).toISOString(),
          not_after: new Date(x.validTo).toISOString(),
          spki_sha256: fps[i]!,
          der: c.der,
          status: 'good',
          revoked_at: null,
          revocation_reason: null,
          created_at: now,
        })
        .execute();
      await deps.registry.updateDevice(
        tx,
        by,
        dev.id,
        { identityKeyFingerprint: fps[i]! },
        'device.identity_imported',
      );
    }
    await deps.audit.append(tx, {
      ...by,
      action: 'factory.vendor_manifest.imported',
      subject: input.modelId,
      tenantId: input.tenantId,
      details: {
        vendor: m.vendor,
        devices: checked.length,
        signer: new X509Certificate(v.chain[0]!).subject,
      },
    });
    return { imported: checked.length, vendor: m.vendor };
  });
}

/**
 * The certificate a silicon vendor's manifest registered for the device (profile vendor-idevid), when
 * it certifies the key the device reported. Throws ERR_FACTORY_CSR_KEY_MISMATCH when the device has a
 * vendor identity but reports another key: a chip's key cannot change, so this is a swapped part.
 */
export async function vendorIdentity(
  db: Executor,
  deviceId: string,
  spkiSha256: string,
): Promise<(IssuedIdentity & { spkiSha256: string }) | undefined> {
  const row = await db
    .selectFrom('certificates')
    .select(['id', 'der', 'spki_sha256'])
    .where('device_id', '=', deviceId)
    .where('profile', '=', 'vendor-idevid')
    .where('status', '=', 'good')
    .executeTakeFirst();
  if (row === undefined) return undefined;
  if (row.spki_sha256 !== spkiSha256)
    throw new ForbiddenError(
      'ERR_FACTORY_CSR_KEY_MISMATCH',
      'the device reports a key other than the one its silicon vendor certified',
    );
  return { certificateId: row.id, der: new Uint8Array(row.der), chain: [], spkiSha256 };
}
