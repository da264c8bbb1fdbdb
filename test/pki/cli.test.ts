import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { caCommand, certCommand, type OpenPki } from '../../src/cli/ca.ts';
import { hasCode } from '../../src/core/errors.ts';
import { createPki, makeCsr, openssl, opensslTry, write, type PkiFixture } from './helpers.ts';

/** Runs one CLI invocation against the fixture and returns what it printed. */
async function cli(f: PkiFixture, args: string[]): Promise<string> {
  const open: OpenPki = () =>
    Promise.resolve({ pki: f.pki, registry: f.core.registry, close: () => Promise.resolve() });
  const program = new Command('imprint').option('--json').exitOverride();
  program.addCommand(caCommand(open));
  program.addCommand(certCommand(open));
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ writeErr: () => undefined });
    c.commands.forEach(quiet);
  };
  quiet(program);
  const chunks: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    // The test runner reports over stdout in Buffers: let those through, keep what the command prints.
    if (typeof chunk !== 'string') return original(chunk);
    chunks.push(chunk);
    return true;
  };
  try {
    await program.parseAsync(['node', 'imprint', ...args]);
  } finally {
    process.stdout.write = original;
  }
  return chunks.join('');
}

describe('imprint ca / cert commands', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki({ init: false });
  });
  after(async () => {
    await f.close();
  });

  it('initialises a hierarchy with an offline root, lists and shows CAs', async () => {
    const keyFile = join(f.dir, 'root-offline.key');
    process.env.TEST_ROOT_PASS = 'a long enough passphrase';
    const cas = JSON.parse(
      await cli(f, ['--json', 'ca', 'init', '--offline-root', keyFile, '--passphrase-env', 'TEST_ROOT_PASS']),
    ) as { role: string; state: string }[];
    assert.equal(cas.length, 5);
    assert.equal(cas.find((c) => c.role === 'root')!.state, 'offline');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.equal(opensslTry(['pkey', '-in', keyFile, '-passin', 'env:TEST_ROOT_PASS', '-noout']).code, 0);
    const table = await cli(f, ['ca', 'list']);
    assert.match(table, /manufacturer\s+manufacturer\s+active/);
    const man = (JSON.parse(await cli(f, ['--json', 'ca', 'list'])) as { id: string; role: string }[]).find(
      (c) => c.role === 'manufacturer',
    )!;
    const chain = await cli(f, ['ca', 'show', man.id, '--pem']);
    assert.equal((chain.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
    await assert.rejects(cli(f, ['ca', 'init']), (e) => hasCode(e, 'ERR_CA_EXISTS'));
  });

  it('issues from a CSR file, revokes, prints the CRL and lists certificates', async () => {
    const { csrPath } = makeCsr(f.dir, 'cli', '/serialNumber=SN0001');
    const pem = await cli(f, [
      'ca',
      'issue',
      '--csr',
      csrPath,
      '--profile',
      'idevid',
      '--no-expiry',
      '--hw-type',
      '1.3.6.1.4.1.59999.2',
    ]);
    assert.match(pem, /BEGIN CERTIFICATE/);
    const leaf = write(f.dir, 'cli.pem', pem);
    assert.match(openssl(['x509', '-in', leaf, '-noout', '-enddate']), /notAfter=Dec 31 23:59:59 9999 GMT/);
    const certs = JSON.parse(await cli(f, ['--json', 'cert', 'list', '--profile', 'idevid'])) as {
      id: string;
      serialHex: string;
    }[];
    assert.equal(certs.length, 1);
    const shown = JSON.parse(await cli(f, ['--json', 'cert', 'show', certs[0]!.id])) as {
      pem: string;
      status: string;
    };
    assert.equal(shown.status, 'good');
    const revoked = JSON.parse(
      await cli(f, ['--json', 'ca', 'revoke', '--serial', certs[0]!.serialHex, '--reason', 'keyCompromise']),
    ) as {
      status: string;
      crlNumber: number;
    };
    assert.equal(revoked.status, 'revoked');
    assert.equal(revoked.crlNumber, 2);
    const man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    const crlPem = await cli(f, ['ca', 'crl', '--ca', man.id]);
    const crlText = openssl(['crl', '-noout', '-text'], crlPem);
    assert.match(crlText, new RegExp(certs[0]!.serialHex, 'i'));
    const out = join(f.dir, 'm.crl');
    const published = JSON.parse(
      await cli(f, ['--json', 'ca', 'crl', '--ca', man.id, '--publish', '--out', out]),
    ) as { number: number };
    assert.equal(published.number, 3);
    assert.match(openssl(['crl', '-inform', 'DER', '-in', out, '-noout', '-crlnumber']), /crlNumber=0x03/);
    assert.ok(readFileSync(out).length > 0);
    await assert.rejects(cli(f, ['ca', 'issue', '--csr', csrPath, '--profile', 'nope']));
  });
});
