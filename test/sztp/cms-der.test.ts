/**
 * signCms and degenerateCms write their DER directly; these are the bytes the ASN.1 schema library writes
 * for the same SignedData (the reference below is the former implementation), for every signer key type.
 */
import 'reflect-metadata';
import * as asn1js from 'asn1js';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, Certificate } from '@peculiar/asn1-x509';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { degenerateCms, keyObjectSigner, signCms, verifyCms } from '../../src/sztp/cms/signed-data.ts';
import { OID } from '../../src/sztp/types.ts';
import { makeCert } from './pki-helpers.ts';

const HASH_OID = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

function schemaSignedData(
  contentType: string,
  content: Uint8Array,
  certs: Uint8Array[],
  time: Date,
  hash: keyof typeof HASH_OID,
  sigOid: string,
  nullParams: boolean,
  signature: Uint8Array,
): Uint8Array {
  const cert = AsnConvert.parse(certs[0]!, Certificate);
  const digest = createHash(hash).update(content).digest();
  const attr = (type: string, value: ArrayBuffer) => new Attribute({ attrType: type, attrValues: [value] });
  const attrs = [
    attr('1.2.840.113549.1.9.3', new asn1js.ObjectIdentifier({ value: contentType }).toBER()),
    attr('1.2.840.113549.1.9.5', new asn1js.UTCTime({ valueDate: time }).toBER()),
    attr('1.2.840.113549.1.9.4', new asn1js.OctetString({ valueHex: digest }).toBER()),
  ]
    .map((a) => ({ a, der: Buffer.from(AsnConvert.serialize(a)) }))
    .sort((x, y) => Buffer.compare(x.der, y.der));
  const sd = new SignedData({
    version: contentType === OID.data ? 1 : 3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([
      new AlgorithmIdentifier({ algorithm: HASH_OID[hash] }),
    ]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: contentType,
      eContent: new EncapsulatedContent({ single: new OctetString(content) }),
    }),
    certificates: new CertificateSet(
      certs.map((d) => new CertificateChoices({ certificate: AsnConvert.parse(d, Certificate) })),
    ),
    signerInfos: new SignerInfos([
      new SignerInfo({
        version: 1,
        sid: new SignerIdentifier({
          issuerAndSerialNumber: new IssuerAndSerialNumber({
            issuer: cert.tbsCertificate.issuer,
            serialNumber: cert.tbsCertificate.serialNumber,
          }),
        }),
        digestAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OID[hash] }),
        signedAttrs: attrs.map((x) => x.a),
        signatureAlgorithm: new AlgorithmIdentifier({
          algorithm: sigOid,
          ...(nullParams ? { parameters: null } : {}),
        }),
        signature: new OctetString(signature),
      }),
    ]),
  });
  return new Uint8Array(
    AsnConvert.serialize(new ContentInfo({ contentType: OID.signedData, content: AsnConvert.serialize(sd) })),
  );
}

test('signCms writes the bytes the schema library writes, and they verify', async () => {
  const root = await makeCert('CN=Root', { ca: true });
  const cases = [
    ['p256', 'sha256', '1.2.840.10045.4.3.2', false],
    ['p384', 'sha384', '1.2.840.10045.4.3.3', false],
    ['rsa', 'sha256', '1.2.840.113549.1.1.11', true],
  ] as const;
  for (const [alg, hash, sigOid, nullParams] of cases) {
    const leaf = await makeCert('CN=Signer, O=Ünïcode', { issuer: root, alg });
    const content = new TextEncoder().encode(`{"voucher":"${alg}"}`.repeat(40));
    const time = new Date('2026-01-02T03:04:05Z');
    const real = await signCms(OID.data, content, keyObjectSigner(leaf.key, leaf.der, [root.der]), time);
    assert.deepEqual(verifyCms(real).content, content, `${alg}: verifies`);
    // Byte for byte against the schema library, with a fixed signature (ECDSA signatures differ per call).
    const fixed = new Uint8Array(72).fill(9);
    const mine = await signCms(
      OID.data,
      content,
      { certificate: leaf.der, chain: [root.der], sign: async () => fixed },
      time,
    );
    assert.deepEqual(
      mine,
      schemaSignedData(OID.data, content, [leaf.der, root.der], time, hash, sigOid, nullParams, fixed),
      alg,
    );
  }
});

test('degenerateCms writes the bytes the schema library writes', async () => {
  const a = await makeCert('CN=A', { ca: true });
  const b = await makeCert('CN=B', { issuer: a });
  const sd = new SignedData({
    version: 1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: OID.data }),
    certificates: new CertificateSet(
      [b.der, a.der].map((d) => new CertificateChoices({ certificate: AsnConvert.parse(d, Certificate) })),
    ),
    signerInfos: new SignerInfos([]),
  });
  const want = AsnConvert.serialize(
    new ContentInfo({ contentType: OID.signedData, content: AsnConvert.serialize(sd) }),
  );
  assert.deepEqual(degenerateCms([b.der, a.der]), new Uint8Array(want));
});
