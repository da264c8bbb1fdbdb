import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { generateTransportKey, openWith, sealTo } from '../../src/device/hpke.ts';
import { hasCode } from '../../src/core/errors.ts';

const suite = new CipherSuite({
  kem: new DhkemX25519HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
const buf = (b: Uint8Array) => b.slice().buffer;
const info = new TextEncoder().encode('imprint/factory-secrets/v1/SN-1');
const aad = new TextEncoder().encode('aad');
const msg = new TextEncoder().encode('wifi key and cloud token');

test('our HPKE seal opens with @hpke/core (RFC 9180 base mode, X25519/HKDF-SHA256/AES-256-GCM)', async () => {
  const kp = await suite.kem.generateKeyPair();
  const pub = new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey));
  const sealed = await sealTo(pub, msg, info, aad);
  const pt = await suite.open(
    { recipientKey: kp, enc: buf(sealed.enc), info: buf(info) },
    buf(sealed.ciphertext),
    buf(aad),
  );
  assert.deepEqual(new Uint8Array(pt), msg);
});

test('@hpke/core seals open with ours; wrong info, aad or key fail with ERR_SE_OPEN_FAILED', async () => {
  const kp = await generateTransportKey();
  const pk = await suite.kem.deserializePublicKey(buf(kp.publicKey));
  const { enc, ct } = await suite.seal({ recipientPublicKey: pk, info: buf(info) }, buf(msg), buf(aad));
  const sealed = { enc: new Uint8Array(enc), ciphertext: new Uint8Array(ct) };
  assert.deepEqual(await openWith(kp.privateKey, sealed, info, aad), msg);
  const other = await generateTransportKey();
  for (const [k, i, a] of [
    [kp.privateKey, new TextEncoder().encode('other'), aad],
    [kp.privateKey, info, new Uint8Array(0)],
    [other.privateKey, info, aad],
  ] as const) {
    await assert.rejects(openWith(k, sealed, i, a), (e) => hasCode(e, 'ERR_SE_OPEN_FAILED'));
  }
  await assert.rejects(sealTo(new Uint8Array(31), msg, info, aad), (e) =>
    hasCode(e, 'ERR_HPKE_BAD_PUBLIC_KEY'),
  );
});
