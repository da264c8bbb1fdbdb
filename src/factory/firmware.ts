import { createHash } from 'node:crypto';
import { UnavailableError } from '../core/errors.ts';
import type { KeyStore } from '../keys/types.ts';
import { findCaByRole } from '../pki/ca-store.ts';
import type { Store } from '../store/database.ts';
import type { FirmwareBundle } from './types.ts';

/** Supplies the signed firmware a batch writes. */
export interface FirmwareSource {
  /** The bundle for a tenant's batch. Throws ERR_CA_NOT_FOUND (no code-signing CA), ERR_FACTORY_FIRMWARE_UNAVAILABLE. */
  bundle(tenantId: string, batchId: string): Promise<FirmwareBundle>;
}

/**
 * Signs one factory image with the tenant's code-signing CA key (a detached ECDSA/SHA-256 signature;
 * the MCUboot envelope replaces it when the firmware feature provides images). Cached per tenant.
 */
export function codeSigningFirmwareSource(
  deps: { store: Store; keys: KeyStore },
  image: Uint8Array,
  version: string,
): FirmwareSource {
  const cache = new Map<string, Promise<FirmwareBundle>>();
  const make = async (tenantId: string): Promise<FirmwareBundle> => {
    const ca = await findCaByRole(deps.store.db, tenantId, 'code-signing');
    if (ca.keyId === null)
      throw new UnavailableError('ERR_FACTORY_FIRMWARE_UNAVAILABLE', 'the code-signing CA key is offline');
    const key = await deps.keys.get(ca.keyId);
    const signature = await deps.keys.sign(ca.keyId, image, { hash: 'sha256', ecdsaFormat: 'der' });
    return { version, image, signature, signerPublicKey: key.publicKeyDer };
  };
  return {
    bundle(tenantId) {
      let p = cache.get(tenantId);
      if (p === undefined) {
        p = make(tenantId);
        p.catch(() => cache.delete(tenantId));
        cache.set(tenantId, p);
      }
      return p;
    },
  };
}

/** A deterministic demo image of `size` bytes (stands in for a real build). */
export function demoFirmwareImage(size = 16 * 1024): Uint8Array {
  const out = new Uint8Array(size);
  let block = createHash('sha256').update('imprint demo firmware').digest();
  for (let i = 0; i < size; i += 32) {
    out.set(block.subarray(0, Math.min(32, size - i)), i);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}
