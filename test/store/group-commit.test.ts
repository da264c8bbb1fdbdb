import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { ManualClock } from '../../src/core/clock.ts';
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
