import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { buildName } from '../pki/asn1.ts';
import type { SecureElement } from './secure-element.ts';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';

/**
 * A PKCS#10 CSR for the identity key, signed inside the secure element (the key never leaves it).
 * Subject: CN = serialNumber = the device serial. Throws ERR_SE_NO_IDENTITY_KEY.
 */
export async function buildIdentityCsr(se: SecureElement, serial: string): Promise<Uint8Array> {
  const spki = await se.identityPublicKey();
  if (spki === undefined) await se.sign(new Uint8Array(0)); // raises ERR_SE_NO_IDENTITY_KEY
  const info = new CertificationRequestInfo({
    version: 0,
    subject: buildName([
      ['CN', serial],
      ['serialNumber', serial],
    ]),
    subjectPKInfo: AsnConvert.parse(spki!, SubjectPublicKeyInfo),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(info));
  const sig = await se.sign(tbs);
  const req = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 }),
    signature: sig.slice().buffer,
  });
  return new Uint8Array(AsnConvert.serialize(req));
}
