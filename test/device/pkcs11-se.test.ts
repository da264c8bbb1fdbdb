import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Aes256Gcm, CipherSuite, DhkemP256HkdfSha256, HkdfSha256 } from '@hpke/core';
import pkcs11js from 'pkcs11js';
import { toPem } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { DeviceAgent } from '../../src/device/agent.ts';
import { sealTo, secretsInfo } from '../../src/device/hpke.ts';
import { Pkcs11SecureElement, type Pkcs11ElementConfig } from '../../src/device/pkcs11-se.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { encodeCbor } from '../../src/factory/link/cbor-encode.ts';
import { LinkClient } from '../../src/factory/link/client.ts';
import { LinkServer } from '../../src/factory/link/server.ts';
import { provisionDevice } from '../../src/factory/station.ts';
import { TokenSession } from '../../src/keys/pkcs11-session.ts';
import { duplexPair } from '../factory/helpers/duplex-pair.ts';
import { factoryFixture, type FactoryFixture } from '../factory/helpers/factory.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';

const suite = new CipherSuite({
  kem: new DhkemP256HkdfSha256(),
  kdf: new HkdfSha256(),
  aead: new Aes256Gcm(),
});
const buf = (b: Uint8Array) => b.slice().buffer;
const info = secretsInfo('SN-P11');
const aad = new TextEncoder().encode('aad');

/**
 * The secure element behind the same interface, in a real PKCS#11 token (SoftHSM2): keys born in the
 * token and never extractable, HPKE with DHKEM(P-256) whose ECDH runs in the token, secrets kept as
 * sensitive token objects; and a device provisioned end to end by the factory station with it.
 */
