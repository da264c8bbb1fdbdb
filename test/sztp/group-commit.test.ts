import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Agent, request } from 'node:https';
import { after, before, test } from 'node:test';
import { GroupCommit } from '../../src/sztp/group-commit.ts';
import { keyPem, pem } from './pki-helpers.ts';
import { makeWorld, onboardingDoc, type World } from './world.ts';

const image = new TextEncoder().encode('ImprintOS 2.0 image bytes');
const hash = new Uint8Array(createHash('sha256').update(image).digest());
const GBD = '/restconf/operations/ietf-sztp-bootstrap-server:get-bootstrapping-data';
const by = { actor: 'test' };

let w: World;
before(async () => {
  w = await makeWorld();
  await w.admin.bind(by, { tenantId: w.mfgTenantId, ownerId: w.ownerId, serials: ['SN-0001'] });
});
after(() => w.close());

function gbd(agent: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: w.port,
        path: GBD,
        method: 'POST',
        agent,
        ca: pem(w.tlsCa),
        cert: pem(w.idevid),
        key: keyPem(w.idevid),
        headers: { 'content-type': 'application/yang-data+json' },
      },
      (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
      },
    );
    req.on('error', reject);
    req.end('{"ietf-sztp-bootstrap-server:input":{"hw-model":"sensor-1"}}');
  });
}

async function counts(): Promise<{ log: number; audit: number }> {
  const log = await w.core.store.db
    .selectFrom('sztp_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('device_id', '=', w.device.id)
    .where('kind', '=', 'request')
    .executeTakeFirstOrThrow();
  const audit = await w.core.store.db
    .selectFrom('audit_entries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('subject', '=', w.device.id)
    .where('action', '=', 'sztp.bootstrap.requested')
    .executeTakeFirstOrThrow();
  return { log: Number(log.n), audit: Number(audit.n) };
}

test('concurrent requests on kept-alive connections are each logged and audited; a record change shows at once', async () => {
  await w.admin.setRecord(by, {
    ownerId: w.ownerId,
    scope: 'owner',
    scopeId: w.ownerId,
    document: onboardingDoc(image, hash),
  });
  const before = await counts();
  const agents = Array.from({ length: 4 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => gbd(agents[i % agents.length] as Agent)),
  );
  assert.ok(answers.every((a) => a.status === 200));
  assert.equal(new Set(answers.map((a) => a.body)).size, 1); // one device, one (cached) answer
  const afterwards = await counts();
  assert.equal(afterwards.log - before.log, 40);
  assert.equal(afterwards.audit - before.audit, 40);

  // A changed record is signed and encoded anew, on the same kept-alive connection.
  await w.admin.setRecord(by, {
    ownerId: w.ownerId,
    scope: 'owner',
    scopeId: w.ownerId,
    document: onboardingDoc(image, hash, '{"hostname":"renamed"}'),
  });
  const changed = await gbd(agents[0] as Agent);
  assert.equal(changed.status, 200);
  assert.notEqual(changed.body, answers[0]?.body);
  for (const a of agents) a.destroy();
});

test('GroupCommit batches concurrent items into one transaction and isolates a failing item', async () => {
  const batches: string[][] = [];
  const commits = new GroupCommit<string>(w.core.store, async (tx, items) => {
    batches.push([...items]);
    for (const item of items) {
      if (item === 'bad') throw new Error('refused');
      await w.core.audit.append(tx, { actor: 'test', action: 'test.item', subject: item, details: {} });
    }
  });
  const items = Array.from({ length: 10 }, (_, i) => `item-${i}`);
  await Promise.all(items.map((i) => commits.run(i)));
  assert.deepEqual(batches, [items]); // queued in one loop turn: one transaction

  batches.length = 0;
  const outcomes = await Promise.allSettled(['a', 'bad', 'b'].map((i) => commits.run(i)));
  assert.deepEqual(
    outcomes.map((o) => o.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(batches.length, 4); // the shared attempt, then each alone
  const stored = await w.core.store.db
    .selectFrom('audit_entries')
    .select('subject')
    .where('action', '=', 'test.item')
    .execute();
  assert.deepEqual(stored.map((r) => r.subject).sort(), [...items, 'a', 'b'].sort());
});

test('GroupCommit gathers entries that keep arriving over the next turns into one batch, a few turns at most', async () => {
  const batches: string[][] = [];
  const commits = new GroupCommit<string>(
    w.core.store,
    async (_tx, items) => {
      batches.push([...items]);
      return Promise.resolve();
    },
    256,
    2,
  );
  const turn = () => new Promise<void>((r) => setImmediate(r));
  const done: Promise<void>[] = [commits.run('t0')];
  await turn();
  done.push(commits.run('t1')); // arrived one turn later: joins
  await turn();
  done.push(commits.run('t2')); // two turns later: joins (the second and last extra turn)
  await turn();
  done.push(commits.run('t3')); // too late: the next batch
  await Promise.all(done);
  assert.deepEqual(batches, [['t0', 't1', 't2'], ['t3']]);
  assert.deepEqual(commits.stats, { batches: 2, entries: 4 });
});
