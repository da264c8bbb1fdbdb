import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openStore } from '../../src/store/database.ts';
import { startWalCheckpointer } from '../../src/store/wal-checkpointer.ts';
import { createTestCore } from '../helpers/core.ts';

test('WAL checkpoints run on a worker thread while the connection stops checkpointing; stop restores it', async () => {
  const core = await createTestCore();
  try {
    const cp = await startWalCheckpointer(core.store, 20);
    assert.ok(cp !== undefined);
    const pages = async () =>
      (await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(core.store.db)).rows[0]
        ?.wal_autocheckpoint;
    assert.equal(await pages(), 0);
    for (let i = 0; i < 50; i++)
      await core.store.transaction((tx) =>
        core.audit.append(tx, { actor: 'test', action: 'test.write', subject: `s${i}`, details: {} }),
      );
    const dbFile = join(core.dir, 'imprint.db');
    const before = statSync(dbFile).mtimeMs;
    for (let i = 0; i < 200 && cp.checkpoints() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cp.checkpoints() > 0, 'the worker checkpointed');
    assert.ok(statSync(dbFile).mtimeMs >= before);
    await cp.stop();
    assert.equal(await pages(), 1000);
    // Everything committed is readable after the checkpoints.
    const n = await core.store.db
      .selectFrom('audit_entries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('action', '=', 'test.write')
      .executeTakeFirstOrThrow();
    assert.equal(Number(n.n), 50);
  } finally {
    await core.close();
  }
});

test('no checkpointer for an in-memory database', async () => {
  const store = await openStore({ kind: 'sqlite', path: ':memory:' });
  try {
    assert.equal(await startWalCheckpointer(store), undefined);
  } finally {
    await store.close();
  }
});
