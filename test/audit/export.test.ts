import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { entryBytes } from '../../src/audit/entry.ts';
import { exportAudit, type AuditExport, type ExportedEntry } from '../../src/audit/export.ts';
import { leafHash } from '../../src/audit/merkle.ts';
import { checkpointText, formatNote, noteVerifierFor, originForKey } from '../../src/audit/note.ts';
import { AuditService } from '../../src/audit/service.ts';
import { verifyExport } from '../../src/audit/verify.ts';
import type { VerifyReport } from '../../src/audit/verify-types.ts';
import { fromBase64, toHex, toPem } from '../../src/core/encoding.ts';
import { ImprintError } from '../../src/core/errors.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';

const kinds = (r: VerifyReport) => [...new Set(r.problems.map((p) => p.kind))].sort();
const clone = (d: AuditExport) =>
  JSON.parse(JSON.stringify(d)) as { -readonly [K in keyof AuditExport]: AuditExport[K] } & {
    entries: ExportedEntry[];
  };
const rehash = (e: ExportedEntry): ExportedEntry => ({ ...e, leafHash: toHex(leafHash(entryBytes(e))) });
const code = (e: unknown) => (e instanceof ImprintError ? e.code : undefined);

/** A log of 22 entries with heads at 5, 10, 15 and 20 (the last two entries unsigned). */
async function populate(core: TestCore, algorithm: 'ed25519' | 'ecdsa-p256' = 'ed25519') {
  const audit = new AuditService({
    store: core.store,
    keys: core.keys,
    log: core.audit,
    clock: core.clock,
    algorithm,
  });
  let n = 0;
  for (let b = 0; b < 4; b++) {
    await core.store.transaction((tx) =>
      core.audit.appendMany(
        tx,
        Array.from({ length: 5 }, () => ({
          actor: 'token:tok_1',
          action: 'device.created',
          subject: `dev_${n++}`,
          tenantId: 'ten_1',
          details: { serial: `SN-${n}`, flags: [true, false], note: 'café ✓' },
        })),
      ),
    );
    core.clock.advance(60_000);
    await audit.signTreeHead();
  }
  await core.store.transaction((tx) =>
    core.audit.appendMany(tx, [
      { actor: 'system', action: 'x.y', subject: 's1' },
      { actor: 'system', action: 'x.y', subject: 's2' },
    ]),
  );
  const key = await audit.key();
  return {
    audit,
    pem: toPem('PUBLIC KEY', key.publicKeyDer),
    doc: await exportAudit(core.store.db, core.keys),
  };
}

