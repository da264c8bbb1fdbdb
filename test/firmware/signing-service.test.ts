import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../src/core/errors.ts';
import { Pkcs11KeyStore } from '../../src/keys/pkcs11.ts';
import type { KeyAlgorithm } from '../../src/keys/types.ts';
import { mcubootKey } from '../../src/firmware/mcuboot/keys.ts';
import { verifyImage } from '../../src/firmware/mcuboot/verify.ts';
import { SigningService } from '../../src/firmware/signing-service.ts';
import { TufRepository } from '../../src/firmware/tuf/repository.ts';
import { MemoryMetadataStore, UpdateClient } from '../../src/firmware/update-client.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { createSoftHsmToken, type SoftHsmToken } from '../helpers/softhsm.ts';
import { firmwareBytes } from './helpers.ts';

const token: SoftHsmToken = createSoftHsmToken();
after(() => token.cleanup());

const payload = firmwareBytes(5000, 7);
const params = { version: '1.2.3+4', securityCounter: 7, headerSize: 0x200, classId: 'cc'.repeat(16) };

async function auditActions(
  core: TestCore,
): Promise<{ action: string; actor: string; details: Record<string, unknown> }[]> {
  const rows = await core.store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
  return rows.map((r) => ({
    action: r.action,
    actor: r.actor,
    details: JSON.parse(r.details) as Record<string, unknown>,
  }));
}

for (const backend of ['software', 'softhsm'] as const) {
  describe(`firmware signing service (${backend})`, () => {
    let core: TestCore;
    let svc: SigningService;
    let tenantId: string;
    before(async () => {
      core = await createTestCore(
        backend === 'softhsm'
          ? {
              keys: (store, clock) =>
                new Pkcs11KeyStore({
                  module: token.module,
                  tokenLabel: token.tokenLabel,
                  pin: token.pin,
                  db: store.db,
                  clock,
                }),
            }
          : {},
      );
      tenantId = (await seedManufacturer(core)).tenant.id;
      svc = new SigningService(core);
    });
    after(() => core.close());

    it('signs TUF metadata with key-store keys that the update client accepts', async () => {
      const by = { actor: 'token:rm1', tenantId };
      const model = await core.registry.createModel({ actor: 'test' }, tenantId, `tuf-${backend}`);
      const { keyId } = await svc.createKey(by, `fw-tuf-${backend}`, 'ed25519');
      const req = await svc.requestSignature(by, keyId, payload, params);
      const tuf = new TufRepository(core);
      await tuf.init(by);
      await tuf.addTarget(by, req.imageDigest!, model);
      await tuf.rotateKey(by, 'targets');
      const client = new UpdateClient({
        fetcher: async (url) => {
          try {
            return new TextEncoder().encode(
              await tuf.metadata(tenantId, url.slice(url.lastIndexOf('/') + 1)),
            );
          } catch {
            return undefined;
          }
        },
        store: new MemoryMetadataStore(new TextEncoder().encode(await tuf.metadata(tenantId, '1.root.json'))),
        metadataBaseUrl: 'http://x/tuf',
        targetBaseUrl: 'http://x/tuf/targets',
        clock: core.clock,
      });
      const targets = await client.refresh(model.id);
      assert.equal(targets[0]?.info.custom?.version, '1.2.3+4');
    });

    for (const alg of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-3072'] as KeyAlgorithm[]) {
      it(`signs with a ${alg} key in the key store and audits it`, async () => {
        const by = { actor: 'token:rm1', tenantId };
        const { keyId, keyHash } = await svc.createKey(by, `fw-${alg}-${backend}`, alg);
        const req = await svc.requestSignature(by, keyId, payload, params);
        assert.equal(req.state, 'signed');
        const image = await svc.imageBytes(tenantId, req.imageDigest!);
        const info = await core.keys.get(keyId);
        const v = verifyImage(image, { keys: [mcubootKey(info.publicKeyDer)] });
        assert.equal(v.facts.securityCounter, 7);
        assert.deepEqual(Buffer.from(v.payload), Buffer.from(payload));
        const signed = (await auditActions(core)).filter((e) => e.action === 'firmware.signed').at(-1)!;
        assert.equal(signed.actor, 'token:rm1');
        assert.equal(signed.details.keyId, keyId);
        assert.equal(signed.details.keyHash, keyHash);
        assert.equal(signed.details.imageHash, req.digest);
        assert.equal(signed.details.version, '1.2.3+4');
        assert.equal(signed.details.securityCounter, 7);
      });
    }
  });
}

