import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCode } from '../../src/core/errors.ts';
import { seal } from '../../src/firmware/tuf/build.ts';
import type { Envelope, TimestampSigned } from '../../src/firmware/tuf/types.ts';
import {
  MemoryMetadataStore,
  UpdateClient,
  type TrustedMetadataStore,
} from '../../src/firmware/update-client.ts';
import { firmwareBytes } from './helpers.ts';
import { firmwareServer, injectFetcher, type FirmwareServer } from './server.ts';

type Override = (
  path: string,
  real: () => Promise<Uint8Array | undefined>,
) => Promise<Uint8Array | undefined>;
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('device update client refuses attacks', () => {
  let s: FirmwareServer;
  let by: { actor: string; tenantId: string };
  let store: TrustedMetadataStore;
  let path: string;
  const base = () => `http://imprint.test/tuf/${s.tenantId}`;
  const client = (override?: Override, st: TrustedMetadataStore = store) =>
    new UpdateClient({
      fetcher: injectFetcher(s.app, override),
      store: st,
      metadataBaseUrl: base(),
      targetBaseUrl: `${base()}/targets`,
      clock: s.core.clock,
    });
  // Roles verified before the attacked one are legitimately updated (TUF §5); the attacked ones must not be.
  const refuses = async (
    override: Override,
    code: string,
    roles = ['root', 'timestamp', 'snapshot', 'targets'],
  ) => {
    const trusted = roles.map((r) => store.load(r));
    await assert.rejects(client(override).refresh(s.model.id), (e) => hasCode(e, code));
    assert.deepEqual(
      roles.map((r) => store.load(r)),
      trusted,
      'trusted metadata unchanged',
    );
  };
  const latest = async (role: string) =>
    JSON.parse(await s.tuf.metadata(s.tenantId, `${role}.json`)) as Envelope<{ version: number }>;

  before(async () => {
    s = await firmwareServer();
    by = { actor: 'token:rm', tenantId: s.tenantId };
    const { keyId } = await s.signing.createKey(by, 'release', 'ecdsa-p256');
    const req = await s.signing.requestSignature(by, keyId, firmwareBytes(4000), {
      version: '2.0.0',
      securityCounter: 9,
    });
    await s.tuf.init(by, { rootKeys: 2, rootThreshold: 2 });
    path = await s.tuf.addTarget(by, req.imageDigest!, s.model);
    store = new MemoryMetadataStore(enc(await s.tuf.metadata(s.tenantId, '1.root.json')));
    const targets = await client().refresh(s.model.id);
    assert.equal(targets.length, 1);
  });
  after(() => s.close());

  it('downloads a good target and refuses oversize or wrong-hash bytes', async () => {
    const [t] = await client().refresh(s.model.id);
    assert.equal((await client().download(t!)).length, t!.info.length);
    const pad: Override = async (p, real) =>
      p.includes('/targets/') ? Uint8Array.from([...(await real())!, 0]) : real();
    await assert.rejects(client(pad).download(t!), (e) => hasCode(e, 'ERR_TUF_TARGET_TOO_LARGE'));
    const flip: Override = async (p, real) => {
      const b = await real();
      if (p.includes('/targets/') && b !== undefined) b[100] = (b[100] ?? 0) ^ 1;
      return b;
    };
    await assert.rejects(client(flip).download(t!), (e) => hasCode(e, 'ERR_TUF_TARGET_HASH_MISMATCH'));
    assert.ok(path.startsWith(`${s.model.id}/`));
  });

  it('refuses a rolled-back timestamp', async () => {
    await s.tuf.refresh(by);
    await client().refresh(s.model.id);
    const v = (await latest('timestamp')).signed.version;
    const old = enc(await s.tuf.metadata(s.tenantId, `${v - 1}.timestamp.json`));
    await refuses(async (p, real) => (p.endsWith('/timestamp.json') ? old : real()), 'ERR_TUF_ROLLBACK');
  });

  it('refuses frozen (expired) metadata', async () => {
    s.core.clock.advance(2 * 86_400_000);
    await refuses(async (_p, real) => real(), 'ERR_TUF_EXPIRED');
    await s.tuf.refresh(by); // the repository re-signs timestamp and snapshot; the device catches up
    await client().refresh(s.model.id);
  });

  it('refuses a snapshot or targets that does not match what its parent names (mix-and-match)', async () => {
    const snap1 = enc(await s.tuf.metadata(s.tenantId, '1.snapshot.json'));
    await refuses(
      async (p, real) => (/\/\d+\.snapshot\.json$/.test(p) ? snap1 : real()),
      'ERR_TUF_MIX_AND_MATCH',
    );
    const t1 = enc(await s.tuf.metadata(s.tenantId, `model-${s.model.id}.json`));
    await s.tuf.addTarget(
      by,
      (
        await s.signing.requestSignature(
          by,
          (await s.core.keys.findByLabel('release'))!.id,
          firmwareBytes(10),
          { version: '2.1.0', securityCounter: 9 },
        )
      ).imageDigest!,
      s.model,
    );
    await refuses(async (p, real) => (p.includes('.model-') ? t1 : real()), 'ERR_TUF_MIX_AND_MATCH', [
      `model-${s.model.id}`,
    ]);
  });

  it('refuses metadata with too few signatures, and a root below its threshold', async () => {
    const strip: Override = async (p, real) => {
      if (!p.endsWith('/timestamp.json')) return real();
      const e = JSON.parse(dec((await real())!)) as Envelope<unknown>;
      return enc(JSON.stringify({ ...e, signatures: [] }));
    };
    await refuses(strip, 'ERR_TUF_THRESHOLD_NOT_MET');
    // A forged root 2 carrying only one of the two root signatures the trusted root requires.
    const root1 = JSON.parse(await s.tuf.metadata(s.tenantId, '1.root.json')) as Envelope<{
      version: number;
    }>;
    const rootKeyIds = (
      await s.core.store.db.selectFrom('tuf_keys').select('key_id').where('role', '=', 'root').execute()
    ).map((r) => r.key_id);
    const forged = await seal(s.core.keys, [rootKeyIds[0]!], { ...root1.signed, version: 2 });
    await refuses(
      async (p, real) => (p.endsWith('/2.root.json') ? enc(forged.body) : real()),
      'ERR_TUF_THRESHOLD_NOT_MET',
    );
  });

  it('refuses a timestamp signed by a revoked key after rotation', async () => {
    const oldTs = (
      await s.core.store.db.selectFrom('tuf_keys').select('key_id').where('role', '=', 'timestamp').execute()
    ).map((r) => r.key_id);
    await s.tuf.rotateKey(by, 'timestamp');
    await client().refresh(s.model.id);
    const current = (await latest('timestamp')) as Envelope<TimestampSigned>;
    const forged = await seal(s.core.keys, oldTs, { ...current.signed, version: current.signed.version + 1 });
    await refuses(
      async (p, real) => (p.endsWith('/timestamp.json') ? enc(forged.body) : real()),
      'ERR_TUF_UNAUTHORISED_KEY',
    );
  });

  it('refuses to start without a trusted root', async () => {
    await assert.rejects(client(undefined, new MemoryMetadataStore()).refresh(s.model.id), (e) =>
      hasCode(e, 'ERR_TUF_NO_TRUSTED_ROOT'),
    );
  });
});
