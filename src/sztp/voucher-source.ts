/**
 * Where the bootstrap server's ownership vouchers come from: signed on the fly by the manufacturer's MASA key
 * when it is on this server (nonceful on request, nonceless ones cached), else imported from the manufacturer.
 */
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store } from '../store/database.ts';
import type { SztpMasaTable, SztpOwnersTable } from '../store/tables/sztp.ts';
import { keyStoreSigner } from './cms/signed-data.ts';
import { chainOf, masaOf, ownerOf } from './device-records.ts';
import { dataMissing } from './restconf-errors.ts';
import { signVoucher, voucherExpiry } from './voucher.ts';

/** What voucher handling needs. */
export interface VoucherDeps {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
}

/**
 * A voucher for `device` naming `owner`'s pinned domain certificate, or undefined when none can be had.
 * `known`: the manufacturer's MASA row when already read (null: known to be absent), else it is looked up.
 */
export async function voucherFor(
  deps: VoucherDeps,
  cache: Map<string, Uint8Array>,
  device: Device,
  owner: SztpOwnersTable,
  nonce: Uint8Array | undefined,
  known?: SztpMasaTable | null,
): Promise<Uint8Array | undefined> {
  const now = deps.clock.now();
  const masa = known === undefined ? await masaOf(deps.store, device.manufacturerId) : (known ?? undefined);
  if (masa !== undefined) {
    // A cached nonceless voucher is replaced once half its validity has passed, so none served is stale.
    const halfLife = Math.max(60_000, (masa.voucher_validity_days * 86400_000) / 2);
    const ckey = `v:${device.id}:${owner.id}:${masa.key_id}:${Math.floor(now.getTime() / halfLife)}`;
    const cached = nonce === undefined ? cache.get(ckey) : undefined;
    if (cached !== undefined) return cached;
    const chain = chainOf(masa.chain);
    const cms = await signVoucher(
      {
        createdOn: now.toISOString(),
        ...(nonce === undefined
          ? { expiresOn: new Date(now.getTime() + masa.voucher_validity_days * 86400_000).toISOString() }
          : { nonce }),
        assertion: 'verified',
        serialNumber: device.serial,
        pinnedDomainCert: new Uint8Array(owner.pinned_domain_cert),
        domainCertRevocationChecks: false,
      },
      keyStoreSigner(deps.keys, masa.key_id, chain[0] as Uint8Array, chain.slice(1)),
      now,
    );
    if (nonce === undefined) cache.set(ckey, cms);
    return cms;
  }
  const imported = await deps.store.db
    .selectFrom('sztp_vouchers')
    .select('cms')
    .where('device_id', '=', device.id)
    .where('owner_id', '=', owner.id)
    .where('expires_at', '>', now.toISOString())
    .orderBy('expires_at', 'desc')
    .executeTakeFirst();
  return imported === undefined ? undefined : new Uint8Array(imported.cms);
}

/** Issues a nonceless voucher for a bound device (manufacturer side, for export to the owner's server). Throws ERR_SZTP_DATA_MISSING. */
export async function issueVoucher(
  deps: VoucherDeps,
  cache: Map<string, Uint8Array>,
  actor: string,
  deviceId: string,
): Promise<{ cms: Uint8Array; expiresAt: string }> {
  const device = await deps.registry.getDevice(deviceId);
  const owner = await ownerOf(deps.store, device);
  if (owner === undefined) throw dataMissing('device is not bound to an owner');
  const masa = await masaOf(deps.store, device.manufacturerId);
  if (masa === undefined) throw dataMissing('no MASA key for this manufacturer');
  const cms = await voucherFor(deps, cache, device, owner, undefined, masa);
  // The voucher may come from the cache: its own expires-on is what the importing owner must keep.
  const expiresAt = cms === undefined ? undefined : voucherExpiry(cms);
  if (cms === undefined || expiresAt === undefined) throw dataMissing('no MASA key for this manufacturer');
  await deps.store.transaction((tx) =>
    deps.audit.append(tx, {
      actor,
      action: 'sztp.voucher.issued',
      subject: device.id,
      tenantId: device.manufacturerId,
      details: { ownerId: owner.id, expiresAt },
    }),
  );
  return { cms, expiresAt };
}
