/** ASN.1 building blocks shared by certificates, CRLs and OCSP: names, serials, algorithms, signing. */
import 'reflect-metadata';
import { createHash, sign as nodeSign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Name,
  RelativeDistinguishedName,
} from '@peculiar/asn1-x509';
import { defaultHash, type KeyAlgorithm, type KeyStore } from '../keys/types.ts';
import type { Random } from '../core/random.ts';
import { toHex } from '../core/encoding.ts';
import { children, content, readTlv, seq, tlv } from '../core/der.ts';

/** Something that signs DER to-be-signed bytes for X.509 structures. */
export interface Signer {
  readonly algorithm: KeyAlgorithm;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly spki: Uint8Array;
  /** Signature value as it goes into the BIT STRING (DER for ECDSA). */
  sign(tbs: Uint8Array): Promise<Uint8Array>;
}

/** A signer backed by a key-store key (software or PKCS#11). */
export function keyStoreSigner(
  keys: KeyStore,
  keyId: string,
  algorithm: KeyAlgorithm,
  spki: Uint8Array,
): Signer {
  const hash = defaultHash(algorithm);
  return {
    algorithm,
    spki,
    sign: (tbs) => keys.sign(keyId, tbs, { hash, ecdsaFormat: 'der', rsaPadding: 'pkcs1' }),
  };
}

/** A signer over an in-memory key (offline root generated for export). */
export function keyObjectSigner(key: KeyObject, algorithm: KeyAlgorithm, spki: Uint8Array): Signer {
  return {
    algorithm,
    spki,
    sign: (tbs) =>
      Promise.resolve(
        new Uint8Array(nodeSign(algorithm === 'ed25519' ? null : defaultHash(algorithm), tbs, key)),
      ),
  };
}

const NULL_PARAMS = new Uint8Array([0x05, 0x00]).buffer;

/** The X.509 signatureAlgorithm a key of this algorithm signs with. */
export function signatureAlgorithm(algorithm: KeyAlgorithm): AlgorithmIdentifier {
  switch (algorithm) {
    case 'ecdsa-p256':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' });
    case 'ecdsa-p384':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.3' });
    case 'ed25519':
      return new AlgorithmIdentifier({ algorithm: '1.3.101.112' });
    case 'rsa-3072':
    case 'rsa-4096':
      return new AlgorithmIdentifier({ algorithm: '1.2.840.113549.1.1.11', parameters: NULL_PARAMS });
  }
}

/** One attribute of a distinguished name, by short name. */
export type NameAttr = readonly [type: 'CN' | 'O' | 'OU' | 'C' | 'serialNumber' | 'L' | 'ST', value: string];

const ATTR_OIDS: Record<NameAttr[0], string> = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  serialNumber: '2.5.4.5',
  L: '2.5.4.7',
  ST: '2.5.4.8',
};

/** A Name with one attribute per RDN; C and serialNumber as PrintableString (X.520), others UTF8String. */
export function buildName(attrs: readonly NameAttr[]): Name {
  return new Name(
    attrs.map(([type, value]) => {
      const printable = type === 'C' || type === 'serialNumber';
      const v = new AttributeValue(printable ? { printableString: value } : { utf8String: value });
      return new RelativeDistinguishedName([new AttributeTypeAndValue({ type: ATTR_OIDS[type], value: v })]);
    }),
  );
}

const ATTR_ARC: Record<NameAttr[0], number> = { CN: 3, serialNumber: 5, C: 6, L: 7, ST: 8, O: 10, OU: 11 };

/** DER of the same Name buildName makes, encoded directly (the issuance hot path). */
export function encodeName(attrs: readonly NameAttr[]): Uint8Array {
  return seq(
    ...attrs.map(([type, value]) => {
      const printable = type === 'C' || type === 'serialNumber';
      const oid = Uint8Array.of(0x06, 0x03, 0x55, 0x04, ATTR_ARC[type]);
      return tlv(0x31, seq(oid, tlv(printable ? 0x13 : 0x0c, new TextEncoder().encode(value))));
    }),
  );
}

/** True when `s` fits a PrintableString. */
export function isPrintable(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

/** A 128-bit random positive serial: DER INTEGER content octets (a 0x00 pad when the top bit is set). */
export function randomSerial(random: Random): Uint8Array {
  let b = random.bytes(16);
  if (b[0] === 0) b[0] = 1; // keep the full 16 octets so the hex form never loses leading zeros
  if ((b[0] ?? 0) & 0x80) b = Uint8Array.of(0, ...b);
  return b;
}

/** Lower-case hex without leading zeros of an integer's content octets. */
export function serialToHex(octets: Uint8Array): string {
  const h = toHex(octets).replace(/^0+/, '');
  return h === '' ? '0' : h;
}

/** DER INTEGER content octets of a serial given in hex (accepts leading zeros and `:`). */
export function serialFromHex(hex: string): Uint8Array {
  let h = hex.replace(/:/g, '').toLowerCase().replace(/^0+/, '');
  if (h === '') h = '0';
  if (h.length % 2) h = '0' + h;
  const b = Buffer.from(h, 'hex');
  return new Uint8Array((b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), b]) : b);
}

/** SHA-256 hex of DER bytes (SPKI fingerprints). */
export function sha256Hex(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** The subjectPublicKey BIT STRING contents of an SPKI (what SKI and OCSP key hashes cover). */
export function publicKeyBits(spkiDer: Uint8Array): Uint8Array {
  const outer = readTlv(spkiDer, 0);
  const bits = children(spkiDer, outer)[1];
  if (outer.tag !== 0x30 || bits?.tag !== 0x03) throw new RangeError('not a SubjectPublicKeyInfo');
  return content(spkiDer, bits).subarray(1);
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spkiDer: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(publicKeyBits(spkiDer)).digest());
}

/** DER encoding of an asn1-schema object as Uint8Array. */
export function der(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/** Total length of the outer DER SEQUENCE (header + body), or -1. */
export function outerLength(b: Uint8Array): number {
  if (b.length < 2 || b[0] !== 0x30) return -1;
  const first = b[1] ?? 0;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 3 || b.length < 2 + n) return -1;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + (b[2 + i] ?? 0);
  return 2 + n + len;
}
