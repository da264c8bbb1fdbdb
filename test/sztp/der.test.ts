/**
 * The DER slicer behind parseCert gives the same fields as the ASN.1 schema library did (fixtures from other
 * implementations and our own test certificates of every key type), and refuses malformed input.
 */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromPemAll } from '../../src/core/encoding.ts';
import { parseCert, subjectAttribute, validatePath } from '../../src/sztp/cms/certs.ts';
import { makeCert } from './pki-helpers.ts';

/** The fields as the schema library gives them (parseCert before the slicer). */
function bySchema(der: Uint8Array) {
  const asn = AsnConvert.parse(der, Certificate);
  const tbs = asn.tbsCertificate;
  const bc = tbs.extensions?.find((e) => e.extnID === '2.5.29.19');
  return {
    tbs: new Uint8Array(AsnConvert.serialize(tbs)),
    signatureAlgorithm: asn.signatureAlgorithm.algorithm,
    signatureValue: new Uint8Array(asn.signatureValue),
    subjectDer: new Uint8Array(AsnConvert.serialize(tbs.subject)),
    issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
    serial: new Uint8Array(tbs.serialNumber),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
    spki: new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    isCa: bc !== undefined && new x509.BasicConstraintsExtension(AsnConvert.serialize(bc)).ca,
    attrs: tbs.subject.flatMap((rdn) => rdn.map((atv) => [atv.type, atv.value.toString()] as const)),
  };
}

async function certificates(): Promise<Uint8Array[]> {
  const dir = '../shared/fixtures/sztp';
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(crt|pem)$/.test(f));
  const ders = files.flatMap((f) => fromPemAll(readFileSync(join(dir, f), 'utf8'), 'CERTIFICATE'));
  const ca = await makeCert('CN=Test CA', { ca: true });
  ders.push(ca.der);
  for (const alg of ['p256', 'p384', 'rsa'] as const)
    ders.push((await makeCert('CN=Bücher ÅB, O=ü', { issuer: ca, serialAttr: 'SN-ÄÖ-1', alg })).der);
  return ders;
}

test('parseCert slices the same fields the schema library parses', async () => {
  const ders = await certificates();
  assert.ok(ders.length >= 5);
  for (const der of ders) {
    const want = bySchema(der);
    const got = parseCert(der);
    const { attrs, ...fields } = want;
    for (const [k, v] of Object.entries(fields)) assert.deepEqual(got[k as keyof typeof got], v, k);
    for (const [oid, value] of attrs) assert.equal(subjectAttribute(got, oid), value, oid);
    assert.equal(subjectAttribute(got, '1.2.3.4.5'), undefined);
    assert.equal(got.asn.tbsCertificate.subject.length > 0, true); // the lazy schema parse still works
  }
});

test('path validation over sliced certificates: good chains pass, a foreign issuer and a bad signature fail', async () => {
  const root = await makeCert('CN=Root', { ca: true });
  const leaf = await makeCert('CN=Leaf', { issuer: root, serialAttr: 'SN-1' });
  const other = await makeCert('CN=Root', { ca: true });
  const now = new Date();
  assert.equal(validatePath(parseCert(leaf.der), [], [parseCert(root.der)], now).length, 2);
  assert.throws(() => validatePath(parseCert(leaf.der), [], [parseCert(other.der)], now), {
    code: 'ERR_SZTP_CHAIN_INVALID',
  });
  const tampered = new Uint8Array(leaf.der);
  tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 0x01; // inside the signature
  assert.throws(() => validatePath(parseCert(tampered), [], [parseCert(root.der)], now), {
    code: 'ERR_SZTP_CHAIN_INVALID',
  });
});

test('malformed DER is refused with ERR_SZTP_CERT_INVALID', async () => {
  const { der } = await makeCert('CN=x', {});
  for (const bad of [
    new Uint8Array(0),
    der.subarray(0, der.length - 1),
    new Uint8Array([...der, 0]),
    new Uint8Array([0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
    new Uint8Array([0x04, 0x00]),
  ])
    assert.throws(() => parseCert(bad), { code: 'ERR_SZTP_CERT_INVALID' });
});
