/**
 * True when `e` is a unique-constraint (or primary-key) violation from either engine. Services check
 * for duplicates first for a clear error, but two transactions can pass that check at once; the
 * constraint is the real guard and this maps its failure back to the service's conflict error.
 */
export function isUniqueViolation(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  // PostgreSQL SQLSTATE 23505 unique_violation; better-sqlite3 extended result codes.
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
