// Child process for store.test.ts: one "server process" writing to a shared SQLite file.
import { StoreAuditLog } from '../../src/audit/log.ts';
import { systemClock } from '../../src/core/clock.ts';
import { openStore } from '../../src/store/database.ts';

const [path, who, n] = process.argv.slice(2);
const store = await openStore({ kind: 'sqlite', path: path! }).catch((e: unknown) => {
  // Say why: the parent test prints this stderr when the child fails.
  console.error(e, (e as Error).cause);
  throw e;
});
const audit = new StoreAuditLog(store.dialect, systemClock);
try {
  for (let i = 0; i < Number(n); i++) {
    const id = `ten_${who}_${i}`;
    await store.transaction(async (tx) => {
      // Read before write, like every service's duplicate check.
      await tx.selectFrom('tenants').select('id').where('name', '=', id).executeTakeFirst();
      await tx.insertInto('tenants').values({ id, name: id, kind: 'owner', created_at: 'now' }).execute();
      await audit.append(tx, { actor: `proc:${who}`, action: 'tenant.created', subject: id });
    });
    // A server handles other work between transactions; without this gap the busy handler
    // (which polls, it does not queue) could starve the other process on a loaded machine.
    await new Promise((resolve) => setImmediate(resolve));
  }
} finally {
  await store.close();
}
