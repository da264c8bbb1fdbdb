import type { AuditSchema } from './tables/audit.ts';
import type { FoundationSchema } from './tables/foundation.ts';

/** The whole database schema: the intersection of every feature's tables. */
export type Schema = FoundationSchema & AuditSchema;
