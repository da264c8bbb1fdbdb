import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { HotSql } from '../../src/store/hot-sql.ts';
import { openStore } from '../../src/store/database.ts';

const dir = mkdtempSync(join(tmpdir(), 'imprint-hotsql-'));
after(() => rmSync(dir, { recursive: true, force: true }));

void it('HotSql: PostgreSQL placeholders are numbered, SQLite keeps ?', () => {
  const text = 'update "t" set "a" = ? where "b" = ? and "c" = ?';
  assert.equal(
    new HotSql('postgres').compiled(text, [1, 2, 3]).sql,
    'update "t" set "a" = $1 where "b" = $2 and "c" = $3',
  );
  assert.equal(new HotSql('sqlite').compiled(text, [1, 2, 3]).sql, text);
});

void it('HotSql: insert and update write what the query builder reads back; undefined values left out', async () => {
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'h.db') });
  try {
    const sql = new HotSql(store.dialect);
    const now = '2026-01-01T00:00:00.000Z';
    await sql.insert(store.db, 'tenants', {
      id: 'h1',
      name: 'hot',
      kind: 'owner',
      created_at: now,
      extra: undefined,
    });
    const changed = await sql.update(store.db, 'tenants', { name: 'hot-2', kind: undefined }, { id: 'h1' });
    assert.equal(changed, 1);
    assert.equal(await sql.update(store.db, 'tenants', { name: 'x' }, { id: 'nobody' }), 0);
    const row = await store.db
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', 'h1')
      .executeTakeFirstOrThrow();
    assert.equal(row.name, 'hot-2');
    assert.equal(row.kind, 'owner');
    const rows = await sql.query<{ id: string }>(store.db, 'select "id" from "tenants" where "name" = ?', [
      'hot-2',
    ]);
    assert.deepEqual(rows, [{ id: 'h1' }]);
    // A value is always a parameter, never SQL text.
    await sql.update(store.db, 'tenants', { name: `'; drop table "tenants"; --` }, { id: 'h1' });
    assert.equal((await sql.query(store.db, 'select "id" from "tenants" where "id" = ?', ['h1'])).length, 1);
  } finally {
    await store.close();
  }
});
