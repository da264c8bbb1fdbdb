import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyStore } from '../../src/keys/pkcs11.ts';
import { publicKeyBits } from '../../src/pki/asn1.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';
import { createPki, type PkiFixture } from './helpers.ts';
import { issueWithOpenssl, judgeEverything, ocspQuery, startPublic, writeCas } from './scenario.ts';

describe('PKI judged by openssl (SoftHSM key store)', () => {
  let token: SoftHsmToken;
  let f: PkiFixture;
  before(async () => {
    token = createSoftHsmToken();
    f = await createPki({
      keys: (store, clock) =>
        new Pkcs11KeyStore({
          module: token.module,
          tokenLabel: token.tokenLabel,
          pin: token.pin,
          db: store.db,
          clock,
        }),
    });
  });
  after(async () => {
    await f.close();
    token.cleanup();
  });

  it('keeps every CA and responder key in the token', async () => {
    const cas = await f.pki.listCas(f.tenantId);
    for (const ca of cas) {
      assert.notEqual(ca.keyId, null);
      assert.equal((await f.core.keys.get(ca.keyId!)).backend, 'pkcs11');
    }
  });

  it('issues every profile, publishes CRLs and answers OCSP good, revoked, unknown, unauthorized', async () => {
    await judgeEverything(f);
  });

  it('renews an OCSP responder in the token; openssl verifies the live responder with it', async () => {
    const { pem, bundle } = await writeCas(f);
    const tls = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'tls')!;
    const leaf = await issueWithOpenssl(f, 'hsm-client', 'tls-client', '/CN=hsm-client');
    const renewed = await f.pki.renewOcspSigner(f.by, f.tenantId, tls.id);
    const key = await f.core.store.db
      .selectFrom('cas')
      .select('ocsp_key_id')
      .where('id', '=', tls.id)
      .executeTakeFirstOrThrow();
    assert.equal((await f.core.keys.get(key.ocsp_key_id!)).backend, 'pkcs11');
    const server = await startPublic(f);
    try {
      const out = await ocspQuery(server.url, pem.tls!, bundle.tls!, { cert: leaf.path });
      assert.match(out, /Response verify OK/);
      assert.match(out, /: good/);
      // openssl prints the responder's key hash: SHA-1 of the renewed certificate's public key bits.
      const spki = new X509Certificate(Buffer.from(renewed.certificate.der)).publicKey.export({
        type: 'spki',
        format: 'der',
      });
      const id = createHash('sha1')
        .update(publicKeyBits(new Uint8Array(spki)))
        .digest('hex');
      assert.match(out, new RegExp(`Responder Id: ${id.toUpperCase()}`));
    } finally {
      await server.app.close();
    }
  });
});
