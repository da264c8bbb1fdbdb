import { createHash } from 'node:crypto';
import { ImprintError, UnavailableError } from '../core/errors.ts';
import { SigningService } from '../firmware/signing-service.ts';
import type { FirmwareDeps } from '../firmware/types.ts';
import type { FirmwareBundle } from './types.ts';

/** Supplies the signed firmware a batch writes. */
export interface FirmwareSource {
  /** The bundle for a tenant's batch. Throws ERR_CA_NOT_FOUND (no code-signing CA), ERR_FACTORY_FIRMWARE_UNAVAILABLE. */
  bundle(tenantId: string, batchId: string): Promise<FirmwareBundle>;
}

/** Security counter of factory images: updates must carry at least this. */
export const FACTORY_SECURITY_COUNTER = 1;

/**
 * Signs the factory image as an MCUboot image with the tenant's code-signing CA key, adopted as a
 * release key so the signature is audited like any other and later releases can use the same key.
 * The full PUBKEY TLV goes in the image: the device's OTP holds only the key's hash (MCUboot's
 * hardware-key mode), so its boot ROM needs no compiled-in key. Signed once per tenant and image.
 */
export function codeSigningFirmwareSource(
  deps: FirmwareDeps,
  payload: Uint8Array,
  version: string,
): FirmwareSource {
  const signing = new SigningService(deps);
  const cache = new Map<string, Promise<FirmwareBundle>>();
  const make = async (tenantId: string): Promise<FirmwareBundle> => {
    const by = { actor: 'system:factory', tenantId };
    try {
      const { keyId } = await signing.adoptCodeSigningKey(by);
      const digest = await signing.signOnce(by, keyId, payload, {
        version,
        securityCounter: FACTORY_SECURITY_COUNTER,
        headerSize: 0x200,
        publicKeyFormat: 'full',
      });
      const key = await deps.keys.get(keyId);
      return {
        version,
        image: await signing.imageBytes(tenantId, digest),
        signerPublicKey: key.publicKeyDer,
      };
    } catch (e) {
      if (
        e instanceof ImprintError &&
        (e.code === 'ERR_FIRMWARE_KEY_OFFLINE' || e.code === 'ERR_FIRMWARE_APPROVAL_PENDING')
      )
        throw new UnavailableError(
          'ERR_FACTORY_FIRMWARE_UNAVAILABLE',
          `factory firmware cannot be signed: ${e.message}`,
        );
      throw e;
    }
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
