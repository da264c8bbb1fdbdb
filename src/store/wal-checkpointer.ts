/**
 * WAL checkpoints of a SQLite store moved off the server's event loop. SQLite checkpoints automatically inside
 * the commit that crosses `wal_autocheckpoint` pages (1000 by default); with synchronous=NORMAL that
 * checkpoint fsyncs the WAL and the database file, and the event loop waits for the disk: in the SZTP bench
 * that was ~30% of the wall time of a log commit (104 → 76 µs per log entry with it off, CPU the same). Here
 * the server's own connection stops checkpointing (`wal_autocheckpoint = 0`) and a worker thread with its own
 * connection runs a PASSIVE checkpoint every `intervalMs`, which copies committed pages to the database file
 * without blocking readers or writers. Durability is unchanged: commits are in the WAL either way, and
 * synchronous=NORMAL already made them durable at the next checkpoint; a crash of either thread leaves a WAL
 * that the next checkpoint (or the next process to open the file) applies. Other processes on the same file
 * (CLI commands) keep their automatic checkpoints.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { CompiledQuery } from 'kysely';
import type { Store } from './database.ts';

/** A running checkpointer. */
export interface WalCheckpointer {
  /** Checkpoints committed to the database file so far (for tests). */
  checkpoints(): number;
  /** Stops the worker and restores automatic checkpoints on the server's connection. */
  stop(): Promise<void>;
}

// Plain CommonJS run in the worker (no TypeScript loader is needed there).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
let done = 0;
const tick = () => {
  try { const r = db.pragma('wal_checkpoint(PASSIVE)')[0]; if (r && r.busy === 0) done++; } catch {}
  parentPort.postMessage(done);
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', (m) => { if (m === 'stop') { clearInterval(timer); tick(); db.close(); process.exit(0); } });
`;

/**
 * Starts checkpointing a SQLite file store on a worker thread; undefined for PostgreSQL or an in-memory
 * database (nothing to do).
 */
export async function startWalCheckpointer(
  store: Store,
  intervalMs = 250,
): Promise<WalCheckpointer | undefined> {
  if (store.dialect !== 'sqlite') return undefined;
  const { rows } = await store.db.executeQuery<{ file: string }>(
    CompiledQuery.raw("select file from pragma_database_list where name = 'main'"),
  );
  const path = rows[0]?.file ?? '';
  if (path === '') return undefined;
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER, { eval: true, workerData: { path, driver, intervalMs } });
  worker.unref(); // a checkpointer alone does not keep the process alive
  let count = 0;
  let stopping = false;
  worker.on('message', (n: number) => (count = n));
  const autocheckpoint = (pages: number) =>
    store.db.executeQuery(CompiledQuery.raw(`pragma wal_autocheckpoint = ${pages}`));
  // A writer that dies unasked hands checkpoints back to the connection, so the WAL cannot grow unbounded.
  worker.on('error', () => undefined);
  worker.on('exit', () => {
    if (!stopping) void autocheckpoint(1000).catch(() => undefined);
  });
  await autocheckpoint(0);
  return {
    checkpoints: () => count,
    async stop() {
      stopping = true;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.ref(); // keep the process alive until the last checkpoint is done
      worker.postMessage('stop');
      await exited;
      await autocheckpoint(1000);
    },
  };
}
