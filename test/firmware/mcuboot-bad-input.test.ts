import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hasCode, ImprintError } from '../../src/core/errors.ts';
import { TLV } from '../../src/firmware/mcuboot/constants.ts';
import { findTlv, parseImage } from '../../src/firmware/mcuboot/parse.ts';
import { verifyImage } from '../../src/firmware/mcuboot/verify.ts';
import { sampleImage, testSigner } from './helpers.ts';

const { signer, key } = testSigner();
const other = testSigner();
const good = await sampleImage(signer);
const parsed = parseImage(good);
const payloadEnd = parsed.header.hdrSize + parsed.header.imgSize;
const unprotAt = parsed.hashedLength;

function mutate(f: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const b = Uint8Array.from(good);
  f(b, new DataView(b.buffer));
  return b;
}

function flip(b: Uint8Array, i: number, mask: number): void {
  b[i] = (b[i] ?? 0) ^ mask;
}

function refuses(image: Uint8Array, code: string): void {
  assert.throws(
    () => verifyImage(image, { keys: [key] }),
    (e) => hasCode(e, code),
  );
}

describe('MCUboot bad input', () => {
  it('accepts the untouched image', () => {
    const v = verifyImage(good, { keys: [key] });
    assert.equal(v.facts.securityCounter, 3);
    assert.deepEqual(v.facts.classId, new Uint8Array(16).fill(0xcc));
  });
  it('refuses a truncated image', () => {
    refuses(good.subarray(0, good.length - 1), 'ERR_FIRMWARE_IMAGE_TRUNCATED');
    refuses(good.subarray(0, 20), 'ERR_FIRMWARE_IMAGE_TRUNCATED');
    refuses(good.subarray(0, payloadEnd - 10), 'ERR_FIRMWARE_IMAGE_TRUNCATED');
  });
  it('refuses a padded image', () => {
    refuses(Uint8Array.from([...good, 0xff, 0xff]), 'ERR_FIRMWARE_TRAILING_DATA');
  });
  it('refuses a wrong magic', () => {
    refuses(
      mutate((b) => (b[0] = 0x3c)),
      'ERR_FIRMWARE_BAD_MAGIC',
    );
  });
  it('refuses mixed header padding and a short header size', () => {
    refuses(
      mutate((b) => (b[100] = 0)),
      'ERR_FIRMWARE_BAD_HEADER',
    );
    refuses(
      mutate((_b, v) => v.setUint16(8, 16, true)),
      'ERR_FIRMWARE_BAD_HEADER',
    );
  });
  it('refuses a fixed-size TLV with the wrong length', () => {
    const sec = findTlv(parsed, TLV.SEC_CNT)!;
    refuses(
      mutate((_b, v) => v.setUint16(sec.offset - 2, 3, true)),
      'ERR_FIRMWARE_BAD_TLV_LENGTH',
    );
  });
  it('refuses a TLV that runs past its area', () => {
    const sig = findTlv(parsed, TLV.ED25519)!;
    refuses(
      mutate((_b, v) => v.setUint16(sig.offset - 2, 0x2000, true)),
      'ERR_FIRMWARE_TLV_OUT_OF_BOUNDS',
    );
  });
  it('refuses a TLV area that runs past the end', () => {
    refuses(
      mutate((_b, v) => v.setUint16(unprotAt + 2, v.getUint16(unprotAt + 2, true) + 8, true)),
      'ERR_FIRMWARE_IMAGE_TRUNCATED',
    );
  });
  it('refuses protected and unprotected areas that overlap or disagree with the header', () => {
    refuses(
      mutate((_b, v) => v.setUint16(10, v.getUint16(10, true) + 4, true)),
      'ERR_FIRMWARE_TLV_AREA_MISMATCH',
    );
    refuses(
      mutate((_b, v) => v.setUint16(10, 0, true)),
      'ERR_FIRMWARE_TLV_AREA_MISMATCH',
    );
    refuses(
      mutate((_b, v) => v.setUint16(payloadEnd + 2, v.getUint16(payloadEnd + 2, true) + 4, true)),
      'ERR_FIRMWARE_TLV_AREA_MISMATCH',
    );
  });
  it('refuses a wrong unprotected TLV magic', () => {
    refuses(
      mutate((_b, v) => v.setUint16(unprotAt, 0x6906, true)),
      'ERR_FIRMWARE_BAD_TLV_MAGIC',
    );
  });
  it('refuses a policy TLV moved to the unprotected area', async () => {
    // Same bytes, but the security counter is declared unprotected: build by hand from a counter-less image.
    const plain = await sampleImage(signer, { securityCounter: undefined as never });
    const p = parseImage(plain);
    const extra = Uint8Array.from([0x50, 0, 4, 0, 9, 0, 0, 0]);
    const b = new Uint8Array(plain.length + 8);
    b.set(plain);
    b.set(extra, plain.length);
    const v = new DataView(b.buffer);
    v.setUint16(p.hashedLength + 2, v.getUint16(p.hashedLength + 2, true) + 8, true);
    refuses(b, 'ERR_FIRMWARE_TLV_MISPLACED');
  });
  it('refuses unknown TLV ids and a damaged KEYHASH type byte', () => {
    const kh = findTlv(parsed, TLV.KEYHASH)!;
    refuses(
      mutate((b) => (b[kh.offset - 3] = 1)),
      'ERR_FIRMWARE_TLV_MISPLACED',
    );
    refuses(
      mutate((b) => (b[kh.offset - 4] = 0x09)),
      'ERR_FIRMWARE_TLV_UNKNOWN',
    );
  });
  it('refuses a modified payload, header or protected TLV (hash)', () => {
    refuses(
      mutate((b) => flip(b, 0x200 + 5, 1)),
      'ERR_FIRMWARE_HASH_MISMATCH',
    );
    refuses(
      mutate((b) => flip(b, 20, 1)),
      'ERR_FIRMWARE_HASH_MISMATCH',
    );
    const sec = findTlv(parsed, TLV.SEC_CNT)!;
    refuses(
      mutate((b) => (b[sec.offset] = 200)),
      'ERR_FIRMWARE_HASH_MISMATCH',
    );
  });
  it('refuses a bad signature and an unknown key', () => {
    const sig = findTlv(parsed, TLV.ED25519)!;
    refuses(
      mutate((b) => flip(b, sig.offset + 3, 0x10)),
      'ERR_FIRMWARE_BAD_SIGNATURE',
    );
    assert.throws(
      () => verifyImage(good, { keys: [other.key] }),
      (e) => hasCode(e, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE'),
    );
    const kh = findTlv(parsed, TLV.KEYHASH)!;
    refuses(
      mutate((b) => flip(b, kh.offset, 1)),
      'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE',
    );
  });

  it('never accepts a randomly mutated image (bit flips, truncation, insertion)', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(good.length - 1), bit: fc.nat(7) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(good.length - 1), bit: fc.constant(0) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(good.length), bit: fc.nat(255) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        let b = Uint8Array.from(good);
        for (const m of ms) {
          if (m.kind === 'flip') b[m.at % b.length] = (b[m.at % b.length] ?? 0) ^ (1 << m.bit);
          else if (m.kind === 'truncate') b = b.subarray(0, m.at % b.length);
          else b = Uint8Array.from([...b.subarray(0, m.at), m.bit, ...b.subarray(m.at)]);
        }
        if (Buffer.from(b).equals(Buffer.from(good))) return; // two flips of one bit cancel out
        try {
          verifyImage(b, { keys: [key] });
        } catch (e) {
          assert.ok(e instanceof ImprintError && e.code.startsWith('ERR_FIRMWARE_'), String(e));
          return;
        }
        assert.fail('a mutated image verified');
      }),
      { numRuns: 400 },
    );
  });
});

