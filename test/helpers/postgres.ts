import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);
/** Where Debian installs the PostgreSQL 15 server binaries. */
export const PG_BIN = process.env.IMPRINT_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A running throw-away PostgreSQL server with one empty database. */
export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/<db> */
  readonly url: string;
  readonly port: number;
  /** A URL for another fresh database on the same server. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server immediately and removes its data dir. */
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL server on 127.0.0.1 and a free port, its data dir and socket dir in a
 * temp dir (owned by `postgres` when we run as root, which the server refuses), trust auth on
 * loopback only.
 */
export async function startPostgres(database = 'imprint_test'): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sock');
  mkdirSync(sockets);
  // PostgreSQL refuses to run as root: as root, hand the dir to `postgres` and run through runuser.
  const root = process.getuid?.() === 0;
  if (root) {
    const { uid, gid } = postgresUser();
    chownSync(dir, uid, gid);
    chownSync(sockets, uid, gid);
  }
  const command = (cmd: string, args: string[]): [string, string[]] =>
    root ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args]] : [join(PG_BIN, cmd), args];
  const asPostgres = (cmd: string, args: string[]) =>
    run(...command(cmd, args), { cwd: dir, timeout: 60_000 });
  let started = false;
  const stopSync = () => {
    if (started) {
      started = false;
      try {
        execFileSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), {
          stdio: 'ignore',
          cwd: dir,
        });
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that dies before its after-hook must not leave a server behind.
  process.once('exit', stopSync);
  try {
    await asPostgres('initdb', [
      '-D',
      data,
      '-U',
      'postgres',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    let port = 0;
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const options = [
        `-p ${port}`,
        `-k ${sockets}`,
        "-c listen_addresses='127.0.0.1'",
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=60',
        '-c shared_buffers=32MB',
      ].join(' ');
      try {
        await asPostgres('pg_ctl', [
          '-D',
          data,
          '-l',
          join(dir, 'server.log'),
          '-o',
          options,
          '-w',
          '-t',
          '60',
          'start',
        ]);
        started = true;
        break;
      } catch (e) {
        // Another process may have taken the port between probing and binding: try another one.
        if (attempt >= 3) throw new Error(`PostgreSQL did not start: ${serverLog(dir)}`, { cause: e });
      }
    }
    const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const createDatabase = async (name: string): Promise<string> => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    };
    const url = await createDatabase(database);
    return {
      url,
      port,
      createDatabase,
      stop() {
        stopSync();
        process.removeListener('exit', stopSync);
        return Promise.resolve();
      },
    };
  } catch (e) {
    stopSync();
    process.removeListener('exit', stopSync);
    throw e;
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined)
    throw new Error('no postgres user: apt-get install -y postgresql');
  return { uid: Number(uid), gid: Number(gid) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function serverLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000);
  } catch {
    return '(no server log)';
  }
}
