import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { caCommand, type OpenPki } from '../../src/cli/ca.ts';
import { hasCode } from '../../src/core/errors.ts';
import { toPem } from '../../src/core/encoding.ts';
import { defaultHierarchy } from '../../src/pki/hierarchy.ts';
import type { CaRecord } from '../../src/pki/types.ts';
import { count, createPki, makeCsr, openssl, opensslTry, write, type PkiFixture } from './helpers.ts';
import { ocspQuery, startPublic } from './scenario.ts';

const PASS = 'offline root ceremony passphrase';

/** Runs one `imprint ca …` invocation against the fixture and returns what it printed. */
async function cli(f: PkiFixture, args: string[]): Promise<string> {
  const open: OpenPki = () =>
    Promise.resolve({ pki: f.pki, registry: f.core.registry, close: () => Promise.resolve() });
  const program = new Command('imprint').option('--json').exitOverride();
  program.addCommand(caCommand(open));
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
    await program.parseAsync(['node', 'imprint', '--json', ...args]);
  } finally {
    process.stdout.write = original;
  }
  return chunks.join('');
}

describe('offline-root ceremonies', () => {
  let f: PkiFixture;
  let keyFile: string;
  let passFile: string;
  let rootPem: string;
  let cas: CaRecord[];
  const role = (r: string): CaRecord => cas.find((c) => c.role === r)!;
  before(async () => {
    f = await createPki({ init: false });
    const p = defaultHierarchy('Acme');
    const result = await f.pki.initHierarchy(f.by, f.tenantId, {
      ...p,
      root: { ...p.root, exportPassphrase: PASS },
    });
    keyFile = write(f.dir, 'root.p8', result.rootKeyPem!);
    passFile = write(f.dir, 'pass.txt', `${PASS}\n`);
    cas = await f.pki.listCas(f.tenantId);
    rootPem = write(f.dir, 'root.pem', toPem('CERTIFICATE', role('root').certificate));
  });
  after(async () => {
    await f.close();
  });

  it('the exported root key is AES-256 PBES2 PKCS#8 that openssl reads with the passphrase', () => {
    assert.match(openssl(['asn1parse', '-in', keyFile]), /PBES2[\s\S]*PBKDF2[\s\S]*aes-256-cbc/);
    process.env.TEST_OFFLINE_PASS = PASS;
    const pub = openssl(['pkey', '-in', keyFile, '-passin', 'env:TEST_OFFLINE_PASS', '-pubout']);
    assert.equal(openssl(['x509', '-in', rootPem, '-noout', '-pubkey']), pub);
    assert.equal(role('root').state, 'offline');
    assert.equal(role('root').keyId, null);
  });

  it('signs the root CRL offline; openssl verifies it and sees a revoked issuing CA', async () => {
    // Revoking an issuing CA certificate is recorded at once; the root CRL follows at the ceremony.
    const csCert = (await f.pki.listCertificates(f.tenantId, { profile: 'ca-code-signing' }))[0]!;
    const revoked = await f.pki.revoke(f.by, {
      tenantId: f.tenantId,
      certificateId: csCert.id,
      reason: 'cessationOfOperation',
    });
    assert.equal(revoked.crl, null);
    const out = join(f.dir, 'root.crl');
    const printed = JSON.parse(
      await cli(f, ['ca', 'root', 'sign-crl', '--key', keyFile, '--passphrase-file', passFile, '--out', out]),
    ) as { number: number; caId: string };
    assert.equal(printed.caId, role('root').id);
    assert.equal(printed.number, 2);
    const text = opensslTry(['crl', '-inform', 'DER', '-in', out, '-CAfile', rootPem, '-noout', '-text']);
    assert.equal(text.code, 0, text.out);
    assert.match(text.out, /verify OK/);
    assert.match(text.out, /X509v3 CRL Number:\s+2/);
    // openssl prints whole octets: a serial whose hex has an odd length gains a leading 0.
    assert.match(text.out, new RegExp(`Serial Number: 0?${csCert.serialHex.toUpperCase()}\\n`));
    assert.match(text.out, /Cessation Of Operation/);
    const crlPem = write(f.dir, 'root-crl.pem', openssl(['crl', '-inform', 'DER', '-in', out]));
    const csPem = write(f.dir, 'cs.pem', toPem('CERTIFICATE', role('code-signing').certificate));
    const manPem = write(f.dir, 'man.pem', toPem('CERTIFICATE', role('manufacturer').certificate));
    const bad = opensslTry(['verify', '-crl_check', '-CAfile', rootPem, '-CRLfile', crlPem, csPem]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.out, /certificate revoked/);
    assert.match(openssl(['verify', '-crl_check', '-CAfile', rootPem, '-CRLfile', crlPem, manPem]), /: OK/);
    // Published where relying parties fetch it, and audited.
    assert.equal((await f.pki.latestCrl(role('root').id)).number, 2);
    const audit = await f.core.store.db
      .selectFrom('audit_entries')
      .select('details')
      .where('action', '=', 'crl.published')
      .where('subject', '=', role('root').id)
      .execute();
    assert.equal(audit.length, 2);
  });

  it('renews an issuing CA certificate offline; old and new leaves chain, issuing goes on', async () => {
    const man = role('manufacturer');
    const before = makeCsr(f.dir, 'before', '/serialNumber=SN0001');
    const oldLeaf = await f.pki.issue(f.by, { tenantId: f.tenantId, profile: 'idevid', csr: before.csrPem });
    process.env.IMPRINT_ROOT_PASSPHRASE = PASS;
    const renewed = JSON.parse(
      await cli(f, ['ca', 'root', 'issue-ca', '--key', keyFile, '--renew', man.id, '--years', '5']),
    ) as { id: string; serialHex: string; notAfter: string; certificatePem: string };
    delete process.env.IMPRINT_ROOT_PASSPHRASE;
    assert.equal(renewed.id, man.id);
    assert.notEqual(renewed.serialHex, man.serialHex);
    const newCa = write(f.dir, 'man-new.pem', renewed.certificatePem);
    assert.match(openssl(['verify', '-CAfile', rootPem, newCa]), /: OK/);
    const years = (Date.parse(renewed.notAfter) - Date.now()) / (365 * 86400_000);
    assert.ok(years > 4.9 && years < 5.1, String(years));
    const chain = write(f.dir, 'chain-new.pem', readFileSync(rootPem, 'utf8') + renewed.certificatePem);
    assert.match(openssl(['verify', '-CAfile', chain, write(f.dir, 'old.pem', oldLeaf.pem)]), /: OK/);
    const after = await f.pki.issue(f.by, {
      tenantId: f.tenantId,
      profile: 'idevid',
      csr: makeCsr(f.dir, 'after', '/serialNumber=SN0002').csrPem,
    });
    assert.match(openssl(['verify', '-CAfile', chain, write(f.dir, 'new.pem', after.pem)]), /: OK/);
    assert.equal(after.chainPem.startsWith(renewed.certificatePem), true);
    const audit = await f.core.store.db
      .selectFrom('audit_entries')
      .select('details')
      .where('action', '=', 'ca.renewed')
      .executeTakeFirstOrThrow();
    assert.equal((JSON.parse(audit.details) as { previousSerial: string }).previousSerial, man.serialHex);
  });

  it('creates a new issuing CA offline that issues, publishes a CRL and answers OCSP', async () => {
    f.core.clock.advance(1000); // the newest CA of a role issues for it
    const created = JSON.parse(
      await cli(f, [
        'ca',
        'root',
        'issue-ca',
        '--key',
        keyFile,
        '--passphrase-file',
        passFile,
        '--role',
        'operational',
        '--name',
        'operational-2',
        '--common-name',
        'Acme Operational 2 CA',
      ]),
    ) as { id: string; certificatePem: string; state: string };
    assert.equal(created.state, 'active');
    const caPem = write(f.dir, 'op2.pem', created.certificatePem);
    const text = openssl(['x509', '-in', caPem, '-noout', '-text']);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /Subject: O ?= ?Acme, CN ?= ?Acme Operational 2 CA/);
    const bundle = write(f.dir, 'op2-bundle.pem', readFileSync(rootPem, 'utf8') + created.certificatePem);
    const leaf = await f.pki.issue(f.by, {
      tenantId: f.tenantId,
      profile: 'ldevid',
      csr: makeCsr(f.dir, 'op2-leaf', '/serialNumber=SN0003').csrPem,
    });
    assert.equal(leaf.certificate.caId, created.id);
    const leafPath = write(f.dir, 'op2-leaf.pem', leaf.pem);
    assert.match(openssl(['verify', '-CAfile', bundle, leafPath]), /: OK/);
    assert.equal((await f.pki.latestCrl(created.id)).number, 1);
    const server = await startPublic(f);
    try {
      const out = await ocspQuery(server.url, caPem, bundle, { cert: leafPath });
      assert.match(out, /Response verify OK/);
      assert.match(out, /: good/);
    } finally {
      await server.app.close();
    }
  });

  it('refuses a wrong passphrase, another key and a missing passphrase, writing nothing', async () => {
    const crls = await count(f.core, 'crls');
    const entries = await count(f.core, 'audit_entries');
    await assert.rejects(
      f.pki.signRootCrl(f.by, f.tenantId, {
        pem: readFileSync(keyFile, 'utf8'),
        passphrase: 'wrong passphrase',
      }),
      (e) => hasCode(e, 'ERR_CA_KEY_UNREADABLE'),
    );
    const otherKey = join(f.dir, 'other.p8');
    openssl([
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-384',
      '-aes-256-cbc',
      '-pass',
      `pass:${PASS}`,
      '-out',
      otherKey,
    ]);
    await assert.rejects(
      f.pki.signRootCrl(f.by, f.tenantId, { pem: readFileSync(otherKey, 'utf8'), passphrase: PASS }),
      (e) => hasCode(e, 'ERR_CA_KEY_MISMATCH'),
    );
    await assert.rejects(
      f.pki.signRootCrl(f.by, f.tenantId, {
        pem: openssl(['pkey', '-in', keyFile, '-passin', `pass:${PASS}`]),
        passphrase: PASS,
      }),
      (e) => hasCode(e, 'ERR_CA_KEY_UNREADABLE'),
    );
    await assert.rejects(
      cli(f, ['ca', 'root', 'sign-crl', '--key', keyFile, '--passphrase-env', 'NO_SUCH_VAR_X']),
      (e) => hasCode(e, 'ERR_CA_PASSPHRASE_MISSING'),
    );
    await assert.rejects(
      f.pki.renewIssuingCa(f.by, f.tenantId, role('root').id, {
        pem: readFileSync(keyFile, 'utf8'),
        passphrase: PASS,
      }),
      (e) => hasCode(e, 'ERR_CA_NOT_ISSUING'),
    );
    assert.equal(await count(f.core, 'crls'), crls);
    assert.equal(await count(f.core, 'audit_entries'), entries);
  });
});