describe('audit export and offline verification', () => {
  let core: TestCore;
  let pem: string;
  let doc: AuditExport;
  before(async () => {
    core = await createTestCore();
    ({ pem, doc } = await populate(core));
  });
  after(() => core.close());

  it('verifies a clean export (also after a JSON round trip)', () => {
    const report = verifyExport(JSON.parse(JSON.stringify(doc)), pem);
    assert.deepEqual(report.problems, []);
    assert.equal(report.ok, true);
    assert.equal(report.entries, 22);
    assert.equal(report.verifiedTreeHeads, 4);
    assert.equal(report.latestTreeSize, 20);
    assert.equal(report.unsignedEntries, 2);
    assert.equal(doc.treeHeads[0]?.note.split('\n')[0], report.origin);
  });

  it('proves an entry in a head and a later head consistent with an earlier one', () => {
    const r = verifyExport(doc, pem, { entrySeq: 7, fromSize: 5, toSize: 20 });
    assert.equal(r.ok, true);
    assert.equal(r.inclusion?.verified, true);
    assert.equal(r.inclusion?.treeSize, 20);
    assert.equal(r.consistency?.verified, true);
    assert.ok((r.consistency?.proof.length ?? 0) > 0);
    const latest = verifyExport(doc, pem, { entrySeq: 19 });
    assert.equal(latest.inclusion?.verified, true);
    const missing = verifyExport(doc, pem, { entrySeq: 3, fromSize: 7, toSize: 20 });
    assert.deepEqual(kinds(missing), ['proof_failed']);
    const unsigned = verifyExport(doc, pem, { entrySeq: 21 });
    assert.deepEqual(kinds(unsigned), ['proof_failed']);
    assert.throws(
      () => verifyExport(doc, pem, { fromSize: 5 }),
      (e) => code(e) === 'ERR_AUDIT_PROOF_RANGE',
    );
  });

  it('names an edited entry', () => {
    const d = clone(doc);
    d.entries[7] = { ...d.entries[7]!, details: { serial: 'SN-EVIL' } };
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['entry_edited']);
    assert.equal(r.problems[0]?.seq, 7);
    assert.match(r.problems[0].message, /entry 7 was edited/);
  });

  it('names a deleted entry', () => {
    const d = clone(doc);
    d.entries.splice(7, 1);
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['entry_deleted']);
    assert.equal(r.problems[0]?.seq, 7);
  });

  it('names an inserted entry, wherever it sits', () => {
    for (const at of [7, 8]) {
      const d = clone(doc);
      d.entries.splice(at, 0, rehash({ ...d.entries[7]!, subject: 'dev_forged', actor: 'token:evil' }));
      const r = verifyExport(d, pem);
      assert.deepEqual(kinds(r), ['entry_inserted'], `inserted at position ${at}`);
      assert.equal(r.problems[0]?.seq, 7);
      assert.equal(r.problems[0]?.index, at);
    }
  });

  it('names reordered entries', () => {
    const d = clone(doc);
    [d.entries[3], d.entries[12]] = [d.entries[12]!, d.entries[3]!];
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['entries_reordered']);
    assert.deepEqual(
      r.problems.map((p) => p.seq).sort((a, b) => a! - b!),
      [3, 12],
    );
  });

  it('names an altered leaf hash', () => {
    const d = clone(doc);
    d.entries[9] = { ...d.entries[9]!, leafHash: 'ab'.repeat(32) };
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['leaf_hash_altered']);
    assert.equal(r.problems[0]?.seq, 9);
  });

  it('names the tree head that no longer matches an edited and rehashed entry', () => {
    const d = clone(doc);
    d.entries[9] = rehash({ ...d.entries[9]!, action: 'device.deleted' });
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['tree_head_mismatch']);
    assert.equal(r.problems[0]?.treeSize, 10);
    assert.match(r.problems[0].message, /entries 5 to 9/);
  });

  it('names a forged tree head', () => {
    const altered = clone(doc);
    const h = altered.treeHeads[2]!;
    const fake = Buffer.alloc(32, 7).toString('base64');
    altered.treeHeads[2] = { ...h, rootHash: fake, note: h.note.replace(h.rootHash, fake) };
    const r1 = verifyExport(altered, pem);
    assert.deepEqual(kinds(r1), ['tree_head_bad_signature']);
    assert.equal(r1.problems[0]?.treeSize, 15);

    // A head for a larger size signed by another key under the log's name is not accepted either.
    const other = generateKeyPairSync('ed25519');
    const spki = new Uint8Array(other.publicKey.export({ format: 'der', type: 'spki' }));
    const origin = doc.origin;
    const text = checkpointText(origin, 22, Buffer.alloc(32, 1));
    const note = formatNote(
      text,
      origin,
      noteVerifierFor(origin, spki).keyId,
      sign(null, Buffer.from(text), other.privateKey),
    );
    const forged = clone(doc);
    forged.treeHeads.push({
      treeSize: 22,
      rootHash: Buffer.alloc(32, 1).toString('base64'),
      timestamp: '',
      note,
    });
    const r2 = verifyExport(forged, pem);
    assert.deepEqual(kinds(r2), ['tree_head_bad_signature']);
    assert.equal(r2.problems[0]?.treeSize, 22);
  });

  it('names a truncated export', () => {
    const d = clone(doc);
    d.entries = d.entries.slice(0, 17);
    const r = verifyExport(d, pem);
    assert.deepEqual(kinds(r), ['truncated']);
    assert.equal(r.problems[0]?.seq, 17);
    assert.equal(r.problems[0]?.treeSize, 20);
  });

  it('catches an export cut back together with its heads, given a checkpoint seen before', () => {
    const d = clone(doc);
    d.entries = d.entries.slice(0, 12);
    d.treeHeads = d.treeHeads.filter((h) => h.treeSize <= 10);
    assert.equal(verifyExport(d, pem).ok, true, 'alone, it looks like an older export');
    const seen = doc.treeHeads.find((h) => h.treeSize === 20)!.note;
    const r = verifyExport(d, pem, { knownCheckpoints: [seen], fromSize: 10, toSize: 20 });
    assert.deepEqual(kinds(r), ['proof_failed', 'truncated']);
    assert.equal(r.problems.find((p) => p.kind === 'truncated')?.treeSize, 20);
    const fine = verifyExport(doc, pem, { knownCheckpoints: [seen], fromSize: 10, toSize: 20 });
    assert.equal(fine.ok, true);
    assert.equal(fine.consistency?.verified, true);
  });

  it('rejects everything under the wrong public key', () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const r = verifyExport(doc, other);
    assert.equal(r.ok, false);
    assert.equal(r.verifiedTreeHeads, 0);
    assert.ok(kinds(r).includes('tree_head_bad_signature'));
    assert.ok(kinds(r).includes('no_tree_head'));
    assert.ok(kinds(r).includes('public_key_mismatch'));
  });

  it('refuses a document or key that is not one', () => {
    assert.throws(
      () => verifyExport({ format: 'x' }, pem),
      (e) => code(e) === 'ERR_AUDIT_EXPORT_MALFORMED',
    );
    assert.throws(
      () => verifyExport(null, pem),
      (e) => code(e) === 'ERR_AUDIT_EXPORT_MALFORMED',
    );
    assert.throws(
      () => verifyExport(doc, 'not a key'),
      (e) => code(e) === 'ERR_AUDIT_PUBLIC_KEY_MALFORMED',
    );
    const d = clone(doc);
    (d.entries as unknown[])[4] = { seq: 'four' };
    assert.deepEqual(kinds(verifyExport(d, pem)), ['entry_deleted', 'entry_malformed']);
    const huge = clone(doc);
    huge.entries[21] = rehash({ ...huge.entries[21]!, seq: 2 ** 52 });
    assert.deepEqual(kinds(verifyExport(huge, pem)), ['entry_malformed']);
  });
});

