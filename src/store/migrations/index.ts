import type { Migration, MigrationProvider } from 'kysely';
import type { DialectName } from '../dialect.ts';
import { foundation } from './0001_foundation.ts';
import { audit } from './0002_audit.ts';
import { pki } from './0003_pki.ts';
import { factory } from './0004_factory.ts';
import { sztp } from './0005_sztp.ts';
import { firmware } from './0006_firmware.ts';
import { sztpCache } from './0007_sztp_cache.ts';

/**
 * The static, ordered list of migrations. Each feature appends its own file; names sort in order
 * and are never renamed once released.
 */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  const list: Record<string, Migration> = {
    '0001_foundation': foundation(dialect),
    '0002_audit': audit(dialect),
    '0003_pki': pki(dialect),
    '0004_factory': factory(dialect),
    '0005_sztp': sztp(dialect),
    '0006_firmware': firmware(dialect),
    '0007_sztp_cache': sztpCache(dialect),
  };
  return { getMigrations: () => Promise.resolve(list) };
}
