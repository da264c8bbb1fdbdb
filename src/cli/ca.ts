/** `imprint ca …` and `imprint cert …`: thin commands over the PKI service. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ValidationError } from '../core/errors.ts';
import { toPem } from '../core/encoding.ts';
import { defaultHierarchy } from '../pki/hierarchy.ts';
import { caJson, certJson } from '../pki/routes-api.ts';
import { PROFILE_NAMES, REVOCATION_REASONS } from '../pki/types.ts';
import { algorithm, run, tenantOf, type OpenPki } from './ca-common.ts';
import { rootCommand } from './ca-root.ts';
import { cliActor, output } from './context.ts';

export type { OpenPki, PkiCliHandle } from './ca-common.ts';

const CA_COLUMNS = [
  'id',
  'name',
  'role',
  'state',
  'keyAlgorithm',
  'subject',
  'notAfter',
  'crlNumber',
] as const;
const CERT_COLUMNS = ['id', 'profile', 'serialHex', 'subject', 'status', 'notAfter'] as const;

/** `imprint ca init|list|show|issue|revoke|crl|root …|ocsp-signer renew`. */
export function caCommand(open: OpenPki): Command {
  const cmd = new Command('ca').description('certificate authorities: hierarchy, issuance, revocation, CRLs');
  cmd
    .command('init')
    .description('create the root and issuing CAs (manufacturer, operational, code-signing, TLS)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--algorithm <alg>', 'issuing CA key algorithm', 'ecdsa-p256')
    .option('--root-algorithm <alg>', 'root key algorithm (default ecdsa-p384)')
    .option('--offline-root <file>', 'export the root key encrypted to FILE and keep no copy')
    .addOption(
      new Option('--passphrase-env <var>', 'environment variable holding the export passphrase').default(
        'IMPRINT_ROOT_PASSPHRASE',
      ),
    )
    .action(
      async (
        opts: {
          tenant?: string;
          algorithm: string;
          rootAlgorithm?: string;
          offlineRoot?: string;
          passphraseEnv: string;
        },
        self: Command,
      ) => {
        await run(open, self, async ({ pki, registry }) => {
          const tenantId = await tenantOf(registry, opts.tenant);
          const tenant = await registry.getTenant(tenantId);
          const alg = algorithm(opts.algorithm, 'ecdsa-p256');
          const base = defaultHierarchy(tenant.name, alg);
          let root = { ...base.root, algorithm: algorithm(opts.rootAlgorithm, base.root.algorithm) };
          if (opts.offlineRoot !== undefined) {
            const pass = process.env[opts.passphraseEnv];
            if (pass === undefined)
              throw new ValidationError(
                'ERR_CA_PASSPHRASE_WEAK',
                `set ${opts.passphraseEnv} to the export passphrase`,
              );
            root = { ...root, exportPassphrase: pass };
          }
          const result = await pki.initHierarchy(cliActor(), tenantId, { ...base, root });
          if (result.rootKeyPem !== undefined && opts.offlineRoot !== undefined) {
            writeFileSync(opts.offlineRoot, result.rootKeyPem, { mode: 0o600, flag: 'wx' });
          }
          output(self, result.cas.map(caJson), CA_COLUMNS);
        });
      },
    );
  cmd
    .command('list')
    .description('list the CAs of a tenant')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(async (opts: { tenant?: string }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        output(self, (await pki.listCas(await tenantOf(registry, opts.tenant))).map(caJson), CA_COLUMNS);
      });
    });
  cmd
    .command('show <id>')
    .description('show a CA (with --pem: its certificate chain)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--pem', 'print the certificate chain as PEM')
    .action(async (id: string, opts: { tenant?: string; pem?: boolean }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const chain = await pki.chain(await tenantOf(registry, opts.tenant), id);
        if (opts.pem === true)
          process.stdout.write(chain.map((c) => toPem('CERTIFICATE', c.certificate)).join(''));
        else output(self, caJson(chain[0]!));
      });
    });
  cmd
    .command('issue')
    .description('issue a certificate from a PKCS#10 CSR (PEM or DER)')
    .requiredOption('--csr <file>', 'CSR file')
    .addOption(
      new Option('--profile <profile>', 'certificate profile')
        .choices([...PROFILE_NAMES])
        .makeOptionMandatory(),
    )
    .option('--ca <id>', 'issuing CA (default: the tenant CA for the profile)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--model <name-or-id>', 'device model the device must be of')
    .option('--hw-type <oid>', 'add a HardwareModuleName with this hwType')
    .option('--no-expiry', 'notAfter 99991231235959Z (IDevID)')
    .option('--validity-days <n>', 'validity in days', (v) => Number(v))
    .option('--out <file>', 'write the certificate PEM here')
    .action(
      async (
        opts: {
          csr: string;
          profile: string;
          ca?: string;
          tenant?: string;
          model?: string;
          hwType?: string;
          expiry?: boolean;
          validityDays?: number;
          out?: string;
        },
        self: Command,
      ) => {
        await run(open, self, async ({ pki, registry }) => {
          const out = await pki.issue(cliActor(), {
            tenantId: await tenantOf(registry, opts.tenant),
            profile: opts.profile,
            csr: new Uint8Array(readFileSync(opts.csr)),
            ...(opts.ca === undefined ? {} : { caId: opts.ca }),
            ...(opts.model === undefined ? {} : { model: opts.model }),
            ...(opts.hwType === undefined ? {} : { hwType: opts.hwType }),
            ...(opts.expiry === false ? { noExpiry: true } : {}),
            ...(opts.validityDays === undefined ? {} : { validityDays: opts.validityDays }),
          });
          if (opts.out !== undefined) writeFileSync(opts.out, out.pem + out.chainPem);
          if (opts.out === undefined && self.optsWithGlobals<{ json?: boolean }>().json !== true)
            process.stdout.write(out.pem);
          else output(self, certJson(out.certificate));
        });
      },
    );
  cmd
    .command('revoke')
    .description('revoke a certificate and republish the CRL')
    .requiredOption('--serial <hex>', 'certificate serial (hex)')
    .addOption(
      new Option('--reason <reason>', 'RFC 5280 reason')
        .choices(Object.keys(REVOCATION_REASONS))
        .default('unspecified'),
    )
    .option('--ca <id>', 'issuing CA (needed only if the serial is ambiguous)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(async (opts: { serial: string; reason: string; ca?: string; tenant?: string }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const out = await pki.revoke(cliActor(), {
          tenantId: await tenantOf(registry, opts.tenant),
          serial: opts.serial,
          reason: opts.reason,
          ...(opts.ca === undefined ? {} : { caId: opts.ca }),
        });
        const { pem: _pem, ...summary } = certJson(out.certificate);
        output(self, { ...summary, crlNumber: out.crl?.number ?? null });
      });
    });
  cmd
    .command('crl')
    .description('print the latest CRL of a CA (with --publish: sign a new one first)')
    .requiredOption('--ca <id>', 'CA id')
    .option('--publish', 'sign and publish a new CRL now')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--out <file>', 'write the DER CRL here')
    .action(async (opts: { ca: string; publish?: boolean; tenant?: string; out?: string }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const tenantId = await tenantOf(registry, opts.tenant);
        await pki.getCa(tenantId, opts.ca);
        const crl =
          opts.publish === true
            ? await pki.publishCrl(cliActor(), tenantId, opts.ca)
            : await pki.latestCrl(opts.ca);
        if (opts.out !== undefined) writeFileSync(opts.out, crl.der);
        const summary = {
          caId: crl.caId,
          number: crl.number,
          thisUpdate: crl.thisUpdate,
          nextUpdate: crl.nextUpdate,
        };
        if (opts.out === undefined && self.optsWithGlobals<{ json?: boolean }>().json !== true)
          process.stdout.write(toPem('X509 CRL', crl.der));
        else output(self, summary);
      });
    });
  cmd.addCommand(rootCommand(open));
  const signer = cmd.command('ocsp-signer').description("a CA's delegated OCSP responder certificate");
  signer
    .command('renew <ca>')
    .description('replace the OCSP responder key and certificate now (also done automatically before expiry)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(async (caId: string, opts: { tenant?: string }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const out = await pki.renewOcspSigner(cliActor(), await tenantOf(registry, opts.tenant), caId);
        const { pem: _pem, ...summary } = certJson(out.certificate);
        output(self, { ...summary, previousCertificateId: out.previousCertificateId });
      });
    });
  return cmd;
}