describe('a PKCS#11 secure element (SoftHSM2)', () => {
  let token: SoftHsmToken;
  let config: Pkcs11ElementConfig;
  let fx: FactoryFixture;
  const opened: Pkcs11SecureElement[] = [];
  const element = (uid: Uint8Array) => {
    const se = Pkcs11SecureElement.open(config, uid);
    opened.push(se);
    return se;
  };

  before(async () => {
    token = createSoftHsmToken();
    config = { module: token.module, tokenLabel: token.tokenLabel, pin: token.pin };
    fx = await factoryFixture();
  });
  after(async () => {
    for (const se of opened) await se.close();
    await fx.core.close();
    token.cleanup();
  });

  it('seals to the token transport key interoperate with @hpke/core (DHKEM(P-256), HKDF-SHA256, AES-256-GCM)', async () => {
    const se = element(new Uint8Array(16).fill(1));
    const pk = await se.transportPublicKey();
    assert.equal(pk.length, 65);
    assert.deepEqual(await se.transportPublicKey(), pk, 'the transport key is made once');
    // @hpke/core seals, the token opens.
    const secrets = encodeCbor({ wifiKey: new Uint8Array([1, 2, 3]), cloudToken: new Uint8Array([4]) });
    const recipientPublicKey = await suite.kem.deserializePublicKey(buf(pk));
    const { enc, ct } = await suite.seal({ recipientPublicKey, info: buf(info) }, buf(secrets), buf(aad));
    assert.deepEqual(
      await se.openSealed({ enc: new Uint8Array(enc), ciphertext: new Uint8Array(ct) }, info, aad),
      ['cloudToken', 'wifiKey'],
    );
    assert.deepEqual(await se.secretNames(), ['cloudToken', 'wifiKey']);
    await assert.rejects(
      se.openSealed({ enc: new Uint8Array(enc), ciphertext: new Uint8Array(ct) }, info, new Uint8Array(0)),
      (e) => hasCode(e, 'ERR_SE_OPEN_FAILED'),
    );
    // We seal to a P-256 key, @hpke/core opens.
    const kp = await suite.kem.generateKeyPair();
    const raw = new Uint8Array(await suite.kem.serializePublicKey(kp.publicKey));
    const sealed = await sealTo(raw, secrets, info, aad);
    const pt = await suite.open(
      { recipientKey: kp, enc: buf(sealed.enc), info: buf(info) },
      buf(sealed.ciphertext),
      buf(aad),
    );
    assert.deepEqual(new Uint8Array(pt), secrets);
  });

  it('a device with the element is provisioned by the station; its IDevID verifies with openssl', async () => {
    const statePath = join(fx.core.dir, 'p11-device.cbor');
    const d = SimulatedDevice.create(statePath, { model: fx.modelName, secureElement: element });
    const [a, b] = duplexPair();
    new LinkServer(b, new DeviceAgent(d).handle);
    const res = await provisionDevice(new LinkClient(a, { timeoutMs: 2000, retries: 1 }), fx.api, {
      batchId: fx.batch.id,
    });
    assert.equal(res.outcome, 'provisioned');
    const leaf = join(fx.core.dir, 'p11-leaf.pem');
    const inter = join(fx.core.dir, 'p11-inter.pem');
    const root = join(fx.core.dir, 'p11-root.pem');
    writeFileSync(leaf, toPem('CERTIFICATE', res.certificate!));
    writeFileSync(
      inter,
      res
        .chain!.slice(0, -1)
        .map((c) => toPem('CERTIFICATE', c))
        .join(''),
    );
    writeFileSync(root, toPem('CERTIFICATE', res.chain!.at(-1)!));
    const out = execFileSync('openssl', ['verify', '-CAfile', root, '-untrusted', inter, leaf], {
      encoding: 'utf8',
    });
    assert.match(out, /: OK/);
    const pubFromCert = execFileSync('openssl', ['x509', '-in', leaf, '-noout', '-pubkey'], {
      encoding: 'utf8',
    });
    const spki = await d.secureElement.identityPublicKey();
    assert.equal(pubFromCert.trim(), toPem('PUBLIC KEY', spki!).trim(), 'the IDevID certifies the token key');
    assert.deepEqual(await d.secureElement.secretNames(), ['appKey', 'cloudToken', 'wifiKey']);

    // The state file holds no key material, and the device only reopens with its token.
    const state = readFileSync(statePath);
    assert.equal(state.includes(Buffer.from('identityPkcs8')), false);
    assert.equal(state.includes(Buffer.from('transportPrivate')), false);
    assert.throws(
      () => SimulatedDevice.open(statePath),
      (e) => hasCode(e, 'ERR_DEVICE_SE_UNAVAILABLE'),
    );
    const again = SimulatedDevice.open(statePath, { secureElement: element });
    assert.deepEqual(await again.secureElement.identityPublicKey(), spki);
    assert.equal((await again.secureElement.identityChain()).length, res.chain!.length + 1);

    // In the token: the private keys and the secrets are sensitive and never extractable.
    const session = TokenSession.open(config.module, config.tokenLabel, config.pin);
    try {
      const uid = Buffer.from(d.uid);
      await session.run((lib, s) => {
        for (const cls of [pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_SECRET_KEY]) {
          lib.C_FindObjectsInit(s, [
            { type: pkcs11js.CKA_ID, value: uid },
            { type: pkcs11js.CKA_CLASS, value: cls },
          ]);
          const handles = lib.C_FindObjects(s, 16);
          lib.C_FindObjectsFinal(s);
          assert.equal(handles.length, cls === pkcs11js.CKO_PRIVATE_KEY ? 2 : 3);
          for (const h of handles) {
            const [sensitive, extractable] = lib.C_GetAttributeValue(s, h, [
              { type: pkcs11js.CKA_SENSITIVE },
              { type: pkcs11js.CKA_EXTRACTABLE },
            ]);
            assert.deepEqual([sensitive?.value, extractable?.value], [Buffer.from([1]), Buffer.from([0])]);
            assert.throws(() => lib.C_GetAttributeValue(s, h, [{ type: pkcs11js.CKA_VALUE }]));
          }
        }
      });
    } finally {
      await session.close();
    }
  });
});
