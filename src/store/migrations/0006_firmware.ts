import type { Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/** Firmware: signing requests and approvals, signed images, releases and rollout, TUF repository state. */
export function firmware(dialect: DialectName) {
  const t = typesFor(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('firmware_key_policies')
        .addColumn('key_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('approvals_required', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('firmware_signing_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('spec', 'text', (c) => c.notNull())
        .addColumn('payload', t.bytes, (c) => c.notNull())
        .addColumn('digest', 'text', (c) => c.notNull())
        .addColumn('approvals_required', 'integer', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('image_digest', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('firmware_approvals')
        .addColumn('request_id', 'text', (c) => c.notNull().references('firmware_signing_requests.id'))
        .addColumn('approver', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('firmware_approvals_pk', ['request_id', 'approver'])
        .execute();
      await db.schema
        .createTable('firmware_images')
        .addColumn('digest', 'text', (c) => c.primaryKey())
        .addColumn('image_hash', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('security_counter', t.bigint, (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('image', t.bytes, (c) => c.notNull())
        .addColumn('signed_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('firmware_releases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('image_digest', 'text', (c) => c.notNull().references('firmware_images.digest'))
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('security_counter', t.bigint, (c) => c.notNull())
        .addColumn('model_ids', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('stage_group', 'text')
        .addColumn('stage_percent', 'integer')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('firmware_device_groups')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
        .addPrimaryKeyConstraint('firmware_device_groups_pk', ['tenant_id', 'name', 'device_id'])
        .execute();
      await db.schema
        .createTable('firmware_reports')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('image_digest', 'text', (c) => c.notNull())
        .addColumn('reported_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('tuf_keys')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('tuf_key_id', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tuf_keys_pk', ['tenant_id', 'role', 'key_id'])
        .execute();
      await db.schema
        .createTable('tuf_metadata')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('expires', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tuf_metadata_pk', ['tenant_id', 'role', 'version'])
        .execute();
      await db.schema
        .createTable('tuf_targets')
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('image_digest', 'text', (c) => c.notNull().references('firmware_images.digest'))
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('custom', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('tuf_targets_pk', ['tenant_id', 'path'])
        .execute();
    },
  };
}
