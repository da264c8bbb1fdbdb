import assert from 'node:assert/strict';
import { createHash, createPublicKey, constants, verify, type KeyObject } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import type { Store } from '../../src/store/database.ts';
import {
  KEY_ALGORITHMS,
  type HashAlgorithm,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyStore,
} from '../../src/keys/types.ts';

/** A key store under test plus the database it records keys in. */
export interface ContractEnv {
  /** The current key store; `reopen` replaces it. */
  readonly keys: KeyStore;
  /** The current database; `reopen` replaces it. */
  readonly store: Store;
  /** Closes the key store and the database, then opens new instances over the same data. */
  reopen(): Promise<void>;
  /** Closes everything and removes temp dirs. */
  close(): Promise<void>;
}

const MESSAGE = new TextEncoder().encode('imprint contract message');

/** Asserts that `promise` rejects with an ImprintError carrying `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(hasCode(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

function publicKey(info: KeyInfo): KeyObject {
  return createPublicKey({ key: Buffer.from(info.publicKeyDer), format: 'der', type: 'spki' });
}

function digestOf(hash: HashAlgorithm, data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(hash).update(data).digest());
}

async function rowCount(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The shared KeyStore contract: the same tests for every backend, run against `setup()`. */
export function keyStoreContract(name: string, setup: () => Promise<ContractEnv>): void {
  void describe(`KeyStore contract: ${name}`, () => {
    let env: ContractEnv;
    const keys = new Map<KeyAlgorithm, KeyInfo>();
    const key = (a: KeyAlgorithm): KeyInfo => keys.get(a)!;

    before(async () => {
      env = await setup();
      // RSA-4096 generation is slow: every key is generated once and shared by the tests below.
      for (const a of KEY_ALGORITHMS) keys.set(a, await env.keys.generate(`contract-${a}`, a));
    });
    after(async () => {
      await env?.close();
    });

    void it('generates every algorithm with a matching SPKI', () => {
      for (const a of KEY_ALGORITHMS) {
        const info = key(a);
        assert.equal(info.algorithm, a);
        assert.equal(info.backend, env.keys.backend);
        assert.equal(info.label, `contract-${a}`);
        const pub = publicKey(info);
        const details = pub.asymmetricKeyDetails ?? {};
        if (a === 'ed25519') assert.equal(pub.asymmetricKeyType, 'ed25519');
        else if (a.startsWith('ecdsa')) {
          assert.equal(pub.asymmetricKeyType, 'ec');
          assert.equal(details.namedCurve, a === 'ecdsa-p256' ? 'prime256v1' : 'secp384r1');
        } else {
          assert.equal(pub.asymmetricKeyType, 'rsa');
          assert.equal(details.modulusLength, a === 'rsa-3072' ? 3072 : 4096);
          assert.equal(details.publicExponent, 65537n);
        }
      }
    });

    void it('ECDSA signatures verify from the SPKI alone, DER and raw, with any hash', async () => {
      for (const a of ['ecdsa-p256', 'ecdsa-p384'] as const) {
        const pub = publicKey(key(a));
        const defaultHash = a === 'ecdsa-p256' ? 'sha256' : 'sha384';
        const der = await env.keys.sign(key(a).id, MESSAGE);
        assert.equal(der[0], 0x30);
        assert.ok(verify(defaultHash, MESSAGE, pub, der));
        for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
          const raw = await env.keys.sign(key(a).id, MESSAGE, { hash, ecdsaFormat: 'raw' });
          assert.equal(raw.length, a === 'ecdsa-p256' ? 64 : 96);
          assert.ok(verify(hash, MESSAGE, { key: pub, dsaEncoding: 'ieee-p1363' }, raw), `${a} ${hash} raw`);
        }
        assert.equal(verify(defaultHash, new TextEncoder().encode('other'), pub, der), false);
      }
    });

    void it('RSA signatures verify with PKCS#1 v1.5 and PSS', async () => {
      for (const a of ['rsa-3072', 'rsa-4096'] as const) {
        const pub = publicKey(key(a));
        const pkcs1 = await env.keys.sign(key(a).id, MESSAGE);
        assert.equal(pkcs1.length, a === 'rsa-3072' ? 384 : 512);
        assert.ok(verify('sha256', MESSAGE, pub, pkcs1));
        for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
          const pss = await env.keys.sign(key(a).id, MESSAGE, { hash, rsaPadding: 'pss' });
          const saltLength = hash === 'sha256' ? 32 : hash === 'sha384' ? 48 : 64;
          const opts = { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength };
          assert.ok(verify(hash, MESSAGE, opts, pss), `${a} pss ${hash}`);
        }
        const salted = await env.keys.sign(key(a).id, MESSAGE, { rsaPadding: 'pss', pssSaltLength: 20 });
        const opts = { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 };
        assert.ok(verify('sha256', MESSAGE, opts, salted));
      }
    });

    void it('Ed25519 signs the message itself', async () => {
      const sig = await env.keys.sign(key('ed25519').id, MESSAGE);
      assert.equal(sig.length, 64);
      assert.ok(verify(null, MESSAGE, publicKey(key('ed25519')), sig));
    });

    void it('signDigest produces a valid signature of the message', async () => {
      for (const a of ['ecdsa-p256', 'ecdsa-p384'] as const) {
        const pub = publicKey(key(a));
        for (const hash of ['sha256', 'sha384'] as const) {
          const der = await env.keys.signDigest(key(a).id, digestOf(hash, MESSAGE), { hash });
          assert.ok(verify(hash, MESSAGE, pub, der), `${a} ${hash} der`);
          const raw = await env.keys.signDigest(key(a).id, digestOf(hash, MESSAGE), {
            hash,
            ecdsaFormat: 'raw',
          });
          assert.ok(verify(hash, MESSAGE, { key: pub, dsaEncoding: 'ieee-p1363' }, raw), `${a} ${hash} raw`);
        }
      }
      for (const a of ['rsa-3072', 'rsa-4096'] as const) {
        const pub = publicKey(key(a));
        const pkcs1 = await env.keys.signDigest(key(a).id, digestOf('sha384', MESSAGE), { hash: 'sha384' });
        assert.ok(verify('sha384', MESSAGE, pub, pkcs1));
        // PKCS#1 v1.5 is deterministic: the digest path gives exactly the message path's signature.
        assert.deepEqual(pkcs1, await env.keys.sign(key(a).id, MESSAGE, { hash: 'sha384' }));
        const pss = await env.keys.signDigest(key(a).id, digestOf('sha256', MESSAGE), {
          hash: 'sha256',
          rsaPadding: 'pss',
        });
        assert.ok(
          verify(
            'sha256',
            MESSAGE,
            { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
            pss,
          ),
        );
      }
    });

    void it('signDigest refuses Ed25519 and wrong-length digests', async () => {
      await rejectsWith(
        env.keys.signDigest(key('ed25519').id, digestOf('sha256', MESSAGE), { hash: 'sha256' }),
        'ERR_KEY_UNSUPPORTED_OPERATION',
      );
      await rejectsWith(
        env.keys.signDigest(key('ecdsa-p256').id, digestOf('sha256', MESSAGE), { hash: 'sha384' }),
        'ERR_KEY_BAD_DIGEST',
      );
      await rejectsWith(
        env.keys.signDigest(key('rsa-3072').id, new Uint8Array(31), { hash: 'sha256' }),
        'ERR_KEY_BAD_DIGEST',
      );
    });

    void it('concurrent signatures on one store all verify', async () => {
      const ids = [key('ecdsa-p256'), key('ed25519'), key('rsa-3072')];
      const sigs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => env.keys.sign(ids[i % 3]!.id, MESSAGE)),
      );
      sigs.forEach((sig, i) => {
        const info = ids[i % 3]!;
        const hash = info.algorithm === 'ed25519' ? null : 'sha256';
        assert.ok(verify(hash, MESSAGE, publicKey(info), sig), `signature ${i}`);
      });
    });

    void it('refuses a taken label and an unknown algorithm without writing anything', async () => {
      const before = await rowCount(env.store);
      await rejectsWith(env.keys.generate('contract-ecdsa-p256', 'ed25519'), 'ERR_KEY_LABEL_TAKEN');
      await rejectsWith(
        env.keys.generate('contract-new', 'dsa-1024' as KeyAlgorithm),
        'ERR_KEY_ALGORITHM_UNSUPPORTED',
      );
      assert.equal(await rowCount(env.store), before);
      assert.equal(await env.keys.findByLabel('contract-new'), undefined);
    });

    void it('racing generates of one label: one key, the rest ERR_KEY_LABEL_TAKEN', async () => {
      const before = await rowCount(env.store);
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, () => env.keys.generate('contract-race', 'ecdsa-p256')),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(hasCode(r.reason, 'ERR_KEY_LABEL_TAKEN'), String(r.reason));
      }
      assert.equal(await rowCount(env.store), before + 1);
      assert.equal((await env.keys.findByLabel('contract-race'))?.id, won[0]!.value.id);
    });

    void it('reports unknown keys as not found', async () => {
      await rejectsWith(env.keys.get('key_doesnotexist'), 'ERR_KEY_NOT_FOUND');
      await rejectsWith(env.keys.sign('key_doesnotexist', MESSAGE), 'ERR_KEY_NOT_FOUND');
      await rejectsWith(
        env.keys.signDigest('key_doesnotexist', new Uint8Array(32), { hash: 'sha256' }),
        'ERR_KEY_NOT_FOUND',
      );
      await rejectsWith(env.keys.destroy('key_doesnotexist'), 'ERR_KEY_NOT_FOUND');
      assert.equal(await env.keys.findByLabel('no-such-label'), undefined);
    });

    void it('finds keys by id and label and lists them oldest first', async () => {
      const p256 = key('ecdsa-p256');
      assert.deepEqual(await env.keys.get(p256.id), p256);
      assert.deepEqual(await env.keys.findByLabel(p256.label), p256);
      const listed = (await env.keys.list()).map((k) => k.id);
      for (const a of KEY_ALGORITHMS) assert.ok(listed.includes(key(a).id));
    });

    void it('destroys a key: unusable, unlisted, the public record kept', async () => {
      const doomed = await env.keys.generate('contract-doomed', 'ecdsa-p256');
      assert.ok(verify('sha256', MESSAGE, publicKey(doomed), await env.keys.sign(doomed.id, MESSAGE)));
      await env.keys.destroy(doomed.id);
      await rejectsWith(env.keys.get(doomed.id), 'ERR_KEY_NOT_FOUND');
      await rejectsWith(env.keys.sign(doomed.id, MESSAGE), 'ERR_KEY_NOT_FOUND');
      await rejectsWith(env.keys.destroy(doomed.id), 'ERR_KEY_NOT_FOUND');
      assert.equal(await env.keys.findByLabel('contract-doomed'), undefined);
      assert.ok(!(await env.keys.list()).some((k) => k.id === doomed.id));
      const row = await env.store.db
        .selectFrom('keys')
        .selectAll()
        .where('id', '=', doomed.id)
        .executeTakeFirstOrThrow();
      assert.notEqual(row.destroyed_at, null);
      assert.deepEqual(new Uint8Array(row.public_key), doomed.publicKeyDer);
    });

    void it('keys survive closing and reopening the store', async () => {
      await env.reopen();
      for (const a of KEY_ALGORITHMS) {
        const info = await env.keys.get(key(a).id);
        assert.deepEqual(info, key(a));
        const sig = await env.keys.sign(info.id, MESSAGE);
        const hash = a === 'ed25519' ? null : a === 'ecdsa-p384' ? 'sha384' : 'sha256';
        assert.ok(verify(hash, MESSAGE, publicKey(info), sig), `${a} after reopen`);
      }
    });
  });
}
