import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuditLog } from '../audit/types.ts';
import type { Clock } from '../core/clock.ts';
import { AuthenticationError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Store } from '../store/database.ts';
import type { ApiTokensTable } from '../store/tables/foundation.ts';
import type { Actor } from './service.ts';

/** Roles a token (or a station certificate) can carry; the server's ROLES. */
export const TOKEN_ROLES = ['admin', 'operator', 'auditor', 'station', 'release-manager'] as const;
/** One of TOKEN_ROLES. */
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** A token as listed: never the secret, never its hash. */
export interface TokenInfo {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly role: TokenRole;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly createdBy: string;
}

const TOKEN_RE = /^(tok_[0-9a-v]{20})\.([A-Za-z0-9_-]{43})$/;
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * API tokens: 256 random bits shown once as `tok_<id>.<secret>`; only SHA-256(secret) is stored, which is
 * enough because the secret has full entropy (no password-style stretching needed).
 */
export class TokenService {
  readonly #store: Store;
  readonly #audit: AuditLog;
  readonly #clock: Clock;

  constructor(store: Store, audit: AuditLog, clock: Clock) {
    this.#store = store;
    this.#audit = audit;
    this.#clock = clock;
  }

  /** Creates a token; the returned `token` string is the only time the secret exists outside the caller. Throws ERR_TOKEN_ROLE_INVALID, ERR_TOKEN_NAME_INVALID, ERR_TENANT_NOT_FOUND. */
  async create(
    by: Actor,
    input: { tenantId: string; name: string; role: string; expiresAt?: string | null },
  ): Promise<{ token: string; info: TokenInfo }> {
    if (!(TOKEN_ROLES as readonly string[]).includes(input.role)) {
      throw new ValidationError('ERR_TOKEN_ROLE_INVALID', `role must be one of ${TOKEN_ROLES.join(', ')}`);
    }
    if (!/^[\w .@-]{1,64}$/.test(input.name)) {
      throw new ValidationError('ERR_TOKEN_NAME_INVALID', 'token name must be 1-64 word characters');
    }
    const secret = randomBytes(32);
    const row: ApiTokensTable = {
      id: newId('tok'),
      tenant_id: input.tenantId,
      name: input.name,
      role: input.role,
      secret_hash: sha256(secret),
      created_at: this.#clock.now().toISOString(),
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
      created_by: by.actor,
    };
    await this.#store.transaction(async (tx) => {
      const tenant = await tx
        .selectFrom('tenants')
        .select('id')
        .where('id', '=', input.tenantId)
        .executeTakeFirst();
      if (tenant === undefined)
        throw new NotFoundError('ERR_TENANT_NOT_FOUND', `no tenant ${input.tenantId}`);
      await tx.insertInto('api_tokens').values(row).execute();
      await this.#audit.append(tx, {
        ...by,
        action: 'token.created',
        subject: row.id,
        tenantId: row.tenant_id,
        details: { name: row.name, role: row.role, expiresAt: row.expires_at },
      });
    });
    const token = `${row.id}.${secret.toString('base64url')}`;
    secret.fill(0);
    return { token, info: toInfo(row) };
  }

  /** Tokens of a tenant, newest first. */
  async list(tenantId: string): Promise<TokenInfo[]> {
    const rows = await this.#store.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toInfo);
  }

  /** Revokes a token of the tenant. Throws ERR_TOKEN_NOT_FOUND. */
  async revoke(by: Actor, id: string, tenantId: string): Promise<TokenInfo> {
    return this.#store.transaction(async (tx) => {
      const row = await tx
        .selectFrom('api_tokens')
        .selectAll()
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (row === undefined) throw new NotFoundError('ERR_TOKEN_NOT_FOUND', `no token ${id}`);
      if (row.revoked_at !== null) return toInfo(row);
      const revokedAt = this.#clock.now().toISOString();
      await tx.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', id).execute();
      await this.#audit.append(tx, { ...by, action: 'token.revoked', subject: id, tenantId, details: {} });
      return toInfo({ ...row, revoked_at: revokedAt });
    });
  }

  /**
   * Checks a presented token string. Throws ERR_AUTH_TOKEN_MALFORMED, ERR_AUTH_TOKEN_INVALID,
   * ERR_AUTH_TOKEN_REVOKED, ERR_AUTH_TOKEN_EXPIRED; the caller audits the refusal.
   */
  async authenticate(presented: string): Promise<TokenInfo> {
    const m = TOKEN_RE.exec(presented);
    if (m === null)
      throw new AuthenticationError('ERR_AUTH_TOKEN_MALFORMED', 'the bearer token is malformed');
    const [, id, secretText] = m as unknown as [string, string, string];
    const row = await this.#store.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    const secret = Buffer.from(secretText, 'base64url');
    const given = sha256(secret);
    secret.fill(0);
    if (row === undefined || !timingSafeEqual(given, row.secret_hash)) {
      throw new AuthenticationError('ERR_AUTH_TOKEN_INVALID', 'the bearer token is not valid', {
        details: { tokenId: id },
      });
    }
    if (row.revoked_at !== null)
      throw new AuthenticationError('ERR_AUTH_TOKEN_REVOKED', 'the bearer token was revoked');
    const now = this.#clock.now();
    if (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime()) {
      throw new AuthenticationError('ERR_AUTH_TOKEN_EXPIRED', 'the bearer token has expired');
    }
    if (row.last_used_at === null || now.getTime() - Date.parse(row.last_used_at) > LAST_USED_RESOLUTION_MS) {
      // Usage time is informational and written at most once a minute, so it is not audited.
      await this.#store.db
        .updateTable('api_tokens')
        .set({ last_used_at: now.toISOString() })
        .where('id', '=', id)
        .execute();
    }
    return toInfo(row);
  }
}

function sha256(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest();
}

function toInfo(r: ApiTokensTable): TokenInfo {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    role: r.role as TokenRole,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    createdBy: r.created_by,
  };
}
