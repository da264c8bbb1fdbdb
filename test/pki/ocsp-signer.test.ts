import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { caCommand, type OpenPki } from '../../src/cli/ca.ts';
import { hasCode } from '../../src/core/errors.ts';
import { publicKeyBits } from '../../src/pki/asn1.ts';
import type { CaRecord } from '../../src/pki/types.ts';
import { createPki, write, type PkiFixture } from './helpers.ts';
import { issueWithOpenssl, ocspQuery, startPublic, writeCas } from './scenario.ts';

const DAY = 86400_000;

/** OpenSSL's "Responder Id" for a responder certificate: SHA-1 of its public key bits, upper-case hex. */
function responderId(certDer: Uint8Array): string {
  const spki = new X509Certificate(Buffer.from(certDer)).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha1')
    .update(publicKeyBits(new Uint8Array(spki)))
    .digest('hex')
    .toUpperCase();
}

async function signerOf(
  f: PkiFixture,
  caId: string,
): Promise<{ id: string; der: Uint8Array; keyId: string }> {
  const ca = await f.core.store.db
    .selectFrom('cas')
    .select(['ocsp_cert_id', 'ocsp_key_id'])
    .where('id', '=', caId)
    .executeTakeFirstOrThrow();
  const cert = await f.pki.getCertificate(f.tenantId, ca.ocsp_cert_id!);
  return { id: cert.id, der: cert.der, keyId: ca.ocsp_key_id! };
}

async function auditActions(f: PkiFixture, action: string): Promise<{ actor: string; details: string }[]> {
  return f.core.store.db
    .selectFrom('audit_entries')
    .select(['actor', 'details'])
    .where('action', '=', action)
    .orderBy('seq')
    .execute();
}

describe('delegated OCSP signer renewal', () => {
  let f: PkiFixture;
  let server: Awaited<ReturnType<typeof startPublic>>;
  let man: CaRecord;
  let pem: Record<string, string>;
  let bundle: Record<string, string>;
  let leaf: string;
  before(async () => {
    f = await createPki({ init: false });
    // The hierarchy was made 70 days ago: its 90-day responder certificates have less than a third left.
    const now = f.core.clock.now();
    f.core.clock.set(new Date(now.getTime() - 70 * DAY));
    await f.pki.initHierarchy(f.by, f.tenantId);
    f.core.clock.set(now);
    ({ pem, bundle } = await writeCas(f));
    man = (await f.pki.listCas(f.tenantId)).find((c) => c.role === 'manufacturer')!;
    leaf = (await issueWithOpenssl(f, 'dev1', 'idevid', '/serialNumber=SN0001')).path;
    server = await startPublic(f);
  });
  after(async () => {
    await f.pki.ocsp.idle();
    await server.app.close();
    await f.close();
  });

  it('renews a due responder when it signs; openssl then verifies with the new signer', async () => {
    const old = await signerOf(f, man.id);
    let out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: leaf });
    assert.match(out, /Response verify OK/);
    assert.match(out, /: good/);
    assert.match(out, new RegExp(`Responder Id: ${responderId(old.der)}`));
    await f.pki.ocsp.idle();
    const renewed = await signerOf(f, man.id);
    assert.notEqual(renewed.id, old.id);
    out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: leaf });
    assert.match(out, /Response verify OK/);
    assert.match(out, /: good/);
    assert.match(out, new RegExp(`Responder Id: ${responderId(renewed.der)}`));
    // The new certificate keeps the profile: OCSP signing, nocheck, issued by the CA, 90 days.
    const x = new X509Certificate(Buffer.from(renewed.der));
    assert.match(x.toLegacyObject().ext_key_usage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.9/);
    assert.ok(x.checkIssued(new X509Certificate(Buffer.from(man.certificate))));
    assert.equal(Math.round((Date.parse(x.validTo) - Date.parse(x.validFrom)) / DAY), 90);
    // Audited as automatic; the old key is gone.
    const audit = await auditActions(f, 'ca.ocsp_signer.renewed');
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor, 'system:ocsp');
    assert.deepEqual(JSON.parse(audit[0]!.details), {
      ...(JSON.parse(audit[0]!.details) as object),
      previousCertificateId: old.id,
      automatic: true,
    });
    await assert.rejects(f.core.keys.sign(old.keyId, new Uint8Array(1)));
  });

  it('renews the other due responders on schedule and not twice', async () => {
    await f.pki.runScheduled();
    assert.equal((await auditActions(f, 'ca.ocsp_signer.renewed')).length, 4);
    await f.pki.runScheduled();
    assert.equal((await auditActions(f, 'ca.ocsp_signer.renewed')).length, 4);
  });

  it('renews explicitly from the CLI; the live responder switches at once', async () => {
    const before = await signerOf(f, man.id);
    const open: OpenPki = () =>
      Promise.resolve({ pki: f.pki, registry: f.core.registry, close: () => Promise.resolve() });
    const program = new Command('imprint').option('--json').exitOverride();
    program.addCommand(caCommand(open));
    const chunks: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      // The test runner reports over stdout in Buffers: let those through, keep what the command prints.
      if (typeof chunk !== 'string') return original(chunk);
      chunks.push(chunk);
      return true;
    };
    try {
      await program.parseAsync(['node', 'imprint', '--json', 'ca', 'ocsp-signer', 'renew', man.id]);
    } finally {
      process.stdout.write = original;
    }
    const printed = JSON.parse(chunks.join('')) as {
      id: string;
      profile: string;
      previousCertificateId: string;
    };
    assert.equal(printed.profile, 'ocsp-signer');
    assert.equal(printed.previousCertificateId, before.id);
    const now = await signerOf(f, man.id);
    assert.equal(now.id, printed.id);
    const out = await ocspQuery(server.url, pem.manufacturer!, bundle.manufacturer!, { cert: leaf });
    assert.match(out, /Response verify OK/);
    assert.match(out, new RegExp(`Responder Id: ${responderId(now.der)}`));
    const last = (await auditActions(f, 'ca.ocsp_signer.renewed')).at(-1)!;
    assert.equal(last.actor.startsWith('cli'), true);
    assert.equal((JSON.parse(last.details) as { automatic: boolean }).automatic, false);
    write(f.dir, 'signer.der', now.der);
  });

  it('refuses a CA of another tenant and a CA without an online key', async () => {
    const other = await f.core.registry.createTenant(f.by, 'Other', 'owner');
    await assert.rejects(f.pki.renewOcspSigner(f.by, other.id, man.id), (e) =>
      hasCode(e, 'ERR_CA_NOT_FOUND'),
    );
    const offline = await createPki({ init: false });
    try {
      const { defaultHierarchy } = await import('../../src/pki/hierarchy.ts');
      const p = defaultHierarchy('Acme');
      await offline.pki.initHierarchy(offline.by, offline.tenantId, {
        ...p,
        root: { ...p.root, exportPassphrase: 'a long enough passphrase' },
      });
      const root = (await offline.pki.listCas(offline.tenantId)).find((c) => c.role === 'root')!;
      await assert.rejects(offline.pki.renewOcspSigner(offline.by, offline.tenantId, root.id), (e) =>
        hasCode(e, 'ERR_CA_OFFLINE'),
      );
    } finally {
      await offline.close();
    }
  });
});