describe('taking an online root offline (`ca root export`)', () => {
  let f: PkiFixture;
  before(async () => {
    f = await createPki();
  });
  after(async () => {
    await f.close();
  });

  it('writes the key encrypted, then the root is offline, its online copy destroyed, and ceremonies work', async () => {
    const onlineRoot = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'root')!;
    const keyId = onlineRoot.keyId!;
    const passFile = write(f.dir, 'export-pass.txt', `${PASS}\n`);
    const weak = write(f.dir, 'weak.txt', 'short\n');
    const out = join(f.dir, 'exported-root.p8');
    const entries = await count(f.core, 'audit_entries');
    // A weak passphrase is refused before anything is written or changed.
    await assert.rejects(cli(f, ['ca', 'root', 'export', '--out', out, '--passphrase-file', weak]), (e) =>
      hasCode(e, 'ERR_CA_PASSPHRASE_WEAK'),
    );
    assert.equal(await count(f.core, 'audit_entries'), entries);
    assert.equal((await f.pki.listCas(f.tenantId)).find((c) => c.role === 'root')!.keyId, keyId);

    await cli(f, ['ca', 'root', 'export', '--out', out, '--passphrase-file', passFile]);
    process.env.TEST_EXPORT_PASS = PASS;
    const rootPem = write(f.dir, 'online-root.pem', toPem('CERTIFICATE', onlineRoot.certificate));
    assert.equal(
      openssl(['pkey', '-in', out, '-passin', 'env:TEST_EXPORT_PASS', '-pubout']),
      openssl(['x509', '-in', rootPem, '-noout', '-pubkey']),
    );
    const root = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'root')!;
    assert.equal(root.keyId, null);
    assert.equal(root.state, 'offline');
    const row = await f.core.store.db
      .selectFrom('keys')
      .selectAll()
      .where('id', '=', keyId)
      .executeTakeFirstOrThrow();
    assert.equal(row.wrapped_private, null, 'no online copy of the root key remains');
    const audit = await f.core.store.db
      .selectFrom('audit_entries')
      .select('action')
      .where('action', '=', 'ca.root.taken_offline')
      .execute();
    assert.equal(audit.length, 1);

    // The root now signs only at a ceremony with the file; a second export finds nothing to export.
    const crl = join(f.dir, 'exported-root.crl');
    await cli(f, ['ca', 'root', 'sign-crl', '--key', out, '--passphrase-file', passFile, '--out', crl]);
    const judged = opensslTry(['crl', '-inform', 'DER', '-in', crl, '-CAfile', rootPem, '-noout']);
    assert.equal(judged.code, 0, judged.out);
    assert.match(judged.out, /verify OK/);
    await assert.rejects(
      cli(f, ['ca', 'root', 'export', '--out', join(f.dir, 'again.p8'), '--passphrase-file', passFile]),
      (e) => hasCode(e, 'ERR_CA_OFFLINE'),
    );
  });
});
