import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { canonicalJson } from '../../src/audit/canonical.ts';
import { entryBytes } from '../../src/audit/entry.ts';
import { AUDIT_KEY_LABEL } from '../../src/audit/heads.ts';
import { leafHash } from '../../src/audit/merkle.ts';
import {
  noteVerifierFor,
  originForKey,
  parseCheckpoint,
  parseNote,
  verifyNote,
} from '../../src/audit/note.ts';
import { subtreeHash, verifyConsistency, verifyInclusion } from '../../src/audit/proof.ts';
import { AuditService } from '../../src/audit/service.ts';
import type { AuditEvent } from '../../src/audit/types.ts';
import { toPem } from '../../src/core/encoding.ts';
import { ImprintError } from '../../src/core/errors.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';

const ev = (i: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({
  actor: 'test',
  action: 'thing.done',
  subject: `thing-${i}`,
  tenantId: i % 2 === 0 ? 'ten_a' : null,
  details: { i, nested: { list: [1, 'two', null], when: new Date(0) } },
  ...extra,
});

async function rowsOf(core: TestCore) {
  return core.store.db.selectFrom('audit_entries').selectAll().orderBy('seq').execute();
}

/** The MTH of the log recomputed from each row's content, not from the stored leaf hashes. */
async function naiveRoot(core: TestCore, size?: number) {
  const rows = (await rowsOf(core)).slice(0, size);
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
  return { leaves, root: subtreeHash(leaves, 0, leaves.length) };
}

function code(e: unknown): string | undefined {
  return e instanceof ImprintError ? e.code : undefined;
}

describe('audit log appends', () => {
  let core: TestCore;
  let audit: AuditService;
  before(async () => {
    core = await createTestCore();
    audit = new AuditService({ store: core.store, keys: core.keys, log: core.audit, clock: core.clock });
  });
  after(() => core.close());

  it('keeps the frontier equal to the naive root through single and batched appends', async () => {
    for (let i = 0; i < 7; i++) await core.store.transaction((tx) => core.audit.append(tx, ev(i)));
    const batch = Array.from({ length: 1234 }, (_, i) => ev(100 + i));
    const entries = await core.store.transaction((tx) => core.audit.appendMany(tx, batch));
    assert.equal(entries.length, 1234);
    assert.deepEqual(
      entries.map((e) => e.seq),
      Array.from({ length: 1234 }, (_, i) => 7 + i),
    );
    await core.store.transaction((tx) => core.audit.append(tx, ev(9999)));
    // Flat details take a faster path; the stored JSON must still re-hash to the same leaf.
    const flat = [-0, 1e21, 0.1, 'é\ud800', '\u2028', true, null].map((v, i) => ({
      actor: 'test',
      action: 'flat.value',
      subject: `flat-${i}`,
      details: { v, 'z\u00e9': 'x', a: 1 },
    }));
    await core.store.transaction((tx) => core.audit.appendMany(tx, flat));
    const rows = await rowsOf(core);
    assert.deepEqual(
      rows.map((r) => r.seq),
      rows.map((_, i) => i),
    );
    for (const r of rows) {
      const e = {
        seq: r.seq,
        time: r.time,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        tenantId: r.tenant_id,
        details: JSON.parse(r.details) as Record<string, unknown>,
      };
      assert.deepEqual(new Uint8Array(r.leaf_hash), leafHash(entryBytes(e)));
      // The fast top-level encoding is exactly the generic RFC 8785 canonicalisation.
      assert.deepEqual(entryBytes(e), new TextEncoder().encode(canonicalJson(e)));
    }
    const head = await audit.signTreeHead();
    assert.ok(head !== undefined);
    assert.equal(head.treeSize, rows.length);
    assert.equal(rows.length, 7 + 1234 + 1 + 7);
    assert.deepEqual(head.rootHash, (await naiveRoot(core)).root);
  });

  it('writes nothing when the transaction rolls back or an event is invalid', async () => {
    const before = (await rowsOf(core)).length;
    await assert.rejects(
      core.store.transaction(async (tx) => {
        await core.audit.appendMany(tx, [ev(1), ev(2)]);
        throw new Error('the change failed');
      }),
      /the change failed/,
    );
    await assert.rejects(
      core.store.transaction((tx) => core.audit.appendMany(tx, [ev(1), ev(2, { actor: '' })])),
      (e) => code(e) === 'ERR_AUDIT_EVENT_INVALID',
    );
    await assert.rejects(
      core.store.transaction((tx) =>
        core.audit.append(tx, ev(3, { details: [] as unknown as Record<string, unknown> })),
      ),
      (e) => code(e) === 'ERR_AUDIT_EVENT_INVALID',
    );
    assert.equal((await rowsOf(core)).length, before);
    const state = await core.store.db.selectFrom('audit_state').selectAll().executeTakeFirstOrThrow();
    assert.equal(state.size, before);
    assert.deepEqual(await core.store.transaction((tx) => core.audit.appendMany(tx, [])), []);
  });

  it('reads the tail and filtered pages', async () => {
    const tail = await audit.tail(3);
    const size = (await rowsOf(core)).length;
    assert.deepEqual(
      tail.map((e) => e.seq),
      [size - 3, size - 2, size - 1],
    );
    const page = await audit.entries({ after: 5, limit: 4 });
    assert.deepEqual(
      page.map((e) => e.seq),
      [6, 7, 8, 9],
    );
    const bySubject = await audit.entries({ subject: 'thing-101' });
    assert.equal(bySubject.length, 1);
    assert.equal(bySubject[0]?.seq, 8);
    const byTenant = await audit.entries({ tenantId: 'ten_a', limit: 1000 });
    assert.ok(byTenant.length > 0 && byTenant.every((e) => e.tenantId === 'ten_a'));
    await assert.rejects(audit.entries({ limit: 0 }), (e) => code(e) === 'ERR_AUDIT_QUERY_INVALID');
    await assert.rejects(audit.tail(1001), (e) => code(e) === 'ERR_AUDIT_QUERY_INVALID');
  });
});

describe('signed tree heads', () => {
  for (const algorithm of ['ed25519', 'ecdsa-p256'] as const) {
    it(`signs C2SP checkpoints with an ${algorithm} audit key that openssl accepts`, async () => {
      const core = await createTestCore();
      try {
        const audit = new AuditService({
          store: core.store,
          keys: core.keys,
          log: core.audit,
          clock: core.clock,
          algorithm,
        });
        assert.equal(await audit.signTreeHead(), undefined, 'nothing to sign on an empty log');
        await core.store.transaction((tx) => core.audit.appendMany(tx, [ev(0), ev(1), ev(2)]));
        const head = await audit.signTreeHead();
        assert.ok(head !== undefined);
        assert.equal(await audit.signTreeHead(), undefined, 'not grown: no new head');
        const key = await audit.key();
        assert.equal(key.label, AUDIT_KEY_LABEL);
        assert.equal(key.algorithm, algorithm);
        const origin = originForKey(key.publicKeyDer);
        const note = parseNote(head.note);
        assert.ok(note !== undefined);
        assert.ok(verifyNote(note, noteVerifierFor(origin, key.publicKeyDer)));
        const cp = parseCheckpoint(note.text);
        assert.equal(cp?.origin, origin);
        assert.equal(cp?.size, 3);
        assert.deepEqual(cp?.root, (await naiveRoot(core)).root);
        assert.equal(note.signatures[0]?.name, origin);

        // An independent check of the signature bytes with the openssl CLI.
        const pub = join(core.dir, 'audit.pem');
        const text = join(core.dir, 'note.txt');
        const sig = join(core.dir, 'note.sig');
        writeFileSync(pub, toPem('PUBLIC KEY', key.publicKeyDer));
        writeFileSync(text, note.text);
        writeFileSync(sig, note.signatures[0].signature);
        const args =
          algorithm === 'ed25519'
            ? ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', text, '-sigfile', sig]
            : ['dgst', '-sha256', '-verify', pub, '-signature', sig, text];
        assert.match(
          execFileSync('openssl', args, { encoding: 'utf8' }),
          /Verified OK|Signature Verified Successfully/,
        );

        core.clock.advance(1000);
        await core.store.transaction((tx) => core.audit.append(tx, ev(3)));
        const next = await audit.signTreeHead();
        assert.equal(next?.treeSize, 4);
        assert.deepEqual(
          (await audit.treeHeads()).map((h) => h.treeSize),
          [3, 4],
        );
        assert.equal((await audit.treeHead()).treeSize, 4);
      } finally {
        await core.close();
      }
    });
  }

  it('refuses an audit key that cannot sign notes, and writes no head', async () => {
    const core = await createTestCore();
    try {
      await core.keys.generate(AUDIT_KEY_LABEL, 'rsa-3072');
      const audit = new AuditService({
        store: core.store,
        keys: core.keys,
        log: core.audit,
        clock: core.clock,
      });
      await core.store.transaction((tx) => core.audit.append(tx, ev(0)));
      await assert.rejects(audit.signTreeHead(), (e) => code(e) === 'ERR_AUDIT_KEY_ALGORITHM');
      assert.equal((await core.store.db.selectFrom('audit_tree_heads').selectAll().execute()).length, 0);
      const other = await createTestCore();
      try {
        const rsa = new AuditService({
          store: other.store,
          keys: other.keys,
          log: other.audit,
          clock: other.clock,
          algorithm: 'rsa-4096',
        });
        await assert.rejects(rsa.key(), (e) => code(e) === 'ERR_AUDIT_KEY_ALGORITHM');
        assert.equal(await other.keys.findByLabel(AUDIT_KEY_LABEL), undefined, 'no unusable key was created');
      } finally {
        await other.close();
      }
    } finally {
      await core.close();
    }
  });

  it('proves inclusion and consistency against signed heads', async () => {
    const core = await createTestCore();
    try {
      const audit = new AuditService({
        store: core.store,
        keys: core.keys,
        log: core.audit,
        clock: core.clock,
      });
      await core.store.transaction((tx) =>
        core.audit.appendMany(
          tx,
          Array.from({ length: 13 }, (_, i) => ev(i)),
        ),
      );
      const h13 = await audit.signTreeHead();
      await core.store.transaction((tx) =>
        core.audit.appendMany(
          tx,
          Array.from({ length: 8 }, (_, i) => ev(20 + i)),
        ),
      );
      const h21 = await audit.signTreeHead();
      assert.ok(h13 && h21);
      for (const seq of [0, 6, 12]) {
        const p = await audit.inclusionProof(seq, 13);
        assert.ok(verifyInclusion(p.leafHash, seq, 13, p.proof, h13.rootHash));
        assert.ok(!verifyInclusion(p.leafHash, seq, 13, p.proof, h21.rootHash));
      }
      const latest = await audit.inclusionProof(20);
      assert.equal(latest.head.treeSize, 21);
      assert.ok(verifyInclusion(latest.leafHash, 20, 21, latest.proof, h21.rootHash));
      const c = await audit.consistencyProof(13, 21);
      assert.ok(verifyConsistency(13, 21, c.proof, h13.rootHash, h21.rootHash));
      await assert.rejects(audit.inclusionProof(13, 13), (e) => code(e) === 'ERR_AUDIT_ENTRY_NOT_FOUND');
      await assert.rejects(audit.inclusionProof(0, 5), (e) => code(e) === 'ERR_AUDIT_TREE_HEAD_NOT_FOUND');
      await assert.rejects(audit.consistencyProof(21, 13), (e) => code(e) === 'ERR_AUDIT_PROOF_RANGE');
    } finally {
      await core.close();
    }
  });
});
