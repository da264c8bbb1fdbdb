import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ValidationError } from '../core/errors.ts';
import type { OfflineRootKey } from '../pki/offline-root.ts';
import { caJson } from '../pki/routes-api.ts';
import { CA_ROLES, type CaRole } from '../pki/types.ts';
import { algorithm, run, tenantOf, type OpenPki } from './ca-common.ts';
import { cliActor, output } from './context.ts';

/** The ceremony passphrase from --passphrase-file or the environment. Throws ERR_CA_PASSPHRASE_MISSING. */
function passphraseOf(opts: { passphraseEnv: string; passphraseFile?: string }): string {
  const passphrase =
    opts.passphraseFile !== undefined
      ? readFileSync(opts.passphraseFile, 'utf8').replace(/\r?\n$/, '')
      : process.env[opts.passphraseEnv];
  if (passphrase === undefined || passphrase === '')
    throw new ValidationError(
      'ERR_CA_PASSPHRASE_MISSING',
      `give the root key passphrase in ${opts.passphraseEnv} or with --passphrase-file`,
    );
  return passphrase;
}

/** The root key file and passphrase of a ceremony command. Throws ERR_CA_PASSPHRASE_MISSING. */
function rootKey(opts: { key: string; passphraseEnv: string; passphraseFile?: string }): OfflineRootKey {
  return { pem: readFileSync(opts.key, 'utf8'), passphrase: passphraseOf(opts) };
}

/** Options every ceremony command takes: the key file and where its passphrase comes from. */
function ceremony(c: Command): Command {
  return c
    .requiredOption('--key <file>', 'the encrypted root key (PKCS#8 PEM from `ca init --offline-root`)')
    .addOption(
      new Option('--passphrase-env <var>', 'environment variable holding the passphrase').default(
        'IMPRINT_ROOT_PASSPHRASE',
      ),
    )
    .option('--passphrase-file <file>', 'read the passphrase from this file instead')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)');
}

interface CeremonyOpts {
  key: string;
  passphraseEnv: string;
  passphraseFile?: string;
  tenant?: string;
}

/** `imprint ca root sign-crl|issue-ca`: offline-root ceremonies with the encrypted root key file. */
export function rootCommand(open: OpenPki): Command {
  const root = new Command('root').description('offline-root ceremonies (the root key is brought as a file)');
  root
    .command('export')
    .description('take an online root offline: write its key encrypted to --out, then delete the online copy')
    .requiredOption('--out <file>', 'the encrypted root key file to create (PKCS#8 PEM, mode 0600)')
    .addOption(
      new Option('--passphrase-env <var>', 'environment variable holding the passphrase').default(
        'IMPRINT_ROOT_PASSPHRASE',
      ),
    )
    .option('--passphrase-file <file>', 'read the passphrase from this file instead')
    .option('--tenant <name-or-id>', 'tenant (default: the manufacturer)')
    .action(
      async (
        opts: { out: string; passphraseEnv: string; passphraseFile?: string; tenant?: string },
        self: Command,
      ) => {
        await run(open, self, async ({ pki, registry }) => {
          const tenantId = await tenantOf(registry, opts.tenant);
          const exported = await pki.exportRootForOffline(cliActor(), tenantId, passphraseOf(opts));
          // The file exists (and never overwrites another) before the online copy is destroyed.
          writeFileSync(opts.out, exported.pem, { mode: 0o600, flag: 'wx' });
          await exported.commit();
          output(self, { root: 'offline', keyFile: opts.out });
        });
      },
    );
  ceremony(root.command('sign-crl'))
    .description('sign and publish the root CRL with the offline root key')
    .option('--days <n>', 'CRL validity in days', (v) => Number(v), 365)
    .option('--out <file>', 'also write the DER CRL here')
    .action(async (opts: CeremonyOpts & { days: number; out?: string }, self: Command) => {
      await run(open, self, async ({ pki, registry }) => {
        const crl = await pki.signRootCrl(
          cliActor(),
          await tenantOf(registry, opts.tenant),
          rootKey(opts),
          opts.days,
        );
        if (opts.out !== undefined) writeFileSync(opts.out, crl.der);
        output(self, {
          caId: crl.caId,
          number: crl.number,
          thisUpdate: crl.thisUpdate,
          nextUpdate: crl.nextUpdate,
        });
      });
    });
  ceremony(root.command('issue-ca'))
    .description(
      'renew an issuing CA certificate (--renew) or create a new issuing CA, signed by the offline root',
    )
    .option('--renew <ca>', 're-certify this issuing CA (same key and subject, new validity)')
    .addOption(
      new Option('--role <role>', 'role of a new issuing CA').choices(CA_ROLES.filter((r) => r !== 'root')),
    )
    .option('--name <name>', 'name of a new issuing CA ([a-z0-9-])')
    .option('--common-name <cn>', 'subject CN of a new issuing CA')
    .option('--algorithm <alg>', 'key algorithm of a new issuing CA', 'ecdsa-p256')
    .option('--years <n>', 'validity in years (capped by the root)', (v) => Number(v), 10)
    .action(
      async (
        opts: CeremonyOpts & {
          renew?: string;
          role?: Exclude<CaRole, 'root'>;
          name?: string;
          commonName?: string;
          algorithm: string;
          years: number;
        },
        self: Command,
      ) => {
        await run(open, self, async ({ pki, registry }) => {
          const tenantId = await tenantOf(registry, opts.tenant);
          const key = rootKey(opts);
          let ca;
          if (opts.renew !== undefined)
            ca = await pki.renewIssuingCa(cliActor(), tenantId, opts.renew, key, opts.years);
          else {
            if (opts.role === undefined || opts.name === undefined || opts.commonName === undefined)
              throw new ValidationError(
                'ERR_CA_PROFILE_INVALID',
                'give --renew <ca>, or --role, --name and --common-name for a new issuing CA',
              );
            ca = await pki.createIssuingCa(
              cliActor(),
              tenantId,
              {
                role: opts.role,
                name: opts.name,
                commonName: opts.commonName,
                algorithm: algorithm(opts.algorithm, 'ecdsa-p256'),
                validityYears: opts.years,
              },
              key,
            );
          }
          output(self, caJson(ca));
        });
      },
    );
  return root;
}
