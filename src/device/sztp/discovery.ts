/** RFC 8572 §4 sources of bootstrapping data: DHCP option 143 / DHCPv6 option 136 payloads and DNS (§4.2). */
import { ValidationError } from '../../core/errors.ts';
import type { GetBootstrappingDataOutput } from '../../sztp/types.ts';
import type { BootstrappingDataSource } from './agent.ts';
import type { ServerRef } from './identity.ts';

/**
 * Parses the `bootstrap-server-list` option payload (RFC 8572 §8.3): repeated `uint16 uri-length ‖ URI`.
 * Each URI must be `https://host[:port]`. Throws ERR_SZTP_DHCP_OPTION_INVALID.
 */
export function parseDhcpBootstrapServerList(payload: Uint8Array): ServerRef[] {
  const out: ServerRef[] = [];
  let i = 0;
  while (i < payload.length) {
    if (i + 2 > payload.length)
      throw new ValidationError('ERR_SZTP_DHCP_OPTION_INVALID', 'truncated uri-length');
    const len = ((payload[i] ?? 0) << 8) | (payload[i + 1] ?? 0);
    i += 2;
    if (len === 0 || i + len > payload.length)
      throw new ValidationError('ERR_SZTP_DHCP_OPTION_INVALID', 'uri-length exceeds the option');
    out.push(serverFromUri(new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(i, i + len))));
    i += len;
  }
  return out;
}

/** Encodes a bootstrap-server-list option payload (for DHCP servers and tests). */
export function encodeDhcpBootstrapServerList(uris: readonly string[]): Uint8Array {
  const parts = uris.map((u) => new TextEncoder().encode(u));
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out[i] = p.length >> 8;
    out[i + 1] = p.length & 0xff;
    out.set(p, i + 2);
    i += 2 + p.length;
  }
  return out;
}

/** A bootstrap server from an `https://host[:port]` URI. Throws ERR_SZTP_DHCP_OPTION_INVALID. */
export function serverFromUri(uri: string): ServerRef {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    throw new ValidationError('ERR_SZTP_DHCP_OPTION_INVALID', `bad URI ${uri}`);
  }
  if (
    u.protocol !== 'https:' ||
    (u.pathname !== '/' && u.pathname !== '') ||
    u.search !== '' ||
    u.username !== ''
  ) {
    throw new ValidationError(
      'ERR_SZTP_DHCP_OPTION_INVALID',
      `bootstrap server URI must be https://host[:port]: ${uri}`,
    );
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { address: host, ...(u.port !== '' ? { port: Number(u.port) } : {}) };
}

/** The part of node:dns/promises `Resolver` that discovery uses. */
export interface DnsResolver {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  /** Each record's character-strings; Node hands binary strings over as one char per byte (latin1). */
  resolveTxt(name: string): Promise<string[][]>;
}

/** What DNS gave: bootstrapping data from device-specific TXT records, bootstrap servers from SRV records. */
export interface DnsDiscovery {
  readonly data: BootstrappingDataSource[];
  readonly servers: ServerRef[];
}

/** The TXT owner name of a device's records (RFC 8572 §4.2.1): `<serial-number>._sztp.<domain>`. */
export function sztpTxtName(serial: string, domain: string): string {
  return `${serial}._sztp.${domain.replace(/\.$/, '')}`;
}

/** The SRV owner name of device-independent records (RFC 8572 §4.2.1): `_sztp._tcp.<domain>`. */
export function sztpSrvName(domain: string): string {
  return `_sztp._tcp.${domain.replace(/\.$/, '')}`;
}

const TXT_KEYS = { ci: 'conveyedInformation', oc: 'ownerCertificate', ov: 'ownershipVoucher' } as const;

/**
 * The device-specific TXT records of RFC 8572 §4.2.2 for a set of artifacts: one record per artifact,
 * `ci=`, `oc=`, `ov=` followed by the binary artifact (not base64: RFC 6763 §6.5 binary values), each record
 * split into character-strings of at most 255 octets. For zone files, DNS servers and tests.
 */
export function sztpTxtRecords(out: GetBootstrappingDataOutput): Uint8Array[][] {
  const records: Uint8Array[][] = [];
  for (const [key, field] of Object.entries(TXT_KEYS)) {
    const value = out[field];
    if (value === undefined) continue;
    const whole = new Uint8Array([...new TextEncoder().encode(`${key}=`), ...value]);
    const strings: Uint8Array[] = [];
    for (let i = 0; i < whole.length; i += 255) strings.push(whole.subarray(i, i + 255));
    records.push(strings);
  }
  return records;
}

/**
 * Reads device-specific TXT records back into artifacts. Keys are case-insensitive, the first of a
 * duplicated key wins, other keys are ignored (RFC 8572 §4.2.2, RFC 6763 §6.4). Undefined without `ci`, or
 * with only one of `oc` and `ov` (signed data needs both).
 */
export function parseSztpTxtRecords(
  records: readonly (readonly string[])[],
): GetBootstrappingDataOutput | undefined {
  const found: Partial<Record<keyof typeof TXT_KEYS, Uint8Array>> = {};
  for (const rec of records) {
    const bytes = new Uint8Array(Buffer.from(rec.join(''), 'latin1'));
    const eq = bytes.indexOf(0x3d);
    if (eq <= 0) continue;
    const key = Buffer.from(bytes.subarray(0, eq)).toString('latin1').toLowerCase();
    if ((key === 'ci' || key === 'oc' || key === 'ov') && found[key] === undefined)
      found[key] = bytes.subarray(eq + 1);
  }
  if (found.ci === undefined || (found.oc === undefined) !== (found.ov === undefined)) return undefined;
  return {
    conveyedInformation: found.ci,
    ...(found.oc !== undefined && found.ov !== undefined
      ? { ownerCertificate: found.oc, ownershipVoucher: found.ov }
      : {}),
  };
}

/**
 * RFC 8572 §4.2 discovery in `domain` (`local` with a multicast resolver, or the unicast domain from DHCP):
 * first the device-specific TXT records at `<serial>._sztp.<domain>` (bootstrapping data, processed like any
 * untrusted source), then the device-independent SRV records at `_sztp._tcp.<domain>` (bootstrap servers, by
 * priority, heavier weight first within a priority). Lookup failures yield nothing (no source found).
 */
export async function discoverByDns(
  resolver: DnsResolver,
  domain: string,
  serial: string,
): Promise<DnsDiscovery> {
  const name = sztpTxtName(serial, domain);
  const txt = await resolver.resolveTxt(name).catch(() => []);
  const output = parseSztpTxtRecords(txt);
  const srv = await resolver.resolveSrv(sztpSrvName(domain)).catch(() => []);
  return {
    data: output === undefined ? [] : [{ source: `dns:${name}`, output }],
    servers: [...srv]
      .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
      .map((r) => ({ address: r.name, port: r.port })),
  };
}
