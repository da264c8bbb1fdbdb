import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { StoreAuditLog } from '../../src/audit/log.ts';
import { entryBytes } from '../../src/audit/entry.ts';
import { EMPTY_ROOT, frontierRoot, leafHash, nodeHash } from '../../src/audit/merkle.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { fromHex } from '../../src/core/encoding.ts';
import { hasCode } from '../../src/core/errors.ts';
import { RegistryService } from '../../src/registry/service.ts';
import type { Device } from '../../src/registry/types.ts';
import { openStore, type Store, type StoreLocation } from '../../src/store/database.ts';
import { migrationProvider } from '../../src/store/migrations/index.ts';
import { startPostgres, type PostgresServer } from '../helpers/postgres.ts';

const by = { actor: 'test' };

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(hasCode(e, code), `expected ${code}, got ${String(e)}`);
    return true;
  });
}

/** RFC 9162 MTH computed from scratch over every leaf, independent of the stored frontier. */
function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

async function count(
  store: Store,
  table: 'tenants' | 'device_models' | 'devices' | 'audit_entries',
): Promise<number> {
  const r = await store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  assert.equal(typeof r.n, 'number');
  return r.n;
}

/** Checks the whole audit log: contiguous seqs, every leaf hash, and the stored frontier's root. */
async function assertAuditConsistent(store: Store): Promise<number> {
  const rows = await store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
  rows.forEach((r, i) => {
    assert.equal(r.seq, i, 'seq is contiguous from 0');
    const entry = {
      seq: r.seq,
      time: r.time,
      actor: r.actor,
      action: r.action,
      subject: r.subject,
      tenantId: r.tenant_id,
      details: JSON.parse(r.details) as Record<string, unknown>,
    };
    assert.deepEqual(new Uint8Array(r.leaf_hash), leafHash(entryBytes(entry)), `leaf ${i}`);
  });
  const state = await store.db
    .selectFrom('audit_state')
    .selectAll()
    .where('id', '=', 1)
    .executeTakeFirstOrThrow();
  assert.equal(state.size, rows.length);
  const frontier = (JSON.parse(state.frontier) as string[]).map(fromHex);
  assert.deepEqual(frontierRoot(frontier), merkleRoot(rows.map((r) => new Uint8Array(r.leaf_hash))));
  return rows.length;
}

