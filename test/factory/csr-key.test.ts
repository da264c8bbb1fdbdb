import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hasCode } from '../../src/core/errors.ts';
import { buildIdentityCsr } from '../../src/device/csr.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import { csrPublicKey, spkiKeyObject } from '../../src/factory/csr-key.ts';

test('csrPublicKey returns the SPKI openssl reads from the CSR, and refuses malformed DER', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'imprint-csr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const newkey of ['rsa:2048', 'ec', 'ed25519']) {
    const args =
      newkey === 'ec'
        ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']
        : newkey === 'ed25519'
          ? ['-newkey', 'ed25519']
          : ['-newkey', newkey];
    const der = join(dir, 'req.der');
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        ...args,
        '-nodes',
        '-keyout',
        join(dir, 'k.pem'),
        '-subj',
        '/CN=x/serialNumber=SN-1',
        '-outform',
        'DER',
        '-out',
        der,
      ],
      { stdio: 'ignore' },
    );
    const pem = execFileSync('openssl', [
      'req',
      '-in',
      der,
      '-inform',
      'DER',
      '-pubkey',
      '-noout',
    ]).toString();
    const expected = createPublicKey(pem).export({ format: 'der', type: 'spki' });
    assert.deepEqual(Buffer.from(csrPublicKey(new Uint8Array(readFileSync(der)))), expected, newkey);
  }
  const d = SimulatedDevice.create(undefined, { model: 'm', durable: false });
  const key = await d.secureElement.generateIdentityKey();
  const csr = await buildIdentityCsr(d.secureElement, d.serial);
  assert.deepEqual(csrPublicKey(csr), key);
  const bad = [
    new Uint8Array(0),
    csr.subarray(0, csr.length - 1),
    new Uint8Array([...csr, 0]),
    Uint8Array.from([0x31, ...csr.subarray(1)]),
    Uint8Array.from([0x30, 0x80, ...csr.subarray(2)]),
  ];
  for (const b of bad)
    assert.throws(
      () => csrPublicKey(b),
      (e) => hasCode(e, 'ERR_CSR_MALFORMED'),
    );
});

test('spkiKeyObject imports EC keys through JWK and anything else as DER, to the same key', () => {
  const pairs = [
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    generateKeyPairSync('ed25519'),
    generateKeyPairSync('rsa', { modulusLength: 2048 }),
  ];
  for (const { publicKey } of pairs) {
    const der = publicKey.export({ format: 'der', type: 'spki' });
    assert.ok(spkiKeyObject(new Uint8Array(der)).equals(publicKey));
  }
  const p256 = new Uint8Array(pairs[0]!.publicKey.export({ format: 'der', type: 'spki' }));
  p256[p256.length - 1]! ^= 1; // off the curve
  assert.throws(() => spkiKeyObject(p256));
});
