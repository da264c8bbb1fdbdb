import { generateKeyPairSync } from 'node:crypto';
import { mcubootKey, type McubootPublicKey } from '../../src/firmware/mcuboot/keys.ts';
import type { ImageSpec } from '../../src/firmware/mcuboot/write.ts';
import { privateKeySigner, signImage, type ImageSigner } from '../../src/firmware/signer.ts';

/** A throwaway Ed25519 image signer and its public key. */
export function testSigner(): { signer: ImageSigner; key: McubootPublicKey } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const signer = privateKeySigner(privateKey);
  return { signer, key: mcubootKey(signer.publicKey.key) };
}

/** Deterministic pseudo-random firmware bytes. */
export function firmwareBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A small signed image with a security counter and vendor/class ids. */
export async function sampleImage(
  signer: ImageSigner,
  overrides: Partial<ImageSpec> = {},
): Promise<Uint8Array> {
  return signImage(
    {
      payload: firmwareBytes(1000),
      version: { major: 1, minor: 0, revision: 0, build: 0 },
      headerSize: 0x200,
      securityCounter: 3,
      vendorId: new Uint8Array(16).fill(0xaa),
      classId: new Uint8Array(16).fill(0xcc),
      ...overrides,
    },
    signer,
  );
}
