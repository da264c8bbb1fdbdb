import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { AuditService } from '../../src/audit/service.ts';
import { frontierRoot, leafHash } from '../../src/audit/merkle.ts';
import { entryBytes } from '../../src/audit/entry.ts';
import { subtreeHash } from '../../src/audit/proof.ts';
import { systemClock } from '../../src/core/clock.ts';
import { createLogger } from '../../src/core/logging.ts';
import { systemRandom } from '../../src/core/random.ts';
import { fromHex } from '../../src/core/encoding.ts';
import { SoftwareKeyStore } from '../../src/keys/software.ts';
import { RegistryService } from '../../src/registry/service.ts';
import { TokenService } from '../../src/registry/tokens.ts';
import { buildApp } from '../../src/server/app.ts';
import { openStore, type Store } from '../../src/store/database.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';
import { bearer } from '../helpers/app.ts';

const quiet = () => createLogger('warn', new Writable({ write: (_c, _e, cb) => cb() }));

/** One "server process": its own pool, key store and services over the shared database. */
async function serverOn(
  url: string,
): Promise<{ store: Store; app: FastifyInstance; tokens: TokenService; registry: RegistryService }> {
  const store = await openStore({ kind: 'postgres', url });
  const audit = new StoreAuditLog(store.dialect, systemClock);
  const registry = new RegistryService(store, audit, systemClock);
  const tokens = new TokenService(store, audit, systemClock);
  const keys = new SoftwareKeyStore(store.db, new Uint8Array(32).fill(9), systemClock);
  const auditService = new AuditService({ store, keys, log: audit, clock: systemClock });
  const app = await buildApp({
    store,
    audit,
    auditService,
    registry,
    tokens,
    keys,
    clock: systemClock,
    random: systemRandom,
    logger: quiet(),
    rateLimitPerMinute: 1e6,
  });
  return { store, app, tokens, registry };
}

describe('scale-out: two servers sharing one PostgreSQL database', () => {
  let pg: PostgresServer;
  let a: Awaited<ReturnType<typeof serverOn>>;
  let b: Awaited<ReturnType<typeof serverOn>>;
  let token: string;
  let modelId: string;
  before(async () => {
    pg = await startPostgres('imprint_scaleout');
    a = await serverOn(pg.url);
    b = await serverOn(pg.url);
    const tenant = await a.registry.createTenant({ actor: 'test' }, 'Acme', 'manufacturer');
    modelId = (await a.registry.createModel({ actor: 'test' }, tenant.id, 'm1')).id;
    token = (await a.tokens.create({ actor: 'test' }, { tenantId: tenant.id, name: 'op', role: 'operator' }))
      .token;
  });
  after(async () => {
    for (const s of [a, b]) {
      await s?.app.close();
      await s?.store.close();
    }
    await pg?.stop();
  });

  it('a token minted through one server works on the other (no server-local state)', async () => {
    const res = await b.app.inject({ url: '/api/v1/whoami', headers: bearer(token) });
    assert.equal(res.statusCode, 200);
  });

  it('concurrent writes through both servers keep the audit log contiguous and its frontier exact', async () => {
    const writes = Array.from({ length: 60 }, (_, i) =>
      (i % 2 === 0 ? a : b).app.inject({
        method: 'POST',
        url: '/api/v1/devices',
        headers: bearer(token),
        payload: { serial: `PG-${i}`, modelId },
      }),
    );
    const results = await Promise.all(writes);
    assert.ok(results.every((r) => r.statusCode === 201));
    const dup = await b.app.inject({
      method: 'POST',
      url: '/api/v1/devices',
      headers: bearer(token),
      payload: { serial: 'PG-0', modelId },
    });
    assert.equal(dup.json().error.code, 'ERR_DEVICE_EXISTS');
    const rows = await a.store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
    assert.deepEqual(
      rows.map((r) => r.seq),
      rows.map((_, i) => i),
    );
    const leaves = rows.map((r) =>
      leafHash(
        entryBytes({
          seq: r.seq,
          time: r.time,
          actor: r.actor,
          action: r.action,
          subject: r.subject,
          tenantId: r.tenant_id,
          details: JSON.parse(r.details) as Record<string, unknown>,
        }),
      ),
    );
    leaves.forEach((l, i) => assert.deepEqual(l, new Uint8Array(rows[i]!.leaf_hash)));
    const state = await a.store.db.selectFrom('audit_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(state.size, rows.length);
    // The incrementally kept root must equal the RFC 9162 tree hash computed from scratch.
    assert.deepEqual(
      frontierRoot((JSON.parse(state.frontier) as string[]).map(fromHex)),
      subtreeHash(leaves, 0, leaves.length),
    );
  });
});