describe('MCUboot encryption round trips', () => {
  it('AES key wrap (128 and 256) and RSA-OAEP encryption keys decrypt, and a wrong KEK is refused', async () => {
    const { generateKeyPairSync, randomBytes } = await import('node:crypto');
    const payload = new Uint8Array(1001).fill(7);
    for (const [recipient, decryptionKey, keyLength] of [
      [{ kek: new Uint8Array(16).fill(1) }, { kek: new Uint8Array(16).fill(1) }, 16],
      [{ kek: new Uint8Array(32).fill(2) }, { kek: new Uint8Array(32).fill(2) }, 32],
      ...(() => {
        const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
        return [[rsa.publicKey, rsa.privateKey, 16]] as const;
      })(),
    ] as const) {
      const image = await sampleImage(signer, { payload, encryption: { recipient, keyLength } });
      assert.notDeepEqual(parseImage(image).payload.subarray(0, 16), payload.subarray(0, 16));
      const v = verifyImage(image, { keys: [key], decryptionKey });
      assert.equal(v.decrypted, true);
      assert.deepEqual(Buffer.from(v.payload.subarray(0, payload.length)), Buffer.from(payload));
    }
    const kw = await sampleImage(signer, {
      payload,
      encryption: { recipient: { kek: new Uint8Array(16).fill(1) } },
    });
    assert.throws(
      () => verifyImage(kw, { keys: [key], decryptionKey: { kek: new Uint8Array(randomBytes(16)) } }),
      (e) => hasCode(e, 'ERR_FIRMWARE_DECRYPT_FAILED'),
    );
  });
});