/** The same suite on every engine. */
function storeSuite(name: string, location: () => Promise<StoreLocation>): void {
  void describe(`store on ${name}`, () => {
    let where: StoreLocation;
    let store: Store;
    let registry: RegistryService;
    let audit: StoreAuditLog;
    const clock = new ManualClock();

    before(async () => {
      where = await location();
      store = await openStore(where);
      audit = new StoreAuditLog(store.dialect, clock);
      registry = new RegistryService(store, audit, clock);
    });
    after(async () => {
      await store?.close();
    });

    void it('applies every migration, and re-opening applies nothing twice', async () => {
      const expected = Object.keys(await migrationProvider(store.dialect).getMigrations()).sort();
      const applied = async (s: Store) =>
        (
          await s.db
            .selectFrom('kysely_migration' as never)
            .select('name' as never)
            .execute()
        )
          .map((r) => (r as { name: string }).name)
          .sort();
      assert.deepEqual(await applied(store), expected);
      const again = await openStore(where);
      try {
        assert.deepEqual(await applied(again), expected);
        const state = await again.db.selectFrom('audit_state').selectAll().execute();
        assert.equal(state.length, 1, 'the audit state row is seeded exactly once');
      } finally {
        await again.close();
      }
    });

    void it('creates, reads and lists tenants and models', async () => {
      const acme = await registry.createTenant(by, 'Acme Devices', 'manufacturer');
      const owner = await registry.createTenant(by, 'Buyer Corp', 'owner');
      assert.deepEqual(await registry.getTenant(acme.id), acme);
      assert.deepEqual(await registry.findTenantByName('Buyer Corp'), owner);
      assert.deepEqual(
        (await registry.listTenants()).map((t) => t.name),
        ['Acme Devices', 'Buyer Corp'],
      );
      await rejectsWith(registry.createTenant(by, 'Acme Devices', 'owner'), 'ERR_TENANT_EXISTS');
      await rejectsWith(registry.createTenant(by, ' bad', 'owner'), 'ERR_TENANT_NAME_INVALID');
      await rejectsWith(registry.getTenant('ten_missing'), 'ERR_TENANT_NOT_FOUND');
      const model = await registry.createModel(by, acme.id, 'sensor-1', 'a sensor');
      assert.deepEqual(await registry.getModel(model.id), model);
      assert.deepEqual(await registry.listModels(acme.id), [model]);
      await rejectsWith(registry.getModel(model.id, owner.id), 'ERR_MODEL_NOT_FOUND');
      await rejectsWith(registry.createModel(by, acme.id, 'sensor-1'), 'ERR_MODEL_EXISTS');
      await rejectsWith(registry.createModel(by, 'ten_missing', 'x'), 'ERR_TENANT_NOT_FOUND');
      assert.equal(await count(store, 'tenants'), 2);
      assert.equal(await count(store, 'device_models'), 1);
    });

    void it('registers, finds, lists and updates devices, auditing each change', async () => {
      const acme = (await registry.findTenantByName('Acme Devices'))!;
      const owner = (await registry.findTenantByName('Buyer Corp'))!;
      const [model] = await registry.listModels(acme.id);
      const devices: Device[] = [];
      for (let i = 0; i < 5; i++) {
        devices.push(
          await registry.createDevice(by, { manufacturerId: acme.id, modelId: model!.id, serial: `SN-${i}` }),
        );
      }
      assert.deepEqual(await registry.getDevice(devices[0]!.id, acme.id), devices[0]);
      await rejectsWith(registry.getDevice(devices[0]!.id, owner.id), 'ERR_DEVICE_NOT_FOUND');
      assert.deepEqual(await registry.findDeviceBySerial(acme.id, 'SN-3'), devices[3]);
      const sorted = devices.map((d) => d.id).sort();
      const page1 = await registry.listDevices(acme.id, { limit: 2 });
      const page2 = await registry.listDevices(acme.id, { limit: 10, after: page1.at(-1)!.id });
      assert.deepEqual(
        [...page1, ...page2].map((d) => d.id),
        sorted,
      );
      const before = await count(store, 'audit_entries');
      const moved = await store.transaction((tx) =>
        registry.updateDevice(
          tx,
          by,
          devices[1]!.id,
          { state: 'claimed', tenantId: owner.id },
          'device.claimed',
        ),
      );
      assert.equal(moved.state, 'claimed');
      assert.equal(moved.tenantId, owner.id);
      assert.deepEqual(
        (await registry.listDevices(owner.id)).map((d) => d.id),
        [devices[1]!.id],
      );
      assert.deepEqual(
        (await registry.listDevices(acme.id, { state: 'claimed' })).map((d) => d.id),
        [devices[1]!.id],
      );
      assert.equal(await count(store, 'audit_entries'), before + 1);
      const last = await store.db
        .selectFrom('audit_entries')
        .selectAll()
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      assert.equal(last.action, 'device.claimed');
      assert.equal(last.subject, devices[1]!.id);
    });

    void it('refuses a duplicate or malformed serial and writes nothing', async () => {
      const acme = (await registry.findTenantByName('Acme Devices'))!;
      const [model] = await registry.listModels(acme.id);
      const devicesBefore = await count(store, 'devices');
      const auditBefore = await count(store, 'audit_entries');
      const input = { manufacturerId: acme.id, modelId: model!.id };
      await rejectsWith(registry.createDevice(by, { ...input, serial: 'SN-0' }), 'ERR_DEVICE_EXISTS');
      for (const serial of ['', ' SN', 'SN 1', 'x'.repeat(65), 'ünï', 'SN/1']) {
        await rejectsWith(registry.createDevice(by, { ...input, serial }), 'ERR_DEVICE_SERIAL_INVALID');
      }
      await rejectsWith(
        registry.createDevice(by, { ...input, modelId: 'mdl_missing', serial: 'SN-new' }),
        'ERR_MODEL_NOT_FOUND',
      );
      assert.equal(await count(store, 'devices'), devicesBefore);
      assert.equal(await count(store, 'audit_entries'), auditBefore);
    });

    void it('racing registrations of one serial or tenant name: one winner, the rest conflicts', async () => {
      const acme = (await registry.findTenantByName('Acme Devices'))!;
      const [model] = await registry.listModels(acme.id);
      const input = { manufacturerId: acme.id, modelId: model!.id, serial: 'SN-race' };
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => registry.createDevice(by, input)),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) {
        if (r.status === 'rejected') assert.ok(hasCode(r.reason, 'ERR_DEVICE_EXISTS'), String(r.reason));
      }
      const tenants = await Promise.allSettled(
        Array.from({ length: 8 }, () => registry.createTenant(by, 'Racer', 'owner')),
      );
      assert.equal(tenants.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of tenants) {
        if (r.status === 'rejected') assert.ok(hasCode(r.reason, 'ERR_TENANT_EXISTS'), String(r.reason));
      }
      await assertAuditConsistent(store);
    });

    void it('a transaction that throws after an audit append leaves no row and no audit entry', async () => {
      const tenants = await count(store, 'tenants');
      const entries = await count(store, 'audit_entries');
      const state = await store.db.selectFrom('audit_state').selectAll().executeTakeFirstOrThrow();
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx
            .insertInto('tenants')
            .values({
              id: 'ten_rollback',
              name: 'Rollback',
              kind: 'owner',
              created_at: clock.now().toISOString(),
            })
            .execute();
          await audit.append(tx, { actor: 'test', action: 'tenant.created', subject: 'ten_rollback' });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await count(store, 'tenants'), tenants);
      assert.equal(await count(store, 'audit_entries'), entries);
      assert.deepEqual(await store.db.selectFrom('audit_state').selectAll().executeTakeFirstOrThrow(), state);
    });

    void it('round-trips bytes columns exactly', async () => {
      const acme = (await registry.findTenantByName('Acme Devices'))!;
      const all = new Uint8Array(256).map((_, i) => i);
      const empty = new Uint8Array(0);
      await store.db
        .insertInto('api_tokens')
        .values([
          {
            id: 'tok_all',
            tenant_id: acme.id,
            name: 'all',
            role: 'admin',
            secret_hash: all,
            created_at: 'now',
            expires_at: null,
            revoked_at: null,
            last_used_at: null,
            created_by: 'test',
          },
          {
            id: 'tok_empty',
            tenant_id: acme.id,
            name: 'empty',
            role: 'admin',
            secret_hash: empty,
            created_at: 'now',
            expires_at: null,
            revoked_at: null,
            last_used_at: null,
            created_by: 'test',
          },
        ])
        .execute();
      const rows = await store.db
        .selectFrom('api_tokens')
        .select(['id', 'secret_hash'])
        .where('id', 'in', ['tok_all', 'tok_empty'])
        .orderBy('id')
        .execute();
      assert.ok(rows[0]!.secret_hash instanceof Uint8Array);
      assert.deepEqual(new Uint8Array(rows[0]!.secret_hash), all);
      assert.deepEqual(new Uint8Array(rows[1]!.secret_hash), empty);
    });

    void it('returns BIGINT columns as numbers', async () => {
      const big = 2 ** 40 + 7;
      await store.db
        .insertInto('audit_tree_heads')
        .values({
          tree_size: big,
          root_hash: new Uint8Array(32),
          timestamp: 'now',
          key_id: 'key_x',
          signature: new Uint8Array(64),
        })
        .execute();
      const head = await store.db
        .selectFrom('audit_tree_heads')
        .selectAll()
        .where('tree_size', '=', big)
        .executeTakeFirstOrThrow();
      assert.equal(head.tree_size, big);
      assert.equal(typeof head.tree_size, 'number');
      await store.db.deleteFrom('audit_tree_heads').where('tree_size', '=', big).execute();
      const entry = await store.db
        .selectFrom('audit_entries')
        .select('seq')
        .orderBy('seq', 'desc')
        .executeTakeFirstOrThrow();
      assert.equal(typeof entry.seq, 'number');
      const state = await store.db.selectFrom('audit_state').select('size').executeTakeFirstOrThrow();
      assert.equal(typeof state.size, 'number');
    });

    void it('the audit log is contiguous and its stored root matches the leaves', async () => {
      assert.ok((await assertAuditConsistent(store)) > 5);
    });
  });
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'imprint-store-'));
after(() => rmSync(sqliteDir, { recursive: true, force: true }));
storeSuite('SQLite', () => Promise.resolve({ kind: 'sqlite', path: join(sqliteDir, 'imprint.db') }));

