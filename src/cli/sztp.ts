/** `imprint sztp …` (owners, MASA, CAs, bindings, records, vouchers, webhooks, log); `imprint device onboard` is in device-onboard.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { ValidationError } from '../core/errors.ts';
import type { SztpAdminService } from '../sztp/admin-service.ts';
import type { SztpBootstrapService } from '../sztp/bootstrap-service.ts';

/** What the sztp commands need from an opened installation. */
export interface SztpCliContext {
  readonly admin: SztpAdminService;
  readonly bootstrap: SztpBootstrapService;
  readonly actor: { actor: string };
  close(): Promise<void>;
}

const print = (data: unknown) => void process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
const collect = (v: string, prev: string[]) => [...prev, v];

/** `imprint sztp …`; `open` opens the installation (the lead's wiring). */
export function sztpCommand(open: () => Promise<SztpCliContext>): Command {
  const cmd = new Command('sztp').description('zero-touch onboarding (RFC 8572) administration');
  const run = (fn: (c: SztpCliContext) => Promise<unknown>) => async () => {
    const c = await open();
    try {
      const r = await fn(c);
      if (r !== undefined) print(r);
    } finally {
      await c.close();
    }
  };
  const owner = cmd.command('owner').description('owners and their certificates');
  owner
    .command('add')
    .requiredOption('--tenant <id>', 'owner tenant id')
    .requiredOption('--name <name>', 'owner name')
    .option('--chain <pem-file>', 'owner certificate first, pinned domain certificate last')
    .option('--key <key-id>', 'key-store key of the owner certificate (omit on a server that only redirects)')
    .option(
      '--generate',
      'generate the owner key here, with a self-signed certificate (its own pinned domain cert)',
    )
    .option('--out <pem-file>', 'with --generate: write the owner certificate here')
    .action(
      (o: { tenant: string; name: string; chain?: string; key?: string; generate?: boolean; out?: string }) =>
        run(async (c) => {
          if (o.generate === true) {
            if (o.chain !== undefined || o.key !== undefined)
              throw new ValidationError(
                'ERR_VALIDATION',
                '--generate makes the key and chain; drop --chain/--key',
              );
            const owner = await c.admin.generateOwner(c.actor, { tenantId: o.tenant, name: o.name });
            if (o.out !== undefined) writeFileSync(o.out, owner.certificatePem);
            const { certificatePem: _pem, ...view } = owner;
            return view;
          }
          if (o.chain === undefined)
            throw new ValidationError('ERR_VALIDATION', 'give --chain or --generate');
          return c.admin.registerOwner(c.actor, {
            tenantId: o.tenant,
            name: o.name,
            chainPem: readFileSync(o.chain, 'utf8'),
            ...(o.key !== undefined ? { keyId: o.key } : {}),
          });
        })(),
    );
  owner
    .command('list')
    .requiredOption('--tenant <id>', 'tenant id')
    .action((o: { tenant: string }) => run((c) => c.admin.listOwners(o.tenant))());
  cmd
    .command('masa')
    .description("set the manufacturer's voucher-signing key")
    .requiredOption('--tenant <id>', 'manufacturer tenant id')
    .option('--key <key-id>', 'key-store key')
    .option('--chain <pem-file>', 'MASA certificate first')
    .option(
      '--generate',
      "generate the key here, with a self-signed certificate (the devices' voucher trust anchor)",
    )
    .option('--out <pem-file>', 'with --generate: write the MASA certificate here')
    .option('--days <n>', 'voucher validity in days', '30')
    .action(
      (o: { tenant: string; key?: string; chain?: string; generate?: boolean; out?: string; days: string }) =>
        run(async (c) => {
          if (o.generate === true) {
            if (o.chain !== undefined || o.key !== undefined)
              throw new ValidationError(
                'ERR_VALIDATION',
                '--generate makes the key and chain; drop --chain/--key',
              );
            const masa = await c.admin.generateMasa(c.actor, {
              tenantId: o.tenant,
              validityDays: Number(o.days),
            });
            if (o.out !== undefined) writeFileSync(o.out, masa.certificatePem);
            return { keyId: masa.keyId, ...(o.out !== undefined ? { certificate: o.out } : {}) };
          }
          if (o.chain === undefined || o.key === undefined)
            throw new ValidationError('ERR_VALIDATION', 'give --key and --chain, or --generate');
          await c.admin.setMasa(c.actor, {
            tenantId: o.tenant,
            keyId: o.key,
            chainPem: readFileSync(o.chain, 'utf8'),
            validityDays: Number(o.days),
          });
          return undefined;
        })(),
    );
  cmd
    .command('ca')
    .description('register an IDevID-issuing CA of a manufacturer')
    .requiredOption('--tenant <id>', 'manufacturer tenant id')
    .requiredOption('--cert <pem-file>', 'CA certificate')
    .action((o: { tenant: string; cert: string }) =>
      run((c) => c.admin.addManufacturerCa(c.actor, o.tenant, readFileSync(o.cert, 'utf8')))(),
    );
  cmd
    .command('bind')
    .description('bind devices to an owner (by serial or batch)')
    .requiredOption('--tenant <id>', 'manufacturer tenant id')
    .requiredOption('--owner <id>', 'owner id')
    .option('--serial <serial>', 'device serial (repeatable)', collect, [])
    .option('--batch <id>', 'every device of a batch')
    .action((o: { tenant: string; owner: string; serial: string[]; batch?: string }) =>
      run((c) =>
        c.admin.bind(c.actor, {
          tenantId: o.tenant,
          ownerId: o.owner,
          serials: o.serial,
          ...(o.batch !== undefined ? { batchId: o.batch } : {}),
        }),
      )(),
    );
  cmd
    .command('import-manifest')
    .description("bind every device of a device maker's signed batch manifest (JWS) to an owner")
    .requiredOption('--owner <id>', 'owner id')
    .requiredOption('--file <jws>', 'the manifest (imprint manifest sign --out)')
    .option('--register-devices', 'register listed devices this server does not know yet (owner-run server)')
    .action((o: { owner: string; file: string; registerDevices?: boolean }) =>
      run((c) =>
        c.admin.importManifest(c.actor, {
          ownerId: o.owner,
          jws: readFileSync(o.file, 'utf8').trim(),
          registerDevices: o.registerDevices === true,
        }),
      )(),
    );
  cmd
    .command('record')
    .description('set onboarding or redirect information (RFC 8572 JSON document)')
    .requiredOption('--owner <id>', 'owner id')
    .requiredOption('--scope <scope>', 'device | model | owner')
    .requiredOption('--scope-id <id>', 'device, model or owner id')
    .requiredOption('--file <json>', 'the document')
    .option('--xml', 'convey it as XML')
    .option('--encrypt', 'encrypt to the device IDevID')
    .action(
      (o: {
        owner: string;
        scope: string;
        scopeId: string;
        file: string;
        xml?: boolean;
        encrypt?: boolean;
      }) => {
        if (!['device', 'model', 'owner'].includes(o.scope))
          throw new ValidationError('ERR_VALIDATION', '--scope must be device, model or owner');
        return run((c) =>
          c.admin.setRecord(c.actor, {
            ownerId: o.owner,
            scope: o.scope as 'device',
            scopeId: o.scopeId,
            document: JSON.parse(readFileSync(o.file, 'utf8')) as unknown,
            encoding: o.xml === true ? 'xml' : 'json',
            encrypt: o.encrypt === true,
          }),
        )();
      },
    );
  const voucher = cmd.command('voucher').description('ownership vouchers (RFC 8366)');
  voucher
    .command('issue')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--out <file>', 'where to write the CMS voucher (DER)')
    .action((o: { device: string; out: string }) =>
      run(async (c) => {
        const v = await c.bootstrap.issueVoucher(c.actor.actor, o.device);
        writeFileSync(o.out, v.cms);
        return { out: o.out, expiresAt: v.expiresAt };
      })(),
    );
  voucher
    .command('import')
    .requiredOption('--owner <id>', 'owner id')
    .requiredOption('--device <id>', 'device id')
    .requiredOption('--file <der>', 'CMS voucher')
    .requiredOption('--expires <iso-time>', 'its expires-on')
    .action((o: { owner: string; device: string; file: string; expires: string }) =>
      run(async (c) => ({
        id: await c.admin.importVoucher(c.actor, {
          ownerId: o.owner,
          deviceId: o.device,
          cms: new Uint8Array(readFileSync(o.file)),
          expiresAt: o.expires,
        }),
      }))(),
    );
  cmd
    .command('webhook')
    .requiredOption('--owner <id>', 'owner id')
    .requiredOption('--url <url>', 'called with each progress report')
    .action((o: { owner: string; url: string }) =>
      run(async (c) => ({ id: await c.admin.addWebhook(c.actor, o.owner, o.url) }))(),
    );
  cmd
    .command('log')
    .description("a device's bootstrapping log")
    .requiredOption('--tenant <id>', 'tenant id')
    .requiredOption('--device <id>', 'device id')
    .action((o: { tenant: string; device: string }) => run((c) => c.admin.log(o.tenant, o.device))());
  return cmd;
}