describe('k-of-n approvals and bad input', () => {
  let core: TestCore;
  let svc: SigningService;
  let tenantId: string;
  before(async () => {
    core = await createTestCore();
    tenantId = (await seedManufacturer(core)).tenant.id;
    svc = new SigningService(core);
  });
  after(() => core.close());

  it('waits for two approvals by other release managers before the key signs', async () => {
    const alice = { actor: 'token:alice', tenantId };
    const { keyId } = await svc.createKey(alice, 'release-2of3', 'ecdsa-p256', 2);
    let req = await svc.requestSignature(alice, keyId, payload, params);
    assert.equal(req.state, 'pending');
    await assert.rejects(svc.approve(alice, req.id), (e) => hasCode(e, 'ERR_FIRMWARE_SELF_APPROVAL'));
    req = await svc.approve({ actor: 'token:bob', tenantId }, req.id);
    assert.equal(req.state, 'pending');
    await assert.rejects(svc.approve({ actor: 'token:bob', tenantId }, req.id), (e) =>
      hasCode(e, 'ERR_FIRMWARE_ALREADY_APPROVED'),
    );
    assert.equal(
      await core.store.db
        .selectFrom('firmware_images')
        .select('digest')
        .execute()
        .then((r) => r.length),
      0,
    );
    req = await svc.approve({ actor: 'token:carol', tenantId }, req.id);
    assert.equal(req.state, 'signed');
    assert.deepEqual(req.approvals, ['token:bob', 'token:carol']);
    await assert.rejects(svc.approve({ actor: 'token:dave', tenantId }, req.id), (e) =>
      hasCode(e, 'ERR_FIRMWARE_ALREADY_SIGNED'),
    );
  });

  it('refuses unknown keys, other tenants keys, bad versions and RSA-4096 without writing anything', async () => {
    const by = { actor: 'token:alice', tenantId };
    const { keyId } = await svc.createKey(by, 'release-plain', 'ed25519');
    const before = await core.store.db.selectFrom('audit_entries').select('seq').execute();
    const reqs = await core.store.db.selectFrom('firmware_signing_requests').select('id').execute();
    await assert.rejects(svc.requestSignature(by, 'key_nope', payload, params), (e) =>
      hasCode(e, 'ERR_FIRMWARE_KEY_NOT_FOUND'),
    );
    await assert.rejects(
      svc.requestSignature({ actor: 'x', tenantId: 'ten_other' }, keyId, payload, params),
      (e) => hasCode(e, 'ERR_FIRMWARE_KEY_NOT_FOUND'),
    );
    await assert.rejects(svc.requestSignature(by, keyId, payload, { ...params, version: '1.x' }), (e) =>
      hasCode(e, 'ERR_FIRMWARE_BAD_VERSION'),
    );
    await assert.rejects(svc.requestSignature(by, keyId, payload, { ...params, classId: 'abc' }), (e) =>
      hasCode(e, 'ERR_FIRMWARE_BAD_IMAGE_SPEC'),
    );
    await assert.rejects(svc.requestSignature(by, keyId, new Uint8Array(0), params), (e) =>
      hasCode(e, 'ERR_FIRMWARE_TOO_LARGE'),
    );
    await assert.rejects(svc.createKey(by, 'big-rsa', 'rsa-4096'), (e) =>
      hasCode(e, 'ERR_FIRMWARE_KEY_UNSUPPORTED'),
    );
    assert.equal(
      (await core.store.db.selectFrom('audit_entries').select('seq').execute()).length,
      before.length,
    );
    assert.equal(
      (await core.store.db.selectFrom('firmware_signing_requests').select('id').execute()).length,
      reqs.length,
    );
  });
});
