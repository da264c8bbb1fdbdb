import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestCore, seedManufacturer, type TestCore } from '../helpers/core.ts';
import { systemRandom } from '../../src/core/random.ts';
import { PkiService } from '../../src/pki/service.ts';
import type { HierarchyProfile } from '../../src/pki/hierarchy.ts';
import type { KeyStore } from '../../src/keys/types.ts';
import type { Store, StoreLocation } from '../../src/store/database.ts';
import type { ManualClock } from '../../src/core/clock.ts';

/** Runs openssl; returns stdout (throws with stderr on a non-zero exit). */
export function openssl(args: string[], input?: Uint8Array | string): string {
  return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

/** A self-signed P-256 CA made by openssl alone (a CA Imprint does not run), written to `key` and `cert`. */
export function opensslSelfSignedCa(key: string, cert: string, subject: string, days = 1): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      key,
      '-subj',
      subject,
      '-days',
      String(days),
      '-out',
      cert,
    ]),
  );
}

/** Runs openssl and returns {code, out: stdout + stderr} without throwing. */
export function opensslTry(args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  return { code: r.status ?? 1, out: `${r.stdout.toString()}${r.stderr.toString()}` };
}

/** Runs openssl without blocking the event loop (needed when it talks to a server in this process). */
export function opensslAsync(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** A PKI on a fresh test core with one manufacturer tenant, model and registered devices. */
export interface PkiFixture {
  readonly core: TestCore;
  readonly pki: PkiService;
  readonly tenantId: string;
  readonly modelId: string;
  readonly dir: string;
  readonly by: { actor: string };
  close(): Promise<void>;
}

export async function createPki(
  options: {
    keys?: (store: Store, clock: ManualClock) => Promise<KeyStore> | KeyStore;
    location?: StoreLocation;
    profile?: (org: string) => HierarchyProfile;
    devices?: readonly string[];
    init?: boolean;
  } = {},
): Promise<PkiFixture> {
  const core = await createTestCore({
    ...(options.keys === undefined ? {} : { keys: options.keys }),
    ...(options.location === undefined ? {} : { location: options.location }),
  });
  const { tenant, model } = await seedManufacturer(core);
  const by = { actor: 'test' };
  for (const serial of options.devices ?? ['SN0001', 'SN0002', 'SN0003']) {
    await core.registry.createDevice(by, { manufacturerId: tenant.id, modelId: model.id, serial });
  }
  const pki = new PkiService(
    { ...core, random: systemRandom },
    { urls: { baseUrl: 'http://127.0.0.1:8443' } },
  );
  if (options.init !== false) await pki.initHierarchy(by, tenant.id, options.profile?.(tenant.name));
  const dir = mkdtempSync(join(core.dir, 'pki-'));
  return { core, pki, tenantId: tenant.id, modelId: model.id, dir, by, close: () => core.close() };
}

/** Key algorithms openssl can make CSRs for. */
export type CsrKey = 'p256' | 'p384' | 'ed25519' | 'rsa2048' | 'rsa3072' | 'rsa1024' | 'p521';

/** Makes a key + CSR with openssl; returns paths and the CSR PEM. */
export function makeCsr(
  dir: string,
  name: string,
  subject: string,
  key: CsrKey = 'p256',
  addext: readonly string[] = [],
): { keyPath: string; csrPath: string; csrPem: string } {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const gen: Record<CsrKey, string[]> = {
    p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    p384: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
    p521: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-521'],
    ed25519: ['-algorithm', 'ED25519'],
    rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024'],
    rsa2048: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
    rsa3072: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:3072'],
  };
  openssl(['genpkey', ...gen[key], '-out', keyPath]);
  openssl([
    'req',
    '-new',
    '-key',
    keyPath,
    '-subj',
    subject,
    '-out',
    csrPath,
    ...addext.flatMap((e) => ['-addext', e]),
  ]);
  return { keyPath, csrPath, csrPem: readFileSync(csrPath, 'utf8') };
}

/** Writes text to a file in dir and returns its path. */
export function write(dir: string, name: string, text: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Number of rows in a table. */
export async function count(
  core: TestCore,
  table: 'certificates' | 'crls' | 'audit_entries',
): Promise<number> {
  const r = await core.store.db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
