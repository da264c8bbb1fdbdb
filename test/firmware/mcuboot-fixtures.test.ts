import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../src/core/errors.ts';
import { ENCRYPTION_TLVS, TLV } from '../../src/firmware/mcuboot/constants.ts';
import { unwrapImageKey } from '../../src/firmware/mcuboot/encrypt.ts';
import { mcubootKey } from '../../src/firmware/mcuboot/keys.ts';
import { findTlv, imageFacts, parseImage } from '../../src/firmware/mcuboot/parse.ts';
import { formatVersion } from '../../src/firmware/mcuboot/types.ts';
import { verifyImage } from '../../src/firmware/mcuboot/verify.ts';
import { draftImage, type ImageSpec } from '../../src/firmware/mcuboot/write.ts';
import { privateKeySigner } from '../../src/firmware/signer.ts';

const DIR = '../shared/fixtures/mcuboot';
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const pem = (f: string) => readFileSync(join(DIR, f), 'utf8');
const fw = read('fw.bin');

interface Case {
  file: string;
  key: string;
  enc?: string;
  version: string;
  sec?: number;
  full?: boolean;
  encrypted: false | 'aes128' | 'aes256';
  decrypts: boolean;
  deterministic: boolean;
}

const CASES: Case[] = [
  {
    file: 'signed-ecdsa-p256.bin',
    key: 'ec256.pem',
    version: '1.2.3+4',
    sec: 7,
    encrypted: false,
    decrypts: false,
    deterministic: false,
  },
  {
    file: 'signed-ed25519.bin',
    key: 'ed25519.pem',
    version: '1.2.3+4',
    sec: 7,
    encrypted: false,
    decrypts: false,
    deterministic: true,
  },
  {
    file: 'signed-rsa2048.bin',
    key: 'rsa2048.pem',
    version: '2.0.0',
    encrypted: false,
    decrypts: false,
    deterministic: false,
  },
  {
    file: 'signed-rsa3072-pubkey.bin',
    key: 'rsa3072.pem',
    version: '2.0.1',
    full: true,
    encrypted: false,
    decrypts: false,
    deterministic: false,
  },
  {
    file: 'encrypted-x25519-ed25519.bin',
    key: 'ed25519.pem',
    enc: 'x25519.pem',
    version: '1.3.0',
    sec: 8,
    encrypted: 'aes128',
    decrypts: true,
    deterministic: true,
  },
  {
    file: 'encrypted-x25519-aes256-ed25519.bin',
    key: 'ed25519.pem',
    enc: 'x25519.pem',
    version: '1.4.0',
    encrypted: 'aes256',
    decrypts: true,
    deterministic: true,
  },
  {
    file: 'encrypted-ec256-ecdsa-p256.bin',
    key: 'ec256.pem',
    enc: 'enc-ec256.pem',
    version: '1.3.0',
    sec: 8,
    encrypted: 'aes128',
    decrypts: true,
    deterministic: false,
  },
  {
    file: 'clear-with-enc-tlv-x25519-ed25519.bin',
    key: 'ed25519.pem',
    enc: 'x25519.pem',
    version: '1.3.0',
    encrypted: 'aes128',
    decrypts: false,
    deterministic: true,
  },
];

function trustOf(c: Case) {
  return {
    keys: [mcubootKey(pem(c.key))],
    ...(c.enc === undefined ? {} : { decryptionKey: createPrivateKey(pem(c.enc)) }),
  };
}