describe('tampering in the database shows in the export', () => {
  it('names rows edited or deleted behind the log, with an ECDSA P-256 audit key', async () => {
    const core = await createTestCore();
    try {
      const { pem } = await populate(core, 'ecdsa-p256');
      await core.store.db
        .updateTable('audit_entries')
        .set({ details: '{"serial":"SN-X"}' })
        .where('seq', '=', 4)
        .execute();
      await core.store.db.deleteFrom('audit_entries').where('seq', '=', 11).execute();
      const r = verifyExport(await exportAudit(core.store.db, core.keys), pem);
      assert.deepEqual(kinds(r), ['entry_deleted', 'entry_edited']);
      assert.deepEqual(
        r.problems.map((p) => [p.kind, p.seq]),
        [
          ['entry_deleted', 11],
          ['entry_edited', 4],
        ],
      );
      assert.equal(originForKey(fromBase64(pem.split('\n').slice(1, -2).join(''))), r.origin);
    } finally {
      await core.close();
    }
  });

  it('names an insertion, a deletion and a swap done by renumbering rows', async () => {
    const cases: [string, (core: TestCore) => Promise<void>, string[], number[]][] = [
      [
        'insert at 7',
        async (c) => {
          await sql`UPDATE audit_entries SET seq = -(seq + 1) WHERE seq >= 7`.execute(c.store.db);
          await sql`UPDATE audit_entries SET seq = -seq WHERE seq < 0`.execute(c.store.db);
          const forged = {
            seq: 7,
            time: new Date().toISOString(),
            actor: 'token:evil',
            action: 'device.created',
            subject: 'dev_x',
            tenantId: null,
            details: {},
          };
          await c.store.db
            .insertInto('audit_entries')
            .values({
              seq: 7,
              time: forged.time,
              actor: forged.actor,
              action: forged.action,
              subject: forged.subject,
              tenant_id: null,
              details: '{}',
              leaf_hash: leafHash(entryBytes(forged)),
            })
            .execute();
        },
        ['entry_inserted'],
        [7],
      ],
      [
        'delete 7',
        async (c) => {
          await c.store.db.deleteFrom('audit_entries').where('seq', '=', 7).execute();
          await sql`UPDATE audit_entries SET seq = -(seq - 1) WHERE seq > 7`.execute(c.store.db);
          await sql`UPDATE audit_entries SET seq = -seq WHERE seq < 0`.execute(c.store.db);
        },
        ['entry_deleted'],
        [7],
      ],
      [
        'swap 3 and 12',
        async (c) => {
          await sql`UPDATE audit_entries SET seq = CASE seq WHEN 3 THEN -12 ELSE -3 END WHERE seq IN (3, 12)`.execute(
            c.store.db,
          );
          await sql`UPDATE audit_entries SET seq = -seq WHERE seq < 0`.execute(c.store.db);
        },
        ['entries_reordered'],
        [3, 12],
      ],
    ];
    for (const [name, tamper, expected, seqs] of cases) {
      const core = await createTestCore();
      try {
        const { pem } = await populate(core);
        await tamper(core);
        const r = verifyExport(await exportAudit(core.store.db, core.keys), pem);
        assert.deepEqual(kinds(r), expected, name);
        assert.deepEqual(
          r.problems.map((p) => p.seq),
          seqs,
          name,
        );
      } finally {
        await core.close();
      }
    }
  });

  it('refuses to export without an audit key', async () => {
    const core = await createTestCore();
    try {
      await assert.rejects(
        exportAudit(core.store.db, core.keys),
        (e) => code(e) === 'ERR_AUDIT_KEY_NOT_FOUND',
      );
    } finally {
      await core.close();
    }
  });
});