void describe('SQLite: a server and a CLI process sharing one file', () => {
  void it('concurrent read-then-write transactions from two processes all commit, audit log intact', async () => {
    const path = join(sqliteDir, 'shared.db');
    const first = await openStore({ kind: 'sqlite', path });
    await first.close();
    const writer = join(import.meta.dirname, 'sqlite-writer.ts');
    const run = promisify(execFile);
    await Promise.all(
      ['a', 'b'].map((who) => run(process.execPath, ['--import', 'tsx', writer, path, who, '50'])),
    );
    const store = await openStore({ kind: 'sqlite', path });
    try {
      assert.equal(await count(store, 'tenants'), 100);
      assert.equal(await assertAuditConsistent(store), 100);
    } finally {
      await store.close();
    }
  });
});

let server: PostgresServer | undefined;
const postgres = async (): Promise<PostgresServer> => (server ??= await startPostgres());
after(async () => {
  await server?.stop();
});
storeSuite('PostgreSQL', async () => ({ kind: 'postgres', url: (await postgres()).url }));

void describe('PostgreSQL: several server processes sharing one database', () => {
  void it('concurrent appends from two stores keep the audit log contiguous and its root right', async () => {
    const url = await (await postgres()).createDatabase('imprint_concurrent');
    // Two stores opened at once (two pools, two migrators racing), like two `imprint serve` processes.
    const [a, b] = await Promise.all([
      openStore({ kind: 'postgres', url }),
      openStore({ kind: 'postgres', url }),
    ]);
    try {
      const clock = new ManualClock();
      const logs = [new StoreAuditLog(a.dialect, clock), new StoreAuditLog(b.dialect, clock)];
      const stores = [a, b];
      const jobs = Array.from({ length: 80 }, (_, i) =>
        stores[i % 2]!.transaction(async (tx) => {
          await logs[i % 2]!.append(tx, {
            actor: `proc-${i % 2}`,
            action: 'test.append',
            subject: `s-${i}`,
            details: { i },
          });
          if (i % 5 === 0)
            await logs[i % 2]!.append(tx, {
              actor: `proc-${i % 2}`,
              action: 'test.second',
              subject: `s-${i}`,
            });
        }),
      );
      await Promise.all(jobs);
      assert.equal(await assertAuditConsistent(a), 80 + 16);
      const subjects = await b.db
        .selectFrom('audit_entries')
        .select('subject')
        .where('action', '=', 'test.append')
        .execute();
      assert.equal(new Set(subjects.map((s) => s.subject)).size, 80);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
