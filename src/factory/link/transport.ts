import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { UnavailableError, ValidationError } from '../../core/errors.ts';

/** Opens a serial port (8N1, no flow control) as a Duplex. Throws ERR_LINK_PORT_UNAVAILABLE. */
export async function openSerial(path: string, baudRate = 115200): Promise<Duplex> {
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err)
        reject(
          new UnavailableError('ERR_LINK_PORT_UNAVAILABLE', `cannot open serial port ${path}`, {
            cause: err,
          }),
        );
      else resolve();
    });
  });
  return port;
}

/** Parses `host:port` (host defaults to 127.0.0.1; port 0 only with anyPort, for listening). Throws ERR_LINK_ADDRESS_INVALID. */
export function parseHostPort(
  s: string,
  options: { anyPort?: boolean } = {},
): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(s);
  const port = Number(m?.[2]);
  if (m === null || port < (options.anyPort === true ? 0 : 1) || port > 65535) {
    throw new ValidationError('ERR_LINK_ADDRESS_INVALID', `not a host:port: ${s}`);
  }
  return { host: m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1], port };
}

/** Connects over TCP (simulated lines). Throws ERR_LINK_PORT_UNAVAILABLE. */
export async function connectTcp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.setNoDelay(true);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', (err) =>
      reject(
        new UnavailableError('ERR_LINK_PORT_UNAVAILABLE', `cannot connect to ${host}:${port}`, {
          cause: err,
        }),
      ),
    );
  });
}

/** Listens on TCP and hands each connection to `onConnection`; resolves with the bound port. */
export async function listenTcp(
  port: number,
  onConnection: (socket: Socket) => void,
  host = '127.0.0.1',
): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => undefined);
    onConnection(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr !== null ? addr.port : port };
}
