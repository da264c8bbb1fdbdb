/** mcubootKey's JWK import of canonical P-256 SPKI bytes agrees with the DER path and still refuses non-keys. */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { test } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import { mcubootKey, verifyDigestSignature } from '../../src/firmware/mcuboot/keys.ts';

test('a P-256 SPKI gives the same MCUboot key as its KeyObject, and verifies signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const fromBytes = mcubootKey(spki);
  const fromKey = mcubootKey(publicKey);
  assert.equal(fromBytes.type, 'ecdsa-p256');
  assert.deepEqual(fromBytes.bytes, fromKey.bytes);
  assert.deepEqual(fromBytes.hash, fromKey.hash);
  assert.ok(fromBytes.key.equals(publicKey));
  const region = [new Uint8Array([1, 2, 3])];
  const sig = new Uint8Array(sign('sha256', region[0]!, privateKey));
  assert.ok(verifyDigestSignature(fromBytes, new Uint8Array(32), sig, region));
});

test('a canonical-looking SPKI whose point is off the curve is refused with ERR_FIRMWARE_KEY_UNSUPPORTED', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  spki[spki.length - 1] = spki[spki.length - 1]! ^ 1;
  assert.throws(
    () => mcubootKey(spki),
    (e) => hasCode(e, 'ERR_FIRMWARE_KEY_UNSUPPORTED'),
  );
});
