import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { AuditService } from '../../src/audit/service.ts';
import { auditCommand } from '../../src/cli/audit.ts';
import { toPem } from '../../src/core/encoding.ts';
import { ImprintError } from '../../src/core/errors.ts';
import { createTestCore, type TestCore } from '../helpers/core.ts';

describe('imprint audit tail|export|verify', () => {
  let core: TestCore;
  let audit: AuditService;
  let out = '';
  let err = '';
  let opened = 0;
  let pemFile: string;

  const run = async (...args: string[]) => {
    out = '';
    err = '';
    const program = new Command('imprint').option('--json').exitOverride();
    const cmd = auditCommand(
      async () => {
        opened++;
        return { store: core.store, keys: core.keys, audit, close: async () => undefined };
      },
      { out: (t) => void (out += t), err: (t) => void (err += t) },
    );
    const quiet = (c: Command) => {
      c.exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
      c.commands.forEach(quiet);
    };
    quiet(cmd);
    program.addCommand(cmd);
    await program.parseAsync(['audit', ...args], { from: 'user' });
  };

  before(async () => {
    core = await createTestCore();
    audit = new AuditService({ store: core.store, keys: core.keys, log: core.audit, clock: core.clock });
    for (let b = 0; b < 3; b++) {
      await core.store.transaction((tx) =>
        core.audit.appendMany(
          tx,
          Array.from({ length: 4 }, (_, i) => ({
            actor: 'cli:test',
            action: 'demo.done',
            subject: `s${b * 4 + i}`,
          })),
        ),
      );
      await audit.signTreeHead();
    }
    pemFile = join(core.dir, 'audit.pem');
    writeFileSync(pemFile, toPem('PUBLIC KEY', (await audit.key()).publicKeyDer));
  });
  after(() => core.close());

  it('tails the log as text and JSON', async () => {
    await run('tail', '-n', '2');
    assert.deepEqual(
      out
        .trim()
        .split('\n')
        .map((l) => l.split('  ')[0]),
      ['10', '11'],
    );
    await run('tail', '-n', '3', '--json');
    assert.deepEqual(
      (JSON.parse(out) as { seq: number }[]).map((e) => e.seq),
      [9, 10, 11],
    );
    await assert.rejects(run('tail', '-n', '0'), /positive integer/);
  });

  it('exports, then verifies offline with proofs', async () => {
    const file = join(core.dir, 'export.json');
    await run('export', '--out', file);
    assert.match(out, /wrote 12 entries and 3 tree heads/);
    const before = opened;
    await run('verify', file, '--public-key', pemFile, '--entry', '5', '--from', '4', '--to', '12');
    assert.equal(opened, before, 'verify must not open the installation');
    assert.match(out, /^OK: imprint\.audit\/[0-9a-f]{16}: 12 entries, 3\/3 tree heads verified/);
    assert.match(out, /entry 5 is included in the tree head for size 12/);
    assert.match(out, /size 12 is consistent with the one for size 4/);
    await run('verify', file, '--public-key', pemFile, '--json');
    assert.equal((JSON.parse(out) as { ok: boolean }).ok, true);
  });

  it('fails with the named problems on a tampered export', async () => {
    const file = join(core.dir, 'export.json');
    await run('export', '--out', file);
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { entries: { subject: string }[] };
    doc.entries[6]!.subject = 'someone-else';
    doc.entries.splice(2, 1);
    const bad = join(core.dir, 'tampered.json');
    writeFileSync(bad, JSON.stringify(doc));
    await assert.rejects(
      run('verify', bad, '--public-key', pemFile),
      (e) => e instanceof ImprintError && e.code === 'ERR_AUDIT_VERIFY_FAILED',
    );
    assert.match(err, /^FAILED/);
    assert.match(err, /entry 2 was deleted/);
    assert.match(err, /entry 6 was edited/);
  });

  it('refuses unreadable files and keys', async () => {
    await assert.rejects(
      run('verify', join(core.dir, 'missing.json'), '--public-key', pemFile),
      (e) => e instanceof ImprintError && e.code === 'ERR_AUDIT_FILE_UNREADABLE',
    );
    const notJson = join(core.dir, 'x.json');
    writeFileSync(notJson, '{');
    await assert.rejects(
      run('verify', notJson, '--public-key', pemFile),
      (e) => e instanceof ImprintError && e.code === 'ERR_AUDIT_EXPORT_MALFORMED',
    );
    await assert.rejects(
      run('verify', join(core.dir, 'export.json'), '--public-key', notJson),
      (e) => e instanceof ImprintError && e.code === 'ERR_AUDIT_PUBLIC_KEY_MALFORMED',
    );
  });
});
