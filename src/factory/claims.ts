import { timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { ConflictError, ForbiddenError, ImprintError, NotFoundError } from '../core/errors.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Device } from '../registry/types.ts';
import type { Store } from '../store/database.ts';
import { claimCodeHash } from './claim-code.ts';
import type { LabelPayload } from './label.ts';

/** Binds devices to their owner tenant by the one-time claim code printed on their label. */
export class ClaimService {
  readonly #d: { store: Store; audit: AuditLog; registry: RegistryService; clock: Clock };

  constructor(deps: { store: Store; audit: AuditLog; registry: RegistryService; clock: Clock }) {
    this.#d = deps;
  }

  /**
   * Claims a device for `ownerTenantId`, once. A wrong device, key or code all give ERR_CLAIM_INVALID
   * (nothing is revealed); refusals are audited. Throws ERR_CLAIM_INVALID, ERR_CLAIM_USED, ERR_CLAIM_TENANT_INVALID.
   */
  async claim(by: { actor: string }, ownerTenantId: string, label: LabelPayload): Promise<Device> {
    try {
      return await this.#d.store.transaction(async (tx) => {
        const owner = await this.#d.registry.getTenant(ownerTenantId, tx);
        if (owner.kind !== 'owner')
          throw new ForbiddenError('ERR_CLAIM_TENANT_INVALID', 'only an owner tenant can claim devices');
        const invalid = () => new NotFoundError('ERR_CLAIM_INVALID', 'no device matches this label');
        const row = await tx
          .selectFrom('claim_codes')
          .selectAll()
          .where('device_id', '=', label.deviceId)
          .executeTakeFirst();
        if (row === undefined) throw invalid();
        const device = await this.#d.registry.getDevice(label.deviceId, undefined, tx);
        const a = Buffer.from(claimCodeHash(label.claimCode), 'hex');
        const b = Buffer.from(row.code_hash, 'hex');
        if (
          device.identityKeyFingerprint !== label.fingerprint ||
          a.length !== b.length ||
          !timingSafeEqual(a, b)
        )
          throw invalid();
        if (row.claimed_at !== null || device.state !== 'provisioned')
          throw new ConflictError('ERR_CLAIM_USED', `device ${device.serial} has already been claimed`);
        const res = await tx
          .updateTable('claim_codes')
          .set({ claimed_at: this.#d.clock.now().toISOString(), claimed_by: ownerTenantId })
          .where('device_id', '=', device.id)
          .where('claimed_at', 'is', null)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1)
          throw new ConflictError('ERR_CLAIM_USED', `device ${device.serial} has already been claimed`);
        return this.#d.registry.updateDevice(
          tx,
          by,
          device.id,
          { tenantId: ownerTenantId, state: 'claimed' },
          'device.claimed',
        );
      });
    } catch (e) {
      if (e instanceof ImprintError) {
        await this.#d.store.transaction((tx) =>
          this.#d.audit.append(tx, {
            ...by,
            action: 'device.claim.refused',
            subject: label.deviceId,
            tenantId: ownerTenantId,
            details: { code: e.code },
          }),
        );
      }
      throw e;
    }
  }
}
