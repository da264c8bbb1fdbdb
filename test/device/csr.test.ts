/** The device's directly encoded CSR: the same bytes the schema library writes, and a CSR the PKI and OpenSSL accept. */
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { hasCode } from '../../src/core/errors.ts';
import { buildIdentityCsr } from '../../src/device/csr.ts';
import { SimulatedDevice } from '../../src/device/simulator.ts';
import type { SecureElement } from '../../src/device/secure-element.ts';
import { buildName } from '../../src/pki/asn1.ts';

/** The CSR as the schema library encodes it (the device's encoder before it was written by hand). */
async function referenceCsr(se: SecureElement, serial: string): Promise<Uint8Array> {
  const info = new CertificationRequestInfo({
    version: 0,
    subject: buildName([
      ['CN', serial],
      ['serialNumber', serial],
    ]),
    subjectPKInfo: AsnConvert.parse((await se.identityPublicKey())!, SubjectPublicKeyInfo),
  });
  const sig = await se.sign(new Uint8Array(AsnConvert.serialize(info)));
  const req = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' }),
    signature: sig.slice().buffer,
  });
  return new Uint8Array(AsnConvert.serialize(req));
}

test('the CSR is byte for byte what the schema library encodes, for short and long serials', async () => {
  const d = SimulatedDevice.create(undefined, { model: 'm', durable: false });
  await d.secureElement.generateIdentityKey();
  const signed: Uint8Array[] = [];
  // A deterministic signer: ECDSA signatures differ per call, the rest of the encoding must not.
  const se: SecureElement = Object.assign(Object.create(d.secureElement) as SecureElement, {
    identityPublicKey: () => d.secureElement.identityPublicKey(),
    sign: (tbs: Uint8Array) => {
      signed.push(tbs);
      return Promise.resolve(new Uint8Array(72).fill(0x5a));
    },
  });
  for (const serial of [d.serial, 'SN-' + 'X'.repeat(200)]) {
    assert.deepEqual(await buildIdentityCsr(se, serial), await referenceCsr(se, serial), serial);
    assert.deepEqual(signed[0], signed[1], 'the same CertificationRequestInfo is signed');
    signed.length = 0;
  }
});

test('OpenSSL verifies the CSR signature and reads the subject', async () => {
  const d = SimulatedDevice.create(undefined, { model: 'm', durable: false });
  await d.secureElement.generateIdentityKey();
  const csr = await buildIdentityCsr(d.secureElement, d.serial);
  const out = execFileSync('openssl', ['req', '-inform', 'DER', '-verify', '-noout', '-subject'], {
    input: csr,
    stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
  assert.match(out, new RegExp(`CN\\s*=\\s*${d.serial}, serialNumber\\s*=\\s*${d.serial}`));
});

test('without an identity key the CSR is refused with ERR_SE_NO_IDENTITY_KEY', async () => {
  const d = SimulatedDevice.create(undefined, { model: 'm', durable: false });
  await assert.rejects(buildIdentityCsr(d.secureElement, d.serial), (e) =>
    hasCode(e, 'ERR_SE_NO_IDENTITY_KEY'),
  );
});
