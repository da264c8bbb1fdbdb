import type { AuditSchema } from './tables/audit.ts';
import type { FactorySchema } from './tables/factory.ts';
import type { FirmwareSchema } from './tables/firmware.ts';
import type { FoundationSchema } from './tables/foundation.ts';
import type { PkiSchema } from './tables/pki.ts';
import type { SztpSchema } from './tables/sztp.ts';

/** The whole database schema: the intersection of every feature's tables. */
export type Schema = FoundationSchema & AuditSchema & PkiSchema & FactorySchema & FirmwareSchema & SztpSchema;
