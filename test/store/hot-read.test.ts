import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CompiledQuery } from 'kysely';
import { openStore, type Store, type StoreLocation } from '../../src/store/database.ts';
import { hotRead } from '../../src/store/hot-read.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';

const NOW = '2026-01-01T00:00:00.000Z';
const q = (store: Store, id: string) =>
  CompiledQuery.raw(
    `select id, name from "tenants" where id = ${store.dialect === 'postgres' ? '$1' : '?'}`,
    [id],
  );

function suite(name: string, location: () => Promise<StoreLocation>): void {
  void describe(`hotRead on ${name}`, () => {
    it('returns the rows executeQuery returns, and sees committed changes at once', async () => {
      const store = await openStore(await location());
      try {
        assert.deepEqual(await hotRead(store, q(store, 't1')), []);
        await store.db
          .insertInto('tenants')
          .values({ id: 't1', name: 'one', kind: 'owner', created_at: NOW })
          .execute();
        const rows = await hotRead(store, q(store, 't1'));
        assert.deepEqual(rows, (await store.db.executeQuery(q(store, 't1'))).rows);
        assert.deepEqual(rows, [{ id: 't1', name: 'one' }]);
        await store.db.updateTable('tenants').set({ name: 'uno' }).where('id', '=', 't1').execute();
        assert.deepEqual(await hotRead(store, q(store, 't1')), [{ id: 't1', name: 'uno' }]);
      } finally {
        await store.close();
      }
    });

    it('never sees the uncommitted writes of a transaction in progress, nor those rolled back', async () => {
      const store = await openStore(await location());
      try {
        let reading: Promise<readonly unknown[]> | undefined;
        await assert.rejects(
          store.transaction(async (tx) => {
            await tx
              .insertInto('tenants')
              .values({ id: 't2', name: 'two', kind: 'owner', created_at: NOW })
              .execute();
            reading = hotRead(store, q(store, 't2')); // issued mid-transaction
            await new Promise((r) => setImmediate(r));
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.deepEqual(await reading, []);
        assert.deepEqual(await hotRead(store, q(store, 't2')), []);
      } finally {
        await store.close();
      }
    });

    it('falls back to Kysely for a handle without a reader (a transaction)', async () => {
      const store = await openStore(await location());
      try {
        await store.transaction(async (tx) => {
          await tx
            .insertInto('tenants')
            .values({ id: 't3', name: 'three', kind: 'owner', created_at: NOW })
            .execute();
          // Inside its own transaction the caller sees its own write, as with executeQuery.
          assert.deepEqual(await hotRead({ db: tx }, q(store, 't3')), [{ id: 't3', name: 'three' }]);
        });
      } finally {
        await store.close();
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'imprint-hot-read-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));
suite('SQLite', () => Promise.resolve({ kind: 'sqlite', path: join(dir, `s${++n}.db`) }));

let pg: PostgresServer | undefined;
after(async () => {
  await pg?.stop();
});
suite('PostgreSQL', async () => {
  pg ??= await startPostgres();
  return { kind: 'postgres', url: await pg.createDatabase(`hot${++n}`) };
});
