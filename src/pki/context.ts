/** What every PKI module is given: the core ports plus PKI options and URL helpers. */
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { KeyStore } from '../keys/types.ts';
import type { RegistryService } from '../registry/service.ts';
import type { Store } from '../store/database.ts';
import { GroupCommit } from '../store/group-commit.ts';
import { DEFAULT_KEY_POLICY, type KeyPolicy, type PkiOptions } from './types.ts';

/** The PKI's dependencies and resolved options. */
export interface PkiContext {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  readonly registry: RegistryService;
  readonly clock: Clock;
  readonly random: Random;
  readonly baseUrl: string;
  readonly keyPolicy: KeyPolicy;
  readonly crlValidityMs: number;
  readonly ocspValidityMs: number;
  readonly ocspEpochTtlMs: number;
  readonly ocspCacheSize: number;
  readonly ocspSignerValidityMs: number;
  readonly ocspSignerRenewFraction: number;
  /** Issuance transactions of concurrent callers commit together (one commit per group, not per certificate). */
  readonly commits: GroupCommit;
  /** Short-lived memo of immutable or slowly changing records (CA rows, key infos, names, chains). */
  readonly memo: Map<string, { readonly value: unknown; readonly until: number }>;
}

/** `fn()` memoised under `key` for `ttlMs` of wall time; failures are not memoised. */
export async function memo<T>(ctx: PkiContext, key: string, ttlMs: number, fn: () => Promise<T>): Promise<T> {
  const hit = ctx.memo.get(key);
  const now = Date.now();
  if (hit !== undefined && hit.until > now) return hit.value as T;
  const value = await fn();
  if (ctx.memo.size > 10_000) ctx.memo.clear();
  ctx.memo.set(key, { value, until: now + ttlMs });
  return value;
}

/** Fills defaults into the options. */
export function pkiContext(
  core: Omit<
    PkiContext,
    | 'baseUrl'
    | 'keyPolicy'
    | 'crlValidityMs'
    | 'ocspValidityMs'
    | 'ocspEpochTtlMs'
    | 'ocspCacheSize'
    | 'ocspSignerValidityMs'
    | 'ocspSignerRenewFraction'
    | 'memo'
    | 'commits'
  >,
  options: PkiOptions,
): PkiContext {
  return {
    store: core.store,
    keys: core.keys,
    audit: core.audit,
    registry: core.registry,
    clock: core.clock,
    random: core.random,
    baseUrl: options.urls.baseUrl.replace(/\/+$/, ''),
    keyPolicy: options.keyPolicy ?? DEFAULT_KEY_POLICY,
    crlValidityMs: options.crlValidityMs ?? 24 * 3600_000,
    ocspValidityMs: options.ocspValidityMs ?? 3600_000,
    ocspEpochTtlMs: options.ocspEpochTtlMs ?? 1000,
    ocspCacheSize: options.ocspCacheSize ?? 100_000,
    ocspSignerValidityMs: (options.ocspSignerValidityDays ?? 90) * 86400_000,
    ocspSignerRenewFraction: options.ocspSignerRenewFraction ?? 1 / 3,
    memo: new Map(),
    commits: new GroupCommit(core.store),
  };
}

/** Public URL of a CA's CRL. */
export function crlUrl(ctx: PkiContext, caId: string): string {
  return `${ctx.baseUrl}/crl/${caId}.crl`;
}

/** Public URL of a CA's certificate (AIA caIssuers). */
export function caCertUrl(ctx: PkiContext, caId: string): string {
  return `${ctx.baseUrl}/ca/${caId}.crt`;
}

/** Public URL of the OCSP responder. */
export function ocspUrl(ctx: PkiContext): string {
  return `${ctx.baseUrl}/ocsp`;
}
