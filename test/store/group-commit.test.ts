import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { auditGroupBuffer } from '../../src/audit/deferred.ts';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { frontierPush } from '../../src/audit/merkle.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { fromHex } from '../../src/core/encoding.ts';
import { ConflictError } from '../../src/core/errors.ts';
import { openStore, type StoreLocation } from '../../src/store/database.ts';
import { GroupCommit } from '../../src/store/group-commit.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';

function suite(name: string, location: () => Promise<StoreLocation>): void {
  void describe(`GroupCommit on ${name}`, () => {
    it('commits concurrent work together; a failing piece is rolled back alone, change and audit entry both', async () => {
      const store = await openStore(await location());
      const audit = new StoreAuditLog(store.dialect, new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const group = new GroupCommit(store);
      try {
        const now = '2026-01-01T00:00:00.000Z';
        const work = (i: number) =>
          group.run(async (tx) => {
            await tx
              .insertInto('tenants')
              .values({ id: `t${i}`, name: `tenant-${i}`, kind: 'owner', created_at: now })
              .execute();
            await audit.append(tx, { actor: 'test', action: 'tenant.created', subject: `t${i}` });
            if (i === 3) throw new ConflictError('ERR_TEST_REFUSED', 'refused after writing');
            return i * 10;
          });
        // Queued in one turn of the loop, so they share one transaction.
        const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(work));
        assert.deepEqual(
          results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as ConflictError).code)),
          [0, 10, 20, 'ERR_TEST_REFUSED', 40, 50],
        );
        const tenants = await store.db.selectFrom('tenants').select('id').orderBy('id').execute();
        assert.deepEqual(
          tenants.map((t) => t.id).filter((id) => /^t\d$/.test(id)),
          ['t0', 't1', 't2', 't4', 't5'],
        );
        const entries = await store.db
          .selectFrom('audit_entries')
          .select(['seq', 'subject'])
          .orderBy('seq')
          .execute();
        assert.deepEqual(
          entries.map((e) => e.subject).filter((s) => /^t\d$/.test(s)),
          ['t0', 't1', 't2', 't4', 't5'],
        );
        // The audit positions stay dense: the rolled-back entry left no gap.
        const state = await store.db.selectFrom('audit_state').select('size').executeTakeFirstOrThrow();
        assert.equal(Number(state.size), entries.length);
        assert.deepEqual(
          entries.map((e) => Number(e.seq)),
          entries.map((_, i) => i + Number(entries[0]!.seq)),
        );
        // A lone piece runs in its own transaction and reports its own error.
        await assert.rejects(
          group.run(async () => {
            throw new ConflictError('ERR_TEST_REFUSED', 'alone');
          }),
          (e) => (e as ConflictError).code === 'ERR_TEST_REFUSED',
        );
        assert.equal(await group.run(async () => 'ok'), 'ok');
      } finally {
        await store.close();
      }
    });

    it('with the audit buffer: one group writes its entries at the end, a refused piece loses its entries, seq and frontier stay right', async () => {
      const store = await openStore(await location());
      const audit = new StoreAuditLog(store.dialect, new ManualClock(new Date('2026-01-01T00:00:00Z')));
      const group = new GroupCommit(store, { buffers: [auditGroupBuffer] });
      try {
        const before = await store.db.selectFrom('audit_state').select('size').executeTakeFirstOrThrow();
        const now = '2026-01-01T00:00:00.000Z';
        const work = (i: number) =>
          group.run(async (tx) => {
            await tx
              .insertInto('tenants')
              .values({ id: `b${i}`, name: `buffered-${i}`, kind: 'owner', created_at: now })
              .execute();
            const [e] = await audit.appendMany(tx, [
              { actor: 'test', action: 'tenant.created', subject: `b${i}` },
              { actor: 'test', action: 'tenant.noted', subject: `b${i}` },
            ]);
            // An event refused by the log inside a piece that goes on changes nothing held.
            await assert.rejects(audit.append(tx, { actor: '', action: 'x', subject: 'y' }));
            if (i === 1 || i === 4) throw new ConflictError('ERR_TEST_REFUSED', 'refused after appending');
            return Number(e!.seq);
          });
        const results = await Promise.allSettled([0, 1, 2, 3, 4, 5].map(work));
        const seqs = results.map((r) =>
          r.status === 'fulfilled' ? r.value : (r.reason as ConflictError).code,
        );
        const base = Number(before.size);
        // The positions returned before the commit are the stored ones: the refused pieces left no gap.
        assert.deepEqual(seqs, [base, 'ERR_TEST_REFUSED', base + 2, base + 4, 'ERR_TEST_REFUSED', base + 6]);
        const entries = await store.db
          .selectFrom('audit_entries')
          .select(['seq', 'subject', 'action', 'leaf_hash'])
          .orderBy('seq')
          .execute();
        const mine = entries.filter((e) => Number(e.seq) >= base);
        assert.deepEqual(
          mine.map((e) => `${Number(e.seq) - base}:${e.subject}:${e.action}`),
          [
            '0:b0:tenant.created',
            '1:b0:tenant.noted',
            '2:b2:tenant.created',
            '3:b2:tenant.noted',
            '4:b3:tenant.created',
            '5:b3:tenant.noted',
            '6:b5:tenant.created',
            '7:b5:tenant.noted',
          ],
        );
        // The stored frontier is the one the stored leaves give, and a later plain append continues it.
        await store.transaction((tx) => audit.append(tx, { actor: 'test', action: 'after', subject: 'z' }));
        const all = await store.db
          .selectFrom('audit_entries')
          .select(['seq', 'leaf_hash'])
          .orderBy('seq')
          .execute();
        const frontier: Uint8Array[] = [];
        all.forEach((e, i) => frontierPush(frontier, i, new Uint8Array(e.leaf_hash)));
        const state = await store.db.selectFrom('audit_state').selectAll().executeTakeFirstOrThrow();
        assert.equal(Number(state.size), all.length);
        assert.deepEqual((JSON.parse(state.frontier) as string[]).map(fromHex), frontier);
        const tenants = await store.db
          .selectFrom('tenants')
          .select('id')
          .where('id', 'like', 'b%')
          .orderBy('id')
          .execute();
        assert.deepEqual(
          tenants.map((t) => t.id),
          ['b0', 'b2', 'b3', 'b5'],
        );
      } finally {
        await store.close();
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'imprint-gc-'));
after(() => rmSync(dir, { recursive: true, force: true }));
suite('SQLite', async () => ({ kind: 'sqlite', path: join(dir, 'gc.db') }));

let server: PostgresServer | undefined;
after(async () => {
  await server?.stop();
});
suite('PostgreSQL', async () => ({ kind: 'postgres', url: (server ??= await startPostgres()).url }));
