/**
 * A small authoritative DNS server for tests (RFC 1035 wire format over UDP and TCP on one port), serving
 * TXT and SRV records from a map, so discovery runs through Node's real resolver (c-ares). Answers that do
 * not fit a 512-octet UDP message are sent truncated (TC), and the resolver retries over TCP (RFC 7766).
 */
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Records by lower-case owner name. */
export interface Zone {
  txt?: Record<string, Uint8Array[][]>;
  srv?: Record<string, { priority: number; weight: number; port: number; target: string }[]>;
}

const TYPE_TXT = 16;
const TYPE_SRV = 33;

function u16(n: number): number[] {
  return [(n >> 8) & 255, n & 255];
}

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    const b = new TextEncoder().encode(label);
    out.push(b.length, ...b);
  }
  out.push(0);
  return out;
}

/** Parses the question of a query: its name, type, and where the question ends. */
function question(q: Uint8Array): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let i = 12;
  while ((q[i] ?? 0) !== 0) {
    const len = q[i] ?? 0;
    labels.push(Buffer.from(q.subarray(i + 1, i + 1 + len)).toString('latin1'));
    i += 1 + len;
  }
  i += 1;
  return { name: labels.join('.').toLowerCase(), type: ((q[i] ?? 0) << 8) | (q[i + 1] ?? 0), end: i + 4 };
}

function answer(zone: Zone, q: Uint8Array, udp: boolean): Uint8Array {
  const { name, type, end } = question(q);
  const rdatas: number[][] = [];
  if (type === TYPE_TXT)
    for (const rec of zone.txt?.[name] ?? []) rdatas.push(rec.flatMap((s) => [s.length, ...s]));
  if (type === TYPE_SRV)
    for (const r of zone.srv?.[name] ?? [])
      rdatas.push([...u16(r.priority), ...u16(r.weight), ...u16(r.port), ...encodeName(r.target)]);
  const known = (zone.txt?.[name] ?? zone.srv?.[name]) !== undefined;
  const rcode = known ? 0 : 3;
  const answers = rdatas.flatMap((rd) => [
    0xc0,
    12,
    ...u16(type),
    0,
    1,
    0,
    0,
    0,
    60,
    ...u16(rd.length),
    ...rd,
  ]);
  // QR, the query's opcode and RD, AA; TC when the answer does not fit UDP.
  const header = (tc: boolean, count: number) => [
    ...q.subarray(0, 2),
    0x84 | ((q[2] ?? 0) & 0x79) | (tc ? 0x02 : 0),
    rcode,
    0,
    1,
    ...u16(count),
    0,
    0,
    0,
    0,
  ];
  const qsection = [...q.subarray(12, end)];
  if (udp && 12 + qsection.length + answers.length > 512)
    return new Uint8Array([...header(true, 0), ...qsection]);
  return new Uint8Array([...header(false, rdatas.length), ...qsection, ...answers]);
}

/** A running test DNS server. */
export interface TestDns {
  readonly address: string;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1 (UDP and TCP on the same free port). */
export async function startDns(zone: Zone): Promise<TestDns> {
  const tcp: Server = createServer((socket) => {
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + q.length);
        const a = answer(zone, q, false);
        socket.write(Buffer.from([...u16(a.length), ...a]));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as AddressInfo).port;
  const udp: Socket = createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    udp.send(answer(zone, new Uint8Array(msg), true), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${port}`,
    async close() {
      udp.close();
      await new Promise((r) => tcp.close(r));
    },
  };
}
