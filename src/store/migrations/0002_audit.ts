import type { Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/** The append-only audit log and its signed tree heads. */
export function audit(dialect: DialectName) {
  const t = typesFor(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('audit_entries')
        .addColumn('seq', t.bigint, (c) => c.primaryKey())
        .addColumn('time', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('leaf_hash', t.bytes, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_entries_subject').on('audit_entries').column('subject').execute();
      await db.schema
        .createTable('audit_state')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('size', t.bigint, (c) => c.notNull())
        .addColumn('frontier', 'text', (c) => c.notNull())
        .execute();
      await (db as Kysely<{ audit_state: { id: number; size: number; frontier: string } }>)
        .insertInto('audit_state')
        .values({ id: 1, size: 0, frontier: '[]' })
        .execute();
      await db.schema
        .createTable('audit_tree_heads')
        .addColumn('tree_size', t.bigint, (c) => c.primaryKey())
        .addColumn('root_hash', t.bytes, (c) => c.notNull())
        .addColumn('timestamp', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('signature', t.bytes, (c) => c.notNull())
        .execute();
    },
  };
}
