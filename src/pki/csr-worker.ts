/**
 * The CSR-checking worker thread (see csr-pool.ts): runs checkCsr for each job of a batch and answers the
 * batch with one message. Errors travel as their code, status and message; anything that is not an
 * ImprintError is reported as `retry`, and the main thread then checks that CSR itself.
 */
import { parentPort } from 'node:worker_threads';
import { ImprintError } from '../core/errors.ts';
import { checkCsr, type CheckedCsr } from './csr.ts';
import type { KeyPolicy } from './types.ts';

/** One CSR to check. */
export interface CsrJob {
  readonly id: number;
  readonly csr: string | Uint8Array;
  readonly policy: KeyPolicy;
}

/** The answer to one job. */
export type CsrAnswer =
  | { readonly id: number; readonly ok: CheckedCsr }
  | { readonly id: number; readonly error: { code: string; status: number; message: string } }
  | { readonly id: number; readonly retry: true };

async function answer(job: CsrJob): Promise<CsrAnswer> {
  try {
    return { id: job.id, ok: await checkCsr(job.csr, job.policy) };
  } catch (e) {
    if (e instanceof ImprintError)
      return { id: job.id, error: { code: e.code, status: e.status, message: e.message } };
    return { id: job.id, retry: true };
  }
}

parentPort?.on('message', (batch: readonly CsrJob[]) => {
  void Promise.all(batch.map(answer)).then((answers) => parentPort?.postMessage(answers));
});
