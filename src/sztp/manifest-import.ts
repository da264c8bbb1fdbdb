/**
 * Binding by manifest import: the signed batch manifest a device maker ships with its devices (JWS by its
 * IDevID CA, src/factory/manifest.ts) binds every listed device to the importing owner. On the maker's own
 * server the devices exist; on an owner's separate server they are registered from the manifest (serial,
 * model, identity-key fingerprint), so device authentication there checks the very key the factory certified.
 */
import { X509Certificate, createHash } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { chainsTo } from '../factory/jws.ts';
import { spkiOf, verifyManifest } from '../factory/manifest.ts';
import { bytesEqual, fromBase64 } from '../core/encoding.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Store } from '../store/database.ts';
import { bindDevices } from './bindings.ts';

/** What the import needs. */
export interface ManifestImportDeps {
  readonly store: Store;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
}

/** The outcome of one import. */
export interface ManifestImportResult {
  readonly batchId: string;
  readonly manufacturerId: string;
  readonly bound: number;
  /** Devices registered from the manifest (only with `registerDevices`). */
  readonly registered: number;
}

const sha256Hex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/**
 * Verifies `jws` against the manufacturer CAs registered for SZTP (the CA's tenant is the manufacturer) and
 * binds every listed device to `owner`, all or nothing. A listed device missing here is registered when
 * `registerDevices` is set (its model must exist under the manufacturer), refused otherwise.
 * Throws ERR_MANIFEST_MALFORMED, ERR_MANIFEST_SIGNATURE, ERR_MANIFEST_DEVICE_INVALID, ERR_MANIFEST_UNTRUSTED,
 * ERR_DEVICE_NOT_FOUND, ERR_MODEL_NOT_FOUND, ERR_SZTP_MANIFEST_KEY_MISMATCH, ERR_SZTP_BIND_EMPTY.
 */
export async function importManifest(
  deps: ManifestImportDeps,
  by: { actor: string },
  owner: { id: string; tenantId: string },
  input: { jws: string; registerDevices?: boolean },
): Promise<ManifestImportResult> {
  const { manifest, chain } = verifyManifest(input.jws);
  const cas = await deps.store.db.selectFrom('sztp_manufacturer_cas').select(['tenant_id', 'der']).execute();
  // verifyJws checked the x5c links; the signer is trusted when a registered CA is on (or above) its chain.
  const ca = cas.find((c) => {
    const der = new Uint8Array(c.der);
    return chain.some((x) => bytesEqual(x, der)) || chainsTo(chain, [der]);
  });
  // Only a CA signs manifests (a device's own IDevID under the same CA must not).
  if (ca === undefined || !new X509Certificate(chain[0] as Uint8Array).ca)
    throw new ValidationError(
      'ERR_MANIFEST_UNTRUSTED',
      'the manifest signer is not a manufacturer CA registered for SZTP',
    );
  if (manifest.devices.length === 0) throw new ValidationError('ERR_SZTP_BIND_EMPTY', 'no devices to bind');
  const manufacturerId = ca.tenant_id;
  // verifyManifest checked each certificate against the signer; the key comes from the certificate itself.
  const listed = manifest.devices.map((d) => ({
    serial: d.serial,
    model: d.model,
    fingerprint: sha256Hex(spkiOf(fromBase64(d.certificate))),
  }));
  const modelId =
    input.registerDevices === true
      ? (await deps.registry.listModels(manufacturerId)).find((m) => m.name === manifest.model)?.id
      : undefined;
  return deps.store.transaction(async (tx) => {
    const ids: string[] = [];
    let registered = 0;
    for (const d of listed) {
      let dev = await deps.registry.findDeviceBySerial(manufacturerId, d.serial, tx);
      if (dev === undefined) {
        if (input.registerDevices !== true)
          throw new NotFoundError('ERR_DEVICE_NOT_FOUND', `no device ${d.serial}`);
        if (modelId === undefined)
          throw new NotFoundError('ERR_MODEL_NOT_FOUND', `no model ${manifest.model} of the manufacturer`);
        dev = await deps.registry.registerDevice(tx, by, {
          manufacturerId,
          modelId,
          serial: d.serial,
          state: 'provisioned',
        });
        registered++;
      }
      if (dev.identityKeyFingerprint === null)
        await deps.registry.updateDevice(
          tx,
          by,
          dev.id,
          { identityKeyFingerprint: d.fingerprint },
          'sztp.manifest.identity',
        );
      else if (dev.identityKeyFingerprint !== d.fingerprint)
        throw new ConflictError(
          'ERR_SZTP_MANIFEST_KEY_MISMATCH',
          `device ${d.serial} has another identity key than the manifest lists`,
        );
      ids.push(dev.id);
    }
    await bindDevices(tx, deps, by, owner, ids);
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.manifest.imported',
      subject: owner.id,
      tenantId: owner.tenantId,
      details: {
        batchId: manifest.batchId,
        manufacturer: manifest.manufacturer,
        devices: ids.length,
        registered,
        sha256: sha256Hex(new TextEncoder().encode(input.jws)),
      },
    });
    return { batchId: manifest.batchId, manufacturerId, bound: ids.length, registered };
  });
}
