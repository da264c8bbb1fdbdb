/** What the SZTP administration modules share: the acting principal and the platform parts they use. */
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Store } from '../store/database.ts';

/** Who is acting (written to the audit log). */
export interface Actor {
  readonly actor: string;
}

/** The platform parts SZTP administration runs on. */
export interface AdminDeps {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
}

/** The deps' clock as an ISO timestamp. */
export function nowIso(deps: { clock: Clock }): string {
  return deps.clock.now().toISOString();
}