describe('imgtool fixtures', () => {
  for (const c of CASES) {
    it(`verifies ${c.file}`, () => {
      const v = verifyImage(read(c.file), trustOf(c));
      assert.equal(formatVersion(v.facts.version), c.version);
      assert.equal(v.facts.securityCounter, c.sec);
      assert.equal(v.facts.encrypted, c.encrypted);
      assert.equal(v.decrypted, c.decrypts);
      assert.deepEqual(Buffer.from(v.payload.subarray(0, fw.length)), Buffer.from(fw));
      assert.equal(v.payload.length, fw.length);
      assert.equal(findTlv(v.image, c.full === true ? TLV.PUBKEY : TLV.KEYHASH)?.protected, false);
      assert.equal(findTlv(v.image, c.full === true ? TLV.KEYHASH : TLV.PUBKEY), undefined);
      assert.deepEqual(v.keyHash, mcubootKey(pem(c.key)).hash);
    });

    it(`re-creates ${c.file} from fw.bin and its header parameters`, async () => {
      const fixture = read(c.file);
      const parsed = parseImage(fixture);
      const facts = imageFacts(parsed);
      const signer = privateKeySigner(pem(c.key));
      const enc = c.enc === undefined ? undefined : createPrivateKey(pem(c.enc));
      let plainKey: Uint8Array | undefined;
      if (enc !== undefined) {
        const encTlv = parsed.tlvs.find((t) => ENCRYPTION_TLVS.has(t.type))!;
        plainKey = unwrapImageKey(encTlv.type, encTlv.value, enc, facts.encrypted === 'aes256' ? 32 : 16);
      }
      const spec: ImageSpec = {
        payload: fw,
        version: facts.version,
        headerSize: parsed.header.hdrSize,
        ...(facts.securityCounter === undefined ? {} : { securityCounter: facts.securityCounter }),
        publicKeyFormat: c.full === true ? 'full' : 'hash',
        ...(enc === undefined || plainKey === undefined
          ? {}
          : {
              encryption: {
                recipient: createPublicKey(enc),
                keyLength: plainKey.length as 16 | 32,
                plainKey,
                clear: !c.decrypts,
              },
            }),
      };
      const draft = draftImage(spec, signer.publicKey);
      const v = verifyImage(fixture, trustOf(c));
      const hashed = Buffer.concat([
        fixture.subarray(0, parsed.header.hdrSize),
        v.payload,
        fixture.subarray(parsed.header.hdrSize + parsed.header.imgSize, parsed.hashedLength),
      ]);
      assert.deepEqual(Buffer.from(draft.hashedRegion), hashed, 'hashed region matches byte for byte');
      assert.deepEqual(draft.digest, v.digest);
      const ours = draft.finish(await signer.signDigest(draft.digest));
      // Ours verifies with the same key (and decrypts with the same encryption key).
      assert.deepEqual(verifyImage(ours, trustOf(c)).digest, v.digest);
      if (c.deterministic) {
        assert.equal(ours.length, fixture.length);
        const encTlv = parseImage(ours).tlvs.find((t) => ENCRYPTION_TLVS.has(t.type));
        const a = Buffer.from(ours);
        const b = Buffer.from(fixture);
        // The encryption TLV holds a fresh ephemeral key and MAC; everything else is deterministic.
        if (encTlv !== undefined) {
          a.fill(0, encTlv.offset, encTlv.offset + encTlv.value.length);
          b.fill(0, encTlv.offset, encTlv.offset + encTlv.value.length);
        }
        assert.deepEqual(a, b, 'whole image matches byte for byte');
      }
    });
  }

  it('refuses an image signed by a key that is not trusted', () => {
    assert.throws(
      () => verifyImage(read('signed-ed25519.bin'), { keys: [mcubootKey(pem('ec256.pem'))] }),
      (e) =>
        hasCode(e, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE') &&
        /no signature by a trusted key/.test((e as Error).message),
    );
    assert.throws(
      () => verifyImage(read('signed-rsa3072-pubkey.bin'), { keys: [mcubootKey(pem('rsa2048.pem'))] }),
      (e) => hasCode(e, 'ERR_FIRMWARE_NO_TRUSTED_SIGNATURE'),
    );
  });

  it('refuses an encrypted image without, or with the wrong, decryption key', () => {
    const keys = [mcubootKey(pem('ed25519.pem'))];
    assert.throws(
      () => verifyImage(read('encrypted-x25519-ed25519.bin'), { keys }),
      (e) => hasCode(e, 'ERR_FIRMWARE_ENCRYPTED'),
    );
    assert.throws(
      () =>
        verifyImage(read('encrypted-ec256-ecdsa-p256.bin'), {
          keys: [mcubootKey(pem('ec256.pem'))],
          decryptionKey: createPrivateKey(pem('ec256.pem')),
        }),
      (e) => hasCode(e, 'ERR_FIRMWARE_DECRYPT_FAILED'),
    );
  });
});
