import type { Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/** Registry, tokens, keys and certificates. */
export function foundation(dialect: DialectName) {
  const t = typesFor(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('device_models')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('device_models_tenant_name', ['tenant_id', 'name'])
        .execute();
      await db.schema
        .createTable('batches')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('model_id', 'text', (c) => c.notNull().references('device_models.id'))
        .addColumn('station_id', 'text')
        .addColumn('quantity', 'integer', (c) => c.notNull())
        .addColumn('issued', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('devices')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('manufacturer_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('model_id', 'text', (c) => c.notNull().references('device_models.id'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('identity_key_fingerprint', 'text', (c) => c.unique())
        .addColumn('batch_id', 'text', (c) => c.references('batches.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('devices_manufacturer_serial', ['manufacturer_id', 'serial'])
        .execute();
      await db.schema.createIndex('devices_tenant').on('devices').columns(['tenant_id', 'serial']).execute();
      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('secret_hash', t.bytes, (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('last_used_at', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('label', 'text', (c) => c.notNull().unique())
        .addColumn('algorithm', 'text', (c) => c.notNull())
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('public_key', t.bytes, (c) => c.notNull())
        .addColumn('wrapped_private', t.bytes)
        .addColumn('pkcs11_id', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('destroyed_at', 'text')
        .execute();
      await db.schema
        .createTable('certificates')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('ca_id', 'text')
        .addColumn('device_id', 'text', (c) => c.references('devices.id'))
        .addColumn('profile', 'text', (c) => c.notNull())
        .addColumn('serial_hex', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('spki_sha256', 'text', (c) => c.notNull())
        .addColumn('der', t.bytes, (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .addColumn('revocation_reason', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('certificates_ca_serial', ['ca_id', 'serial_hex'])
        .execute();
      await db.schema.createIndex('certificates_device').on('certificates').column('device_id').execute();
      await db.schema.createIndex('certificates_spki').on('certificates').column('spki_sha256').execute();
    },
  };
}
