import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Pkcs11KeyStore } from '../../src/keys/pkcs11.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';
import { createPki, type PkiFixture } from './helpers.ts';
import { judgeEverything } from './scenario.ts';

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
});
