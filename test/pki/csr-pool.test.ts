import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImprintError, ValidationError } from '../../src/core/errors.ts';
import { checkCsr, csrBytes } from '../../src/pki/csr.ts';
import { checkCsrConcurrent, csrWorkerRunning } from '../../src/pki/csr-pool.ts';
import { DEFAULT_KEY_POLICY } from '../../src/pki/types.ts';
import { makeCsr, type CsrKey } from './helpers.ts';

/** Outcome of a check as comparable data: the result, or the error's class, code and status. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (e) {
    assert.ok(e instanceof ImprintError, String(e));
    return { error: e.code, status: e.status, validation: e instanceof ValidationError };
  }
}

describe('CSR checks on the worker thread', () => {
  let dir: string;
  const inputs: { name: string; csr: string | Uint8Array }[] = [];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'imprint-csr-pool-'));
    const keys: CsrKey[] = ['p256', 'p384', 'ed25519', 'rsa3072', 'rsa2048', 'p521'];
    for (const k of keys)
      inputs.push({ name: k, csr: makeCsr(dir, k, `/CN=${k}/serialNumber=S-${k}`, k).csrPem });
    const san = makeCsr(dir, 'san', '/CN=san', 'p256', ['subjectAltName=DNS:a.example,IP:10.0.0.1']);
    inputs.push({ name: 'san', csr: san.csrPem });
    const der = csrBytes(san.csrPem);
    const badSig = Uint8Array.from(der);
    badSig[badSig.length - 3]! ^= 1;
    inputs.push({ name: 'der', csr: der }, { name: 'bad signature', csr: badSig });
    inputs.push({ name: 'garbage', csr: 'not a CSR!' }, { name: 'truncated', csr: der.subarray(0, 40) });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same results and error codes as checkCsr on the calling thread', async () => {
    const expected = await Promise.all(inputs.map(async (i) => outcome(checkCsr(i.csr, DEFAULT_KEY_POLICY))));
    // Concurrent calls (three rounds of all inputs) start the worker and go through it.
    const rounds = await Promise.all(
      [0, 1, 2].map(() =>
        Promise.all(inputs.map(async (i) => outcome(checkCsrConcurrent(i.csr, DEFAULT_KEY_POLICY)))),
      ),
    );
    assert.equal(csrWorkerRunning(), true);
    for (const round of rounds) {
      for (const [n, got] of round.entries()) assert.deepEqual(got, expected[n], inputs[n]!.name);
    }
    const codes = expected.map((e) => (e as { error?: string }).error ?? 'ok');
    assert.deepEqual(codes, [
      'ok',
      'ok',
      'ok',
      'ok',
      'ERR_CSR_KEY_WEAK',
      'ERR_CSR_KEY_UNSUPPORTED',
      'ok',
      'ok',
      'ERR_CSR_BAD_SIGNATURE',
      'ERR_CSR_MALFORMED',
      'ERR_CSR_MALFORMED',
    ]);
  });

  it('honours the caller key policy on the worker', async () => {
    const p384 = inputs.find((i) => i.name === 'p384')!.csr;
    const strict = { allowEcdsa: ['P-256'] as const, allowEd25519: false, rsaMinBits: 0 };
    const got = await Promise.all([1, 2, 3].map(() => outcome(checkCsrConcurrent(p384, strict))));
    for (const g of got)
      assert.deepEqual(g, { error: 'ERR_CSR_KEY_UNSUPPORTED', status: 400, validation: true });
  });
});
