import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { noteVerifierFor, parseNote, verifyNote } from '../../src/audit/note.ts';
import { verifyConsistency, verifyInclusion } from '../../src/audit/proof.ts';
import { AuditService } from '../../src/audit/service.ts';
import { fromBase64 } from '../../src/core/encoding.ts';
import { bearer, createTestApp, type TestApp } from '../helpers/app.ts';

describe('audit API', () => {
  let t: TestApp;
  let audit: AuditService;
  before(async () => {
    t = await createTestApp();
    audit = new AuditService({
      store: t.core.store,
      keys: t.core.keys,
      log: t.core.audit,
      clock: t.core.clock,
    });
  });
  after(async () => t.close());

  it('an owner auditor sees only its tenant entries; the manufacturer sees all', async () => {
    const all = (
      await t.app.inject({ url: '/api/v1/audit/entries?limit=1000', headers: bearer(t.tokenA.auditor) })
    ).json();
    const own = (
      await t.app.inject({ url: '/api/v1/audit/entries?limit=1000', headers: bearer(t.tokenB.auditor) })
    ).json();
    assert.ok(all.length > own.length && own.length > 0);
    assert.ok(own.every((e: { tenantId: string }) => e.tenantId === t.owner.id));
    assert.ok(all.some((e: { action: string }) => e.action === 'device.registered'));
  });

  it('serves signed tree heads and proofs that verify against the published key', async () => {
    const first = await audit.signTreeHead();
    await t.app.inject({
      method: 'POST',
      url: '/api/v1/models',
      headers: bearer(t.tokenA.admin),
      payload: { name: 'later' },
    });
    const second = await audit.signTreeHead();
    assert.ok(first !== undefined && second !== undefined && second.treeSize > first.treeSize);

    const key = (
      await t.app.inject({ url: '/api/v1/audit/public-key', headers: bearer(t.tokenA.auditor) })
    ).json();
    const head = (
      await t.app.inject({ url: '/api/v1/audit/tree-head', headers: bearer(t.tokenA.auditor) })
    ).json();
    assert.equal(head.treeSize, second.treeSize);
    const spki = new Uint8Array(createPublicKey(key.publicKeyPem).export({ format: 'der', type: 'spki' }));
    const note = parseNote(head.note);
    assert.ok(
      note !== undefined && verifyNote(note, noteVerifierFor(key.origin, spki)),
      'tree head signature',
    );

    const inc = (
      await t.app.inject({
        url: `/api/v1/audit/proofs/inclusion?seq=2&treeSize=${second.treeSize}`,
        headers: bearer(t.tokenA.auditor),
      })
    ).json();
    assert.ok(
      verifyInclusion(
        fromBase64(inc.leafHash),
        2,
        second.treeSize,
        inc.proof.map(fromBase64),
        fromBase64(head.rootHash),
      ),
    );
    const con = (
      await t.app.inject({
        url: `/api/v1/audit/proofs/consistency?from=${first.treeSize}&to=${second.treeSize}`,
        headers: bearer(t.tokenA.auditor),
      })
    ).json();
    assert.ok(
      verifyConsistency(
        first.treeSize,
        second.treeSize,
        con.proof.map(fromBase64),
        first.rootHash,
        second.rootHash,
      ),
    );
    // A proof against the wrong root fails: the check is real.
    assert.ok(
      !verifyInclusion(
        fromBase64(inc.leafHash),
        3,
        second.treeSize,
        inc.proof.map(fromBase64),
        fromBase64(head.rootHash),
      ),
    );
  });

  it('refuses proofs for entries of another tenant and bad ranges', async () => {
    const other = await t.app.inject({
      url: '/api/v1/audit/proofs/inclusion?seq=0',
      headers: bearer(t.tokenB.auditor),
    });
    assert.equal(other.statusCode, 404);
    const bad = await t.app.inject({
      url: '/api/v1/audit/proofs/consistency?from=5&to=2',
      headers: bearer(t.tokenA.auditor),
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'ERR_AUDIT_PROOF_RANGE');
    const nohead = await t.app.inject({
      url: '/api/v1/audit/tree-head?size=999999',
      headers: bearer(t.tokenA.auditor),
    });
    assert.equal(nohead.statusCode, 404);
  });
});
