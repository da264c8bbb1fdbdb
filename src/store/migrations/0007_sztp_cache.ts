import { sql, type Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/**
 * The SZTP context generation: one counter that every insert, update or delete of an SZTP binding, owner,
 * onboarding record or MASA key increments, by trigger, in the same transaction as the change. Bootstrap
 * servers cache what a device's answer is built from and compare this counter (one indexed read per request)
 * to know the cache is still current, also when another `imprint serve` process made the change. Triggers,
 * not application code, so that no writer (admin API, manifest import, voucher import, lifecycle, SQL by
 * hand) can forget it.
 */
export function sztpCache(dialect: DialectName) {
  const t = typesFor(dialect);
  const tables = ['sztp_bindings', 'sztp_owners', 'sztp_onboarding', 'sztp_masa'];
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('sztp_generation')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('n', t.bigint, (c) => c.notNull())
        .execute();
      await sql`insert into sztp_generation (id, n) values (1, 0)`.execute(db);
      if (dialect === 'postgres') {
        await sql`create function sztp_generation_bump() returns trigger language plpgsql as $$
          begin update sztp_generation set n = n + 1 where id = 1; return null; end $$`.execute(db);
        for (const table of tables) {
          // Once per statement: a bulk bind of 10,000 devices bumps the counter once.
          await sql
            .raw(
              `create trigger ${table}_generation after insert or update or delete on ${table} ` +
                'for each statement execute function sztp_generation_bump()',
            )
            .execute(db);
        }
        return;
      }
      for (const table of tables) {
        for (const op of ['insert', 'update', 'delete']) {
          await sql
            .raw(
              `create trigger ${table}_generation_${op} after ${op} on ${table} ` +
                'begin update sztp_generation set n = n + 1 where id = 1; end',
            )
            .execute(db);
        }
      }
    },
    async down(db: Kysely<unknown>): Promise<void> {
      for (const table of tables) {
        if (dialect === 'postgres') await sql.raw(`drop trigger ${table}_generation on ${table}`).execute(db);
        else
          for (const op of ['insert', 'update', 'delete'])
            await sql.raw(`drop trigger ${table}_generation_${op}`).execute(db);
      }
      if (dialect === 'postgres') await sql`drop function sztp_generation_bump()`.execute(db);
      await db.schema.dropTable('sztp_generation').execute();
    },
  };
}
