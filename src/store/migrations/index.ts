import type { Migration, MigrationProvider } from 'kysely';
import type { DialectName } from '../dialect.ts';
import { foundation } from './0001_foundation.ts';
import { audit } from './0002_audit.ts';

/**
 * The static, ordered list of migrations. Each feature appends its own file; names sort in order
 * and are never renamed once released.
 */
export function migrationProvider(dialect: DialectName): MigrationProvider {
  const list: Record<string, Migration> = {
    '0001_foundation': foundation(dialect),
    '0002_audit': audit(dialect),
  };
  return { getMigrations: () => Promise.resolve(list) };
}
