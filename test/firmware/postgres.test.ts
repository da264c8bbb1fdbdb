import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ReleaseService } from '../../src/firmware/releases.ts';
import { SigningService } from '../../src/firmware/signing-service.ts';
import { TufRepository } from '../../src/firmware/tuf/repository.ts';
import { MemoryMetadataStore, UpdateClient } from '../../src/firmware/update-client.ts';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { firmwareBytes } from './helpers.ts';

describe('firmware on PostgreSQL', () => {
  let pg: PostgresServer;
  let core: TestCore;
  before(async () => {
    pg = await startPostgres('imprint_firmware');
    core = await createTestCore({ location: { kind: 'postgres', url: pg.url } });
  });
  after(async () => {
    await core?.close();
    await pg?.stop();
  });

  it('signs with approval, publishes through TUF, rotates, and stages a release', async () => {
    const { tenant, model } = await seedManufacturer(core);
    const by = { actor: 'token:a', tenantId: tenant.id };
    const signing = new SigningService(core);
    const { keyId } = await signing.createKey(by, 'pg-release', 'ecdsa-p256', 1);
    let req = await signing.requestSignature(by, keyId, firmwareBytes(5000), {
      version: '1.0.0',
      securityCounter: 2,
    });
    req = await signing.approve({ actor: 'token:b', tenantId: tenant.id }, req.id);
    assert.equal(req.state, 'signed');
    const tuf = new TufRepository(core);
    await tuf.init(by);
    const path = await tuf.addTarget(by, req.imageDigest!, model);
    await tuf.rotateKey(by, 'snapshot');
    const client = new UpdateClient({
      fetcher: async (url) => {
        const name = url.slice(url.lastIndexOf('/') + 1);
        try {
          return url.includes('/targets/')
            ? await tuf.target(tenant.id, url.slice(url.indexOf('/targets/') + 9))
            : new TextEncoder().encode(await tuf.metadata(tenant.id, name));
        } catch {
          return undefined;
        }
      },
      store: new MemoryMetadataStore(new TextEncoder().encode(await tuf.metadata(tenant.id, '1.root.json'))),
      metadataBaseUrl: 'http://x/tuf',
      targetBaseUrl: 'http://x/tuf/targets',
      clock: core.clock,
    });
    const [t] = await client.refresh(model.id);
    assert.equal(t?.path, path);
    assert.equal((await client.download(t)).length, t.info.length);
    const releases = new ReleaseService(core);
    const rel = await releases.create(by, req.imageDigest!, [model.id]);
    await releases.stage(by, rel.id, { stage: 'percentage', percent: 10 });
    assert.equal((await releases.progress(tenant.id, rel.id)).release.stage, 'percentage');
  });
});
