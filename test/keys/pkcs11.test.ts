import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pkcs11js from 'pkcs11js';
import { ManualClock } from '../../src/core/clock.ts';
import { ImprintError } from '../../src/core/errors.ts';
import { openKeyStore } from '../../src/keys/open.ts';
import { Pkcs11KeyStore } from '../../src/keys/pkcs11.ts';
import type { KeyStore } from '../../src/keys/types.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';
import { keyStoreContract, rejectsWith, type ContractEnv } from './contract.ts';

const clock = new ManualClock();
// One token for the whole file: SoftHSM reads its config once per module initialisation.
const token: SoftHsmToken = createSoftHsmToken();
after(() => token.cleanup());

async function pkcs11Env(): Promise<ContractEnv> {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-keys-'));
  const dbPath = join(dir, 'imprint.db');
  const open = (store: Store) =>
    new Pkcs11KeyStore({
      module: token.module,
      tokenLabel: token.tokenLabel,
      pin: token.pin,
      db: store.db,
      clock,
    });
  let store = await openStore({ kind: 'sqlite', path: dbPath });
  let keys: KeyStore = open(store);
  return {
    get keys() {
      return keys;
    },
    get store() {
      return store;
    },
    async reopen() {
      await keys.close();
      await store.close();
      store = await openStore({ kind: 'sqlite', path: dbPath });
      keys = open(store);
    },
    async close() {
      await keys.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

keyStoreContract('pkcs11 (SoftHSM2)', pkcs11Env);

/** Reads token objects through an independent PKCS#11 session, as an auditor of the HSM would. */
function inspectToken<T>(fn: (lib: pkcs11js.PKCS11, session: Buffer) => T): T {
  const lib = new pkcs11js.PKCS11();
  lib.load(token.module);
  lib.C_Initialize();
  try {
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === token.tokenLabel)!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
    try {
      return fn(lib, session);
    } finally {
      lib.C_Logout(session);
      lib.C_CloseSession(session);
    }
  } finally {
    lib.C_Finalize();
    lib.close();
  }
}

function objects(lib: pkcs11js.PKCS11, session: Buffer, ckaId: string, cls?: number): Buffer[] {
  const template: pkcs11js.Template = [{ type: pkcs11js.CKA_ID, value: Buffer.from(ckaId, 'hex') }];
  if (cls !== undefined) template.push({ type: pkcs11js.CKA_CLASS, value: cls });
  lib.C_FindObjectsInit(session, template);
  const found = lib.C_FindObjects(session, 10);
  lib.C_FindObjectsFinal(session);
  return found;
}

void describe('pkcs11 key store specifics', () => {
  let env: ContractEnv;
  before(async () => {
    env = await pkcs11Env();
  });
  after(async () => {
    await env.close();
  });

  void it('keeps private keys in the token: sensitive, never extractable, CKA_VALUE unreadable', async () => {
    const ec = await env.keys.generate('hsm-ec', 'ecdsa-p256');
    const rsa = await env.keys.generate('hsm-rsa', 'rsa-3072');
    const rows = await env.store.db
      .selectFrom('keys')
      .selectAll()
      .where('id', 'in', [ec.id, rsa.id])
      .orderBy('label')
      .execute();
    for (const row of rows) {
      assert.equal(row.backend, 'pkcs11');
      assert.equal(row.wrapped_private, null);
      assert.match(row.pkcs11_id ?? '', /^[0-9a-f]{32}$/);
    }
    await env.keys.close();
    inspectToken((lib, session) => {
      for (const row of rows) {
        const [priv] = objects(lib, session, row.pkcs11_id!, pkcs11js.CKO_PRIVATE_KEY);
        assert.ok(priv, `private key of ${row.label} in the token`);
        const attrs = lib.C_GetAttributeValue(session, priv, [
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_TOKEN },
          { type: pkcs11js.CKA_PRIVATE },
          { type: pkcs11js.CKA_SIGN },
          { type: pkcs11js.CKA_LABEL },
          { type: pkcs11js.CKA_NEVER_EXTRACTABLE },
        ]);
        const [extractable, sensitive, onToken, isPrivate, canSign, label, neverExtractable] = attrs.map(
          (a) => a.value,
        );
        assert.deepEqual([...extractable!], [0]);
        assert.deepEqual([...sensitive!], [1]);
        assert.deepEqual([...onToken!], [1]);
        assert.deepEqual([...isPrivate!], [1]);
        assert.deepEqual([...canSign!], [1]);
        assert.deepEqual([...neverExtractable!], [1]);
        assert.equal(label!.toString(), row.label);
        const secret = row.algorithm === 'ecdsa-p256' ? pkcs11js.CKA_VALUE : pkcs11js.CKA_PRIVATE_EXPONENT;
        assert.throws(
          () => lib.C_GetAttributeValue(session, priv, [{ type: secret }]),
          (e: Error & { code?: number }) => e.code === pkcs11js.CKR_ATTRIBUTE_SENSITIVE,
        );
      }
    });
    await env.reopen();
  });

  void it('destroy removes both halves from the token', async () => {
    const info = await env.keys.generate('hsm-doomed', 'ed25519');
    const row = await env.store.db
      .selectFrom('keys')
      .selectAll()
      .where('id', '=', info.id)
      .executeTakeFirstOrThrow();
    await env.keys.destroy(info.id);
    await env.keys.close();
    const left = inspectToken((lib, session) => objects(lib, session, row.pkcs11_id!).length);
    assert.equal(left, 0);
    await env.reopen();
  });

  void it('a taken label creates no token objects', async () => {
    await env.keys.generate('hsm-taken', 'ecdsa-p256');
    await env.keys.close();
    const count = () =>
      inspectToken((lib, session) => {
        lib.C_FindObjectsInit(session, []);
        const n = lib.C_FindObjects(session, 1000).length;
        lib.C_FindObjectsFinal(session);
        return n;
      });
    const before = count();
    await env.reopen();
    await rejectsWith(env.keys.generate('hsm-taken', 'ecdsa-p384'), 'ERR_KEY_LABEL_TAKEN');
    await env.keys.close();
    assert.equal(count(), before);
    await env.reopen();
  });

  void it('racing generates of one label leave exactly one key pair in the token', async () => {
    const count = () =>
      inspectToken((lib, session) => {
        lib.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: 'hsm-race' }]);
        const n = lib.C_FindObjects(session, 1000).length;
        lib.C_FindObjectsFinal(session);
        return n;
      });
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, () => env.keys.generate('hsm-race', 'ecdsa-p256')),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    await env.keys.close();
    assert.equal(count(), 2, 'one private and one public object');
    await env.reopen();
  });

  void it('a wrong PIN fails with ERR_PKCS11_LOGIN_FAILED and never shows the PIN', async () => {
    const badPin = `${token.pin}9`;
    for (const openWhileLoggedIn of [true, false]) {
      if (!openWhileLoggedIn) await env.keys.close();
      assert.throws(
        () =>
          new Pkcs11KeyStore({
            module: token.module,
            tokenLabel: token.tokenLabel,
            pin: badPin,
            db: env.store.db,
            clock,
          }),
        (e: unknown) => {
          assert.ok(e instanceof ImprintError);
          assert.equal(e.code, 'ERR_PKCS11_LOGIN_FAILED');
          assert.ok(!JSON.stringify(e.toJSON()).includes(badPin));
          assert.ok(!e.message.includes(badPin) && !String(e.stack).includes(badPin));
          return true;
        },
      );
    }
    await env.reopen();
  });

  void it('an unknown token label or module fails with a specific code', () => {
    const base = { pin: token.pin, db: env.store.db, clock };
    assert.throws(
      () => new Pkcs11KeyStore({ ...base, module: token.module, tokenLabel: 'no-such-token' }),
      (e: Error & { code?: string }) => e.code === 'ERR_PKCS11_TOKEN_NOT_FOUND',
    );
    assert.throws(
      () =>
        new Pkcs11KeyStore({ ...base, module: '/nonexistent/libpkcs11.so', tokenLabel: token.tokenLabel }),
      (e: Error & { code?: string }) => e.code === 'ERR_PKCS11_MODULE_LOAD_FAILED',
    );
  });

  void it('openKeyStore takes the PIN from IMPRINT_PKCS11_PIN', async () => {
    const config = { backend: 'pkcs11', module: token.module, tokenLabel: token.tokenLabel } as const;
    await rejectsWith(openKeyStore(config, env.store.db, clock, {}), 'ERR_PKCS11_PIN_MISSING');
    const keys = await openKeyStore(config, env.store.db, clock, { IMPRINT_PKCS11_PIN: token.pin });
    assert.equal(keys.backend, 'pkcs11');
    assert.ok((await keys.findByLabel('hsm-ec')) !== undefined);
    await keys.close();
    // The other store on the same token is still logged in and working.
    const ec = await env.keys.findByLabel('hsm-ec');
    assert.equal((await env.keys.sign(ec!.id, new Uint8Array([1]), { ecdsaFormat: 'raw' })).length, 64);
  });

  void it('a closed store refuses to sign', async () => {
    const ec = await env.keys.findByLabel('hsm-ec');
    await env.keys.close();
    await rejectsWith(env.keys.sign(ec!.id, new Uint8Array([1])), 'ERR_PKCS11_CLOSED');
    await env.reopen();
  });
});
