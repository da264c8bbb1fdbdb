/** RFC 8572 §4 sources of bootstrap servers: DHCP option 143 / DHCPv6 option 136 payloads and DNS. */
import { ValidationError } from '../../core/errors.ts';
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
  resolveTxt(name: string): Promise<string[][]>;
}

/**
 * DNS discovery in `domain`: SRV `_sztp._tcp.<domain>` gives bootstrap servers (by priority), and TXT records
 * of the form `sztp-uri=https://…` add more. Lookup failures yield an empty list (no source found).
 */
export async function discoverByDns(resolver: DnsResolver, domain: string): Promise<ServerRef[]> {
  const out: ServerRef[] = [];
  const srv = await resolver.resolveSrv(`_sztp._tcp.${domain}`).catch(() => []);
  for (const r of [...srv].sort((a, b) => a.priority - b.priority || b.weight - a.weight))
    out.push({ address: r.name, port: r.port });
  const txt = await resolver.resolveTxt(`_sztp.${domain}`).catch(() => []);
  for (const rec of txt) {
    const s = rec.join('');
    if (s.startsWith('sztp-uri=')) {
      try {
        out.push(serverFromUri(s.slice('sztp-uri='.length)));
      } catch {
        // A malformed record is skipped like an unreachable server.
      }
    }
  }
  return out;
}
