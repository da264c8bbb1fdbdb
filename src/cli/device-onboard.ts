/**
 * `imprint device onboard` (the SZTP agent, RFC 8572) and `imprint device idevid` (what a simulated device
 * holds after the factory). Device-side commands: they open no installation, only the device's own state.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { Command } from 'commander';
import { systemClock } from '../core/clock.ts';
import { fromHex, fromPemAll, toHex, toPem } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { SimulatedDevice } from '../device/simulator.ts';
import { runAgent, type BootstrappingDataSource } from '../device/sztp/agent.ts';
import { discoverByDns, parseDhcpBootstrapServerList, serverFromUri } from '../device/sztp/discovery.ts';
import { FilePlatform } from '../device/sztp/file-platform.ts';
import { softwareIdentity, type PreconfiguredState, type ServerRef } from '../device/sztp/identity.ts';
import { simulatedDeviceState } from '../device/sztp/simulated.ts';
import { softwareCsrMaker } from '../device/sztp/csr.ts';

const print = (data: unknown) => void process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
const collect = (v: string, prev: string[]) => [...prev, v];

function pemFile(path: string): Uint8Array[] {
  const ders = fromPemAll(readFileSync(path, 'utf8'), 'CERTIFICATE');
  if (ders.length === 0) throw new ValidationError('ERR_SZTP_CERT_INVALID', `${path} holds no certificate`);
  return ders;
}

/** `https://host[:port]` (as in DHCP option 143 and DNS) or `host[:port]`. Throws ERR_VALIDATION. */
export function parseServer(s: string): ServerRef {
  if (s.includes('://')) return serverFromUri(s);
  const m = /^(.+):(\d+)$/.exec(s);
  if (m === null) return { address: s };
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ValidationError('ERR_VALIDATION', `bad port in ${s}`);
  return { address: (m[1] ?? s).replace(/^\[(.*)\]$/, '$1'), port };
}

interface OnboardOptions {
  state?: string;
  serial?: string;
  cert?: string;
  key?: string;
  server: string[];
  serverCa?: string;
  voucherCa: string;
  dhcpOption?: string;
  dnsDomain?: string;
  dnsServer: string[];
  xml?: boolean;
  csr?: boolean;
  runScripts?: boolean;
  stateDir?: string;
}

/** The agent's preconfigured state from a simulated device's state file or from IDevID files. */
async function preconfigured(o: OnboardOptions): Promise<PreconfiguredState> {
  const common = {
    bootstrapServers: o.server.map(parseServer),
    serverTrustAnchors: o.serverCa !== undefined ? pemFile(o.serverCa) : [],
    voucherTrustAnchors: pemFile(o.voucherCa),
    clock: systemClock,
  };
  if (o.state !== undefined) {
    if (o.cert !== undefined || o.key !== undefined)
      throw new ValidationError(
        'ERR_VALIDATION',
        '--state takes the IDevID from the device; drop --cert/--key',
      );
    const device = SimulatedDevice.open(o.state);
    return simulatedDeviceState(device, { ...common, csr: o.csr === true });
  }
  if (o.serial === undefined || o.cert === undefined || o.key === undefined)
    throw new ValidationError('ERR_VALIDATION', 'give --state, or --serial, --cert and --key');
  const key = createPrivateKey(readFileSync(o.key));
  return {
    ...common,
    identity: softwareIdentity(o.serial, pemFile(o.cert), key),
    ...(o.csr === true
      ? { csr: { support: { supportedFormats: ['p10-csr'] }, make: softwareCsrMaker(o.serial, key) } }
      : {}),
  };
}

