import type { Kysely } from 'kysely';
import { typesFor, type DialectName } from '../dialect.ts';

/** Certificate authorities and the CRLs they publish. */
export function pki(dialect: DialectName) {
  const t = typesFor(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('cas')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.references('keys.id'))
        .addColumn('key_algorithm', 'text', (c) => c.notNull())
        .addColumn('certificate', t.bytes, (c) => c.notNull())
        .addColumn('parent_id', 'text', (c) => c.references('cas.id'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('serial_hex', 'text', (c) => c.notNull())
        .addColumn('not_before', 'text', (c) => c.notNull())
        .addColumn('not_after', 'text', (c) => c.notNull())
        .addColumn('crl_number', t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('next_crl_at', 'text')
        .addColumn('revocation_epoch', t.bigint, (c) => c.notNull().defaultTo(0))
        .addColumn('ocsp_key_id', 'text', (c) => c.references('keys.id'))
        .addColumn('ocsp_cert_id', 'text', (c) => c.references('certificates.id'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('cas_tenant_name', ['tenant_id', 'name'])
        .execute();
      await db.schema
        .createTable('crls')
        .addColumn('ca_id', 'text', (c) => c.notNull().references('cas.id'))
        .addColumn('crl_number', t.bigint, (c) => c.notNull())
        .addColumn('this_update', 'text', (c) => c.notNull())
        .addColumn('next_update', 'text', (c) => c.notNull())
        .addColumn('der', t.bytes, (c) => c.notNull())
        .addPrimaryKeyConstraint('crls_pk', ['ca_id', 'crl_number'])
        .execute();
      await db.schema
        .createIndex('certificates_status')
        .on('certificates')
        .columns(['ca_id', 'status'])
        .execute();
    },
  };
}
