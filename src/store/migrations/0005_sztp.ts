import type { Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/** SZTP owners, MASA keys, manufacturer CAs, bindings, onboarding records, vouchers, bootstrapping log, webhooks. */
export function sztp(dialect: DialectName) {
  const t = typesFor(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('sztp_owners')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.references('keys.id'))
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('pinned_domain_cert', t.bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('sztp_owners_tenant_name', ['tenant_id', 'name'])
        .execute();
      await db.schema
        .createTable('sztp_masa')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
        .addColumn('key_id', 'text', (c) => c.notNull().references('keys.id'))
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('voucher_validity_days', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sztp_manufacturer_cas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('der', t.bytes, (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sztp_bindings')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('owner_id', 'text', (c) => c.notNull().references('sztp_owners.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sztp_bindings_owner').on('sztp_bindings').column('owner_id').execute();
      await db.schema
        .createTable('sztp_onboarding')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('sztp_owners.id'))
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('scope_id', 'text', (c) => c.notNull())
        .addColumn('document', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('encoding', 'text', (c) => c.notNull())
        .addColumn('encrypt', 'integer', (c) => c.notNull())
        .addColumn('ldevid', 'integer', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('sztp_onboarding_scope', ['owner_id', 'scope', 'scope_id'])
        .execute();
      await db.schema
        .createTable('sztp_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('owner_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('progress_type', 'text')
        .addColumn('message', 'text')
        .addColumn('details', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('sztp_log_device')
        .on('sztp_log')
        .columns(['device_id', 'created_at'])
        .execute();
      await db.schema
        .createTable('sztp_webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('sztp_owners.id'))
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('sztp_vouchers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addColumn('owner_id', 'text', (c) => c.notNull().references('sztp_owners.id'))
        .addColumn('cms', t.bytes, (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('sztp_vouchers_device')
        .on('sztp_vouchers')
        .columns(['device_id', 'owner_id'])
        .execute();
      await db.schema
        .createTable('sztp_device_secrets')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('secret_hash', t.bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
