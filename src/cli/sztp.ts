/** `imprint sztp …` (owners, MASA, CAs, bindings, records, vouchers, webhooks, log) and `imprint device onboard`. */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { createPrivateKey } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { systemClock } from '../core/clock.ts';
import { fromHex, fromPemAll } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { runAgent } from '../device/sztp/agent.ts';
import { discoverByDns, parseDhcpBootstrapServerList } from '../device/sztp/discovery.ts';
import { FilePlatform } from '../device/sztp/file-platform.ts';
import { softwareIdentity, type ServerRef } from '../device/sztp/identity.ts';
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
    .requiredOption('--chain <pem-file>', 'owner certificate first, pinned domain certificate last')
    .option('--key <key-id>', 'key-store key of the owner certificate (omit on a server that only redirects)')
    .action((o: { tenant: string; name: string; chain: string; key?: string }) =>
      run((c) =>
        c.admin.registerOwner(c.actor, {
          tenantId: o.tenant,
          name: o.name,
          chainPem: readFileSync(o.chain, 'utf8'),
          ...(o.key !== undefined ? { keyId: o.key } : {}),
        }),
      )(),
    );
  owner
    .command('list')
    .requiredOption('--tenant <id>', 'tenant id')
    .action((o: { tenant: string }) => run((c) => c.admin.listOwners(o.tenant))());
  cmd
    .command('masa')
    .description("set the manufacturer's voucher-signing key")
    .requiredOption('--tenant <id>', 'manufacturer tenant id')
    .requiredOption('--key <key-id>', 'key-store key')
    .requiredOption('--chain <pem-file>', 'MASA certificate first')
    .option('--days <n>', 'voucher validity in days', '30')
    .action((o: { tenant: string; key: string; chain: string; days: string }) =>
      run((c) =>
        c.admin.setMasa(c.actor, {
          tenantId: o.tenant,
          keyId: o.key,
          chainPem: readFileSync(o.chain, 'utf8'),
          validityDays: Number(o.days),
        }),
      )(),
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

function pemFile(path: string): Uint8Array[] {
  const ders = fromPemAll(readFileSync(path, 'utf8'), 'CERTIFICATE');
  if (ders.length === 0) throw new ValidationError('ERR_SZTP_CERT_INVALID', `${path} holds no certificate`);
  return ders;
}

/** `imprint device onboard`: runs the SZTP agent with an IDevID from files and a state directory. */
export function deviceOnboardCommand(): Command {
  return new Command('onboard')
    .description('bootstrap this device by SZTP (RFC 8572)')
    .requiredOption('--serial <serial>', 'device serial (as in the IDevID)')
    .requiredOption('--cert <pem-file>', 'IDevID certificate chain, leaf first')
    .requiredOption('--key <pem-file>', 'IDevID private key (PKCS#8)')
    .option('--server <host:port>', 'well-known bootstrap server (repeatable)', collect, [])
    .option('--server-ca <pem-file>', 'trust anchors for bootstrap servers')
    .requiredOption('--voucher-ca <pem-file>', 'trust anchors for ownership vouchers (MASA roots)')
    .option('--dhcp-option <hex>', 'DHCP option 143 payload')
    .option('--dns-domain <domain>', 'discover bootstrap servers in DNS')
    .option('--xml', 'speak yang-data+xml')
    .option('--run-scripts', 'run pre/post configuration scripts with /bin/sh')
    .requiredOption('--state-dir <dir>', 'where the boot image and configuration go')
    .action(
      async (o: {
        serial: string;
        cert: string;
        key: string;
        server: string[];
        serverCa?: string;
        voucherCa: string;
        dhcpOption?: string;
        dnsDomain?: string;
        xml?: boolean;
        runScripts?: boolean;
        stateDir: string;
      }) => {
        const servers: ServerRef[] = o.server.map((s) => {
          const m = /^(.+):(\d+)$/.exec(s);
          return m === null ? { address: s } : { address: m[1] ?? s, port: Number(m[2]) };
        });
        const discovered: ServerRef[] = [];
        if (o.dhcpOption !== undefined)
          discovered.push(...parseDhcpBootstrapServerList(fromHex(o.dhcpOption.replace(/[:\s]/g, ''))));
        if (o.dnsDomain !== undefined) discovered.push(...(await discoverByDns(new Resolver(), o.dnsDomain)));
        const key = createPrivateKey(readFileSync(o.key));
        const result = await runAgent({
          state: {
            identity: softwareIdentity(o.serial, pemFile(o.cert), key),
            bootstrapServers: servers,
            serverTrustAnchors: o.serverCa !== undefined ? pemFile(o.serverCa) : [],
            voucherTrustAnchors: pemFile(o.voucherCa),
            clock: systemClock,
          },
          platform: new FilePlatform(o.stateDir, { runScripts: o.runScripts === true }),
          encoding: o.xml === true ? 'xml' : 'json',
          discovered,
        });
        print(result);
        if (!result.ok) process.exitCode = 1;
      },
    );
}
