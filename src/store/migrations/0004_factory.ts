import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.ts';

/** Factory floor: stations, per-device provisioning runs, claim codes and batch manifests. */
export function factory(_dialect: DialectName) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('stations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('disabled_at', 'text')
        .addUniqueConstraint('stations_tenant_name', ['tenant_id', 'name'])
        .execute();
      await db.schema
        .createTable('factory_runs')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('batch_id', 'text', (c) => c.notNull().references('batches.id'))
        .addColumn('station_id', 'text', (c) => c.notNull())
        .addColumn('serial', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('certificate_id', 'text')
        .addColumn('spki_sha256', 'text')
        .addColumn('config_sha256', 'text')
        .addColumn('secret_digests', 'text')
        .addColumn('fuses', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('quota_counted', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('factory_runs_batch')
        .on('factory_runs')
        .columns(['batch_id', 'state'])
        .execute();
      await db.schema
        .createTable('claim_codes')
        .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id'))
        .addColumn('code_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('claimed_at', 'text')
        .addColumn('claimed_by', 'text')
        .execute();
      await db.schema
        .createTable('batch_manifests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('batch_id', 'text', (c) => c.notNull().references('batches.id'))
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('devices', 'integer', (c) => c.notNull())
        .addColumn('jws', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