/** `imprint device onboard`: runs the SZTP agent for a simulated device (`--state`) or IDevID files. */
export function deviceOnboardCommand(): Command {
  return new Command('onboard')
    .description('bootstrap a device by SZTP (RFC 8572)')
    .option('--state <file>', 'simulated device state file (IDevID and key from its secure element)')
    .option('--serial <serial>', 'device serial (as in the IDevID), with --cert and --key')
    .option('--cert <pem-file>', 'IDevID certificate chain, leaf first')
    .option('--key <pem-file>', 'IDevID private key (PKCS#8)')
    .option(
      '--server <url>',
      'well-known bootstrap server, https://host[:port] or host:port (repeatable)',
      collect,
      [],
    )
    .option('--server-ca <pem-file>', 'trust anchors for well-known bootstrap servers')
    .requiredOption('--voucher-ca <pem-file>', 'trust anchors for ownership vouchers (MASA certificates)')
    .option('--dhcp-option <hex>', 'DHCP option 143 payload')
    .option(
      '--dns-domain <domain>',
      'RFC 8572 DNS discovery: TXT <serial>._sztp.<domain>, SRV _sztp._tcp.<domain>',
    )
    .option(
      '--dns-server <ip[:port]>',
      'DNS server to ask (repeatable; default: the system resolver)',
      collect,
      [],
    )
    .option('--xml', 'speak yang-data+xml')
    .option('--csr', 'offer RFC 9646 CSRs (an LDevID for the identity key)')
    .option('--run-scripts', 'run pre/post configuration scripts with /bin/sh')
    .option('--state-dir <dir>', 'where the boot image and configuration go (default: <state>.sztp)')
    .action(async (o: OnboardOptions) => {
      const stateDir = o.stateDir ?? (o.state !== undefined ? `${o.state}.sztp` : undefined);
      if (stateDir === undefined) throw new ValidationError('ERR_VALIDATION', '--state-dir is required');
      const state = await preconfigured(o);
      const discovered: ServerRef[] = [];
      if (o.dhcpOption !== undefined)
        discovered.push(...parseDhcpBootstrapServerList(fromHex(o.dhcpOption.replace(/[:\s]/g, ''))));
      let bootstrappingData: BootstrappingDataSource[] = [];
      if (o.dnsDomain !== undefined) {
        const resolver = new Resolver();
        if (o.dnsServer.length > 0) resolver.setServers(o.dnsServer);
        const dns = await discoverByDns(resolver, o.dnsDomain, state.identity.serial);
        bootstrappingData = dns.data;
        discovered.push(...dns.servers);
      }
      const result = await runAgent({
        state,
        platform: new FilePlatform(stateDir, { runScripts: o.runScripts === true }),
        encoding: o.xml === true ? 'xml' : 'json',
        discovered,
        bootstrappingData,
      });
      print({ serial: state.identity.serial, stateDir, ...result });
      if (!result.ok) process.exitCode = 1;
    });
}

/** `imprint device idevid --state <file>`: the IDevID a simulated device holds (public data only). */
export function deviceIdevidCommand(): Command {
  return new Command('idevid')
    .description("show the IDevID a simulated device's secure element holds")
    .requiredOption('--state <file>', 'simulated device state file')
    .option('--pem', 'print the chain as PEM (leaf first)')
    .action(async (o: { state: string; pem?: boolean }) => {
      const device = SimulatedDevice.open(o.state);
      const chain = await device.secureElement.identityChain();
      if (o.pem === true) {
        process.stdout.write(chain.map((c) => toPem('CERTIFICATE', c)).join(''));
        return;
      }
      const leaf = chain[0] === undefined ? undefined : new X509Certificate(Buffer.from(chain[0]));
      const spki = await device.secureElement.identityPublicKey();
      print({
        serial: device.serial,
        model: device.model,
        fuses: device.fuses(),
        identityKeyFingerprint:
          spki === undefined ? null : toHex(new Uint8Array(createHash('sha256').update(spki).digest())),
        idevid:
          leaf === undefined
            ? null
            : {
                subject: leaf.subject,
                issuer: leaf.issuer,
                notAfter: leaf.validTo,
                chainLength: chain.length,
              },
      });
    });
}
