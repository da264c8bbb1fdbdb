import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportAudit } from '../../src/audit/export.ts';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { subtreeHash } from '../../src/audit/proof.ts';
import { AuditService } from '../../src/audit/service.ts';
import { verifyExport } from '../../src/audit/verify.ts';
import { toPem } from '../../src/core/encoding.ts';
import { SoftwareKeyStore } from '../../src/keys/software.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';

describe('audit log on PostgreSQL shared by two server processes', () => {
  let pg: PostgresServer;
  let core: TestCore;
  let second: Store;
  before(async () => {
    pg = await startPostgres('imprint_audit');
    core = await createTestCore({ location: { kind: 'postgres', url: pg.url } });
    second = await openStore({ kind: 'postgres', url: pg.url });
  });
  after(async () => {
    await second?.close();
    await core?.close();
    await pg?.stop();
  });

  it('orders concurrent appends from both pools into one contiguous log, and signs each size once', async () => {
    const logB = new StoreAuditLog('postgres', core.clock);
    const keysB = new SoftwareKeyStore(second.db, new Uint8Array(32).fill(0x42), core.clock);
    const serviceA = new AuditService({
      store: core.store,
      keys: core.keys,
      log: core.audit,
      clock: core.clock,
    });
    const serviceB = new AuditService({ store: second, keys: keysB, log: logB, clock: core.clock });
    await serviceA.key();
    const ev = (who: string, i: number) => ({
      actor: who,
      action: 'load.test',
      subject: `${who}-${i}`,
      details: { i },
    });
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 12; i++) {
      work.push(
        core.store.transaction((tx) =>
          core.audit.appendMany(
            tx,
            Array.from({ length: 40 }, (_, k) => ev('a', i * 40 + k)),
          ),
        ),
      );
      work.push(
        second.transaction((tx) =>
          logB.appendMany(
            tx,
            Array.from({ length: 40 }, (_, k) => ev('b', i * 40 + k)),
          ),
        ),
      );
      work.push(second.transaction((tx) => logB.append(tx, ev('c', i))));
    }
    await Promise.all(work);
    const rows = await core.store.db
      .selectFrom('audit_entries')
      .select(['seq', 'leaf_hash'])
      .orderBy('seq')
      .execute();
    assert.equal(rows.length, 12 * 81);
    assert.deepEqual(
      rows.map((r) => r.seq),
      rows.map((_, i) => i),
    );
    const [h1, h2] = await Promise.all([serviceA.signTreeHead(), serviceB.signTreeHead()]);
    assert.ok(h1 !== undefined || h2 !== undefined);
    const heads = await serviceA.treeHeads();
    assert.deepEqual(
      heads.map((h) => h.treeSize),
      [rows.length],
    );
    const leaves = rows.map((r) => new Uint8Array(r.leaf_hash));
    assert.deepEqual(heads[0]?.rootHash, subtreeHash(leaves, 0, leaves.length));

    const report = verifyExport(
      await exportAudit(second.db, keysB),
      toPem('PUBLIC KEY', (await serviceB.key()).publicKeyDer),
      {
        entrySeq: 500,
      },
    );
    assert.deepEqual(report.problems, []);
    assert.equal(report.inclusion?.verified, true);
    await keysB.close();
  });
});
