import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPublicKey, verify } from 'node:crypto';
import { hasCode } from '../../src/core/errors.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';

describe('software key store signing handle', () => {
  let core: TestCore;
  before(async () => {
    core = await createTestCore();
  });
  after(async () => {
    await core.close();
  });

  it('signs verifiable signatures off the calling thread for each algorithm', async () => {
    for (const [alg, hash] of [
      ['ecdsa-p256', 'sha256'],
      ['ecdsa-p384', 'sha384'],
      ['ed25519', null],
      ['rsa-3072', 'sha256'],
    ] as const) {
      const info = await core.keys.generate(`handle-${alg}`, alg);
      const handle = await core.keys.signingHandle!(info.id);
      assert.equal(handle.algorithm, alg);
      const data = new TextEncoder().encode(`data for ${alg}`);
      const sig = await handle.sign(data);
      const pub = createPublicKey({ key: Buffer.from(info.publicKeyDer), format: 'der', type: 'spki' });
      assert.ok(verify(hash, data, pub, sig), alg);
    }
  });

  it('refuses once the key is destroyed', async () => {
    const info = await core.keys.generate('handle-destroyed', 'ecdsa-p256');
    const handle = await core.keys.signingHandle!(info.id);
    await handle.sign(Uint8Array.of(1));
    await core.keys.destroy(info.id);
    await assert.rejects(handle.sign(Uint8Array.of(1)), (e) => hasCode(e, 'ERR_KEY_NOT_FOUND'));
    await assert.rejects(core.keys.signingHandle!(info.id), (e) => hasCode(e, 'ERR_KEY_NOT_FOUND'));
  });
});
