import assert from 'node:assert/strict';
import { createDecipheriv, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { createKekFile, loadKek } from '../../src/keys/kek.ts';
import { openKeyStore } from '../../src/keys/open.ts';
import { SoftwareKeyStore } from '../../src/keys/software.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { keyStoreContract, rejectsWith, type ContractEnv } from './contract.ts';

const clock = new ManualClock();

async function softwareEnv(): Promise<ContractEnv & { dir: string; kekFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-keys-'));
  const kekFile = join(dir, 'kek');
  createKekFile(kekFile);
  const dbPath = join(dir, 'imprint.db');
  let store: Store = await openStore({ kind: 'sqlite', path: dbPath });
  let keys = await openKeyStore({ backend: 'software', kekFile }, store.db, clock, {});
  return {
    dir,
    kekFile,
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
      keys = new SoftwareKeyStore(store.db, loadKek(kekFile, {}), clock);
    },
    async close() {
      await keys.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

keyStoreContract('software', softwareEnv);

void describe('software key store specifics', () => {
  let env: Awaited<ReturnType<typeof softwareEnv>>;
  before(async () => {
    env = await softwareEnv();
  });
  after(async () => {
    await env.close();
  });

  void it('stores the private key sealed under the KEK, never as PKCS#8 plaintext', async () => {
    const info = await env.keys.generate('sealed', 'ecdsa-p256');
    const row = await env.store.db
      .selectFrom('keys')
      .selectAll()
      .where('id', '=', info.id)
      .executeTakeFirstOrThrow();
    const sealed = Buffer.from(row.wrapped_private!);
    assert.equal(row.backend, 'software');
    assert.equal(row.pkcs11_id, null);
    assert.throws(() => createPrivateKey({ key: sealed, format: 'der', type: 'pkcs8' }));
    // Decrypting with the KEK by hand yields the PKCS#8 that matches the public key...
    const kek = loadKek(env.kekFile, {});
    const d = createDecipheriv('aes-256-gcm', kek, sealed.subarray(0, 12));
    d.setAAD(Buffer.from(`imprint-key:${info.id}:${info.label}`));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    const pkcs8 = Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
    const priv = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
    assert.deepEqual(new Uint8Array(spki), info.publicKeyDer);
    // ...and that plaintext appears nowhere in the stored row.
    assert.equal(sealed.indexOf(pkcs8.subarray(pkcs8.length - 32)), -1);
  });

  void it('a wrong KEK cannot unwrap keys', async () => {
    const info = await env.keys.generate('wrong-kek', 'ed25519');
    const other = new SoftwareKeyStore(env.store.db, new Uint8Array(32).fill(7), clock);
    await rejectsWith(other.sign(info.id, new Uint8Array([1, 2, 3])), 'ERR_KEY_UNWRAP_FAILED');
    await other.close();
  });

  void it('a KEK file readable by others is refused; a 0600 one or IMPRINT_KEK is accepted', async () => {
    assert.equal(statSync(env.kekFile).mode & 0o777, 0o600);
    assert.equal(loadKek(env.kekFile, {}).length, 32);
    const loose = join(env.dir, 'loose-kek');
    createKekFile(loose);
    chmodSync(loose, 0o644);
    assert.throws(
      () => loadKek(loose, {}),
      (e: Error & { code?: string }) => e.code === 'ERR_KEK_FILE_MODE',
    );
    await rejectsWith(
      openKeyStore({ backend: 'software', kekFile: loose }, env.store.db, clock, {}),
      'ERR_KEK_FILE_MODE',
    );
    const fromEnv = loadKek(join(env.dir, 'absent'), { IMPRINT_KEK: Buffer.alloc(32, 9).toString('base64') });
    assert.deepEqual(fromEnv, new Uint8Array(32).fill(9));
  });

  void it('refuses missing, malformed and existing KEK files', () => {
    const code = (c: string) => (e: Error & { code?: string }) => e.code === c;
    assert.throws(() => loadKek(join(env.dir, 'absent'), {}), code('ERR_KEK_MISSING'));
    const short = join(env.dir, 'short-kek');
    writeFileSync(short, Buffer.alloc(16).toString('base64'), { mode: 0o600 });
    assert.throws(() => loadKek(short, {}), code('ERR_KEK_MALFORMED'));
    assert.throws(() => loadKek(short, { IMPRINT_KEK: 'not base64!' }), code('ERR_KEK_MALFORMED'));
    assert.throws(() => createKekFile(env.kekFile), code('ERR_KEK_EXISTS'));
    assert.throws(
      () => new SoftwareKeyStore(env.store.db, new Uint8Array(16), clock),
      code('ERR_KEK_MALFORMED'),
    );
  });
});
