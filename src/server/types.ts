import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import { TOKEN_ROLES, type TokenRole } from '../registry/tokens.ts';
import type { Store } from '../store/database.ts';

/** Operator and machine roles. A token or certificate carries exactly one, scoped to one tenant. */
export const ROLES = TOKEN_ROLES;
/** One of ROLES. */
export type Role = TokenRole;

/** The authenticated caller of a request. */
export interface Principal {
  /** How it authenticated: an API token, a station certificate, or a device certificate (mTLS). */
  readonly kind: 'token' | 'station' | 'device';
  /** Token id, station id or device id. */
  readonly id: string;
  readonly tenantId: string;
  readonly role: Role | 'device';
  /** The actor string written to audit entries, e.g. `token:tok_…`. */
  readonly actor: string;
  /** For mTLS callers: the DER client certificate chain as presented (leaf first). */
  readonly certificateChain?: readonly Uint8Array[];
}

/**
 * Route-level access rule, set as `config: { access: … }` on every route:
 * `public` (no credentials), `device` (a valid client certificate, checked by the feature itself),
 * or the list of roles allowed.
 */
export type Access = 'public' | 'device' | { readonly roles: readonly Role[] };

/** The core parts every feature is built from; created once per process by the wiring. */
export interface Core {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
  readonly random: Random;
}