/** `imprint cert list|show`. */
export function certCommand(open: OpenPki): Command {
  const cmd = new Command('cert').description('issued certificates');
  cmd
    .command('list')
    .description('list certificates of a tenant')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--ca <id>', 'only this CA')
    .option('--device <id>', 'only this device')
    .addOption(new Option('--status <status>', 'good or revoked').choices(['good', 'revoked']))
    .option('--profile <profile>', 'only this profile')
    .option('--limit <n>', 'at most n', (v) => Number(v), 100)
    .action(
      async (
        opts: {
          tenant?: string;
          ca?: string;
          device?: string;
          status?: 'good' | 'revoked';
          profile?: string;
          limit: number;
        },
        self: Command,
      ) => {
        await run(open, self, async ({ pki, registry }) => {
          const list = await pki.listCertificates(await tenantOf(registry, opts.tenant), {
            limit: opts.limit,
            ...(opts.ca === undefined ? {} : { caId: opts.ca }),
            ...(opts.device === undefined ? {} : { deviceId: opts.device }),
            ...(opts.status === undefined ? {} : { status: opts.status }),
            ...(opts.profile === undefined ? {} : { profile: opts.profile }),
          });
          output(
            self,
            list.map((c) => {
              const { pem: _pem, ...rest } = certJson(c);
              return rest;
            }),
            CERT_COLUMNS,
          );
        });
      },
    );
  cmd
    .command('show <id>')
    .description('show a certificate (with --pem: the PEM only)')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .option('--pem', 'print the certificate as PEM')
    .action(async (id: string, opts: { tenant?: string; pem?: boolean }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const c = await pki.getCertificate(await tenantOf(registry, opts.tenant), id);
        if (opts.pem === true) process.stdout.write(toPem('CERTIFICATE', c.der));
        else output(self, certJson(c));
      });
    });
  return cmd;
}
