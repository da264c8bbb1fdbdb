/**
 * CSR checking on a worker thread. Parsing a CSR, importing its public key (OpenSSL 3's key import alone
 * costs ~80 µs) and the verify call were about a third of the issuance main thread; under concurrent load
 * they run on one worker thread instead, so the main thread keeps the database, the certificate assembly
 * and the HTTP work, and the second core does the CSR checks. (The verify itself runs on libuv's thread
 * pool from the worker, as it does from the main thread.) A lone request, as from the CLI, is checked on
 * the calling thread: the worker starts only once two checks are in flight at the same time, and it never
 * keeps the process alive while idle. Every answer is the same checkCsr result or error code as on the
 * calling thread; if the worker cannot start or dies, its jobs and all later ones are checked in-thread.
 */
import { Worker } from 'node:worker_threads';
import { ImprintError, ValidationError } from '../core/errors.ts';
import { checkCsr, type CheckedCsr } from './csr.ts';
import type { CsrAnswer, CsrJob } from './csr-worker.ts';
import type { KeyPolicy } from './types.ts';

interface Pending {
  readonly job: CsrJob;
  readonly resolve: (c: CheckedCsr) => void;
  readonly reject: (e: unknown) => void;
}

/** Parses and checks a CSR like checkCsr, on the CSR worker when checks are concurrent (same error codes). */
export function checkCsrConcurrent(input: string | Uint8Array, policy: KeyPolicy): Promise<CheckedCsr> {
  return pool.check(input, policy);
}

/** Whether the CSR worker is running (it starts on the first concurrent checks; for tests and metrics). */
export function csrWorkerRunning(): boolean {
  return pool.running;
}

class CsrPool {
  #worker: Worker | undefined;
  #broken = false;
  #inThread = 0;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #outbox: CsrJob[] = [];
  #flushScheduled = false;

  get running(): boolean {
    return this.#worker !== undefined;
  }

  check(input: string | Uint8Array, policy: KeyPolicy): Promise<CheckedCsr> {
    if (this.#broken || (this.#worker === undefined && this.#inThread === 0))
      return this.#local(input, policy);
    if (this.#worker === undefined) this.#start();
    if (this.#worker === undefined) return this.#local(input, policy);
    // A view into a larger buffer would be cloned whole; send only its bytes.
    const csr = typeof input === 'string' ? input : Uint8Array.from(input);
    return new Promise<CheckedCsr>((resolve, reject) => {
      const job: CsrJob = { id: this.#nextId++, csr, policy };
      this.#pending.set(job.id, { job, resolve, reject });
      this.#outbox.push(job);
      if (this.#pending.size === 1) this.#worker?.ref();
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // Requests arriving in the same event-loop turn go to the worker as one message.
        setImmediate(() => this.#flush());
      }
    });
  }

  async #local(input: string | Uint8Array, policy: KeyPolicy): Promise<CheckedCsr> {
    this.#inThread += 1;
    try {
      return await checkCsr(input, policy);
    } finally {
      this.#inThread -= 1;
    }
  }

  #start(): void {
    try {
      const worker = new Worker(workerEntry());
      worker.unref();
      worker.on('message', (answers: readonly CsrAnswer[]) => this.#settle(answers));
      worker.on('error', () => this.#fail());
      worker.on('exit', () => this.#fail());
      this.#worker = worker;
    } catch {
      this.#broken = true;
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#outbox;
    this.#outbox = [];
    if (batch.length > 0) this.#worker?.postMessage(batch);
  }

  #settle(answers: readonly CsrAnswer[]): void {
    for (const a of answers) {
      const p = this.#pending.get(a.id);
      if (p === undefined) continue;
      this.#pending.delete(a.id);
      if ('ok' in a) p.resolve(a.ok);
      else if ('error' in a) p.reject(rebuild(a.error));
      else this.#local(p.job.csr, p.job.policy).then(p.resolve, p.reject);
    }
    if (this.#pending.size === 0) this.#worker?.unref();
  }

  /** The worker is gone: check what it held in-thread, and everything after it too. */
  #fail(): void {
    this.#broken = true;
    this.#worker = undefined;
    const held = [...this.#pending.values()];
    this.#pending.clear();
    this.#outbox = [];
    for (const p of held) this.#local(p.job.csr, p.job.policy).then(p.resolve, p.reject);
  }
}

/**
 * The worker's entry module. Built code starts csr-worker.js directly. Running from the TypeScript
 * sources (tests, `tsx`), a worker does not inherit the loader, so a small module registers tsx's ESM
 * loader in the worker first and then imports csr-worker.ts.
 */
function workerEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./csr-worker.js', import.meta.url);
  const tsx = import.meta.resolve('tsx/esm/api');
  const target = new URL('./csr-worker.ts', import.meta.url).href;
  const source = `const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(target)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(source)}`);
}

/** The worker's error as the same typed error checkCsr throws (all of its errors are 400s). */
function rebuild(e: { code: string; status: number; message: string }): ImprintError {
  return e.status === 400
    ? new ValidationError(e.code, e.message)
    : new ImprintError(e.code, e.status, e.message);
}

const pool = new CsrPool();
