/** Assembles and signs X.509 v3 certificates from already validated parts. */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { Extension, Name } from '@peculiar/asn1-x509';
import { Certificate, Time } from '@peculiar/asn1-x509';
import { der, keyIdentifier, signatureAlgorithm, type Signer } from './asn1.ts';
import { concatBytes } from '../core/encoding.ts';
import { authorityKeyIdExt } from './extensions.ts';
import { seq, tlv } from '../core/der.ts';
import { derTime } from './der.ts';

/** 802.1AR "no well-defined expiration": notAfter 99991231235959Z. */
export const NO_EXPIRY = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));

/** What goes into one certificate. */
export interface CertificateInput {
  readonly signer: Signer;
  /** Issuer Name, taken from the issuer certificate so it matches byte for byte. */
  readonly issuer: Name;
  /** Subject Name, or its DER. */
  readonly subject: Name | Uint8Array;
  readonly spki: Uint8Array;
  /** INTEGER content octets (positive). */
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extension objects, or their DER when the caller caches constant ones. */
  readonly extensions: readonly (Extension | Uint8Array)[];
}

const encoded = new WeakMap<object, Uint8Array>();
const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);

/** DER of a schema object, cached per object (CA names and constant extensions are reused). */
export function encodeOnce(value: object | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) return value;
  let d = encoded.get(value);
  if (d === undefined) {
    d = der(value);
    encoded.set(value, d);
  }
  return d;
}

const akis = new Map<string, Uint8Array>();

/** Assembles the TBSCertificate from encoded parts, signs it with the signer, returns the DER certificate. */
export async function buildCertificate(input: CertificateInput): Promise<Uint8Array> {
  const sigAlg = encodeOnce(signatureAlgorithmOnce(input.signer.algorithm));
  const signerKey = Buffer.from(input.signer.spki).toString('base64');
  let aki = akis.get(signerKey);
  if (aki === undefined) {
    aki = der(authorityKeyIdExt(input.signer.spki));
    if (akis.size > 1000) akis.clear();
    akis.set(signerKey, aki);
  }
  const extensions = [...input.extensions.map(encodeOnce), skiExtension(input.spki), aki];
  const tbsDer = seq(
    VERSION_3,
    tlv(0x02, input.serial),
    sigAlg,
    encodeOnce(input.issuer),
    seq(derTime(input.notBefore), derTime(input.notAfter)),
    encodeOnce(input.subject),
    input.spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = await input.signer.sign(tbsDer);
  return seq(tbsDer, sigAlg, derBitString(signature));
}

const sigAlgs = new Map<string, object>();
function signatureAlgorithmOnce(alg: Signer['algorithm']): object {
  let a = sigAlgs.get(alg);
  if (a === undefined) {
    a = signatureAlgorithm(alg);
    sigAlgs.set(alg, a);
  }
  return a;
}

/** subjectKeyIdentifier (RFC 5280 method 1) encoded directly. */
function skiExtension(spki: Uint8Array): Uint8Array {
  const id = keyIdentifier(spki);
  return seq(Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e), tlv(0x04, tlv(0x04, id)));
}

/** DER SEQUENCE of already encoded elements. */
export function derSequence(parts: readonly Uint8Array[]): Uint8Array {
  return seq(...parts);
}

/** DER BIT STRING with no unused bits. */
export function derBitString(bits: Uint8Array): Uint8Array {
  return tlv(0x03, concatBytes(Uint8Array.of(0), bits));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
export function time(d: Date): Time {
  const t = new Date(Math.floor(d.getTime() / 1000) * 1000);
  return t.getUTCFullYear() > 2049 ? new Time({ generalTime: t }) : new Time({ utcTime: t });
}

const subjects = new Map<string, Name>();

/** The subject Name of a DER certificate (re-encoded identically: we wrote it); CA subjects are cached by certificate. */
export function certificateSubject(certDer: Uint8Array): Name {
  const key = Buffer.from(certDer.subarray(certDer.length - 64)).toString('base64');
  let name = subjects.get(key);
  if (name === undefined) {
    name = AsnConvert.parse(certDer, Certificate).tbsCertificate.subject;
    if (subjects.size > 1000) subjects.clear();
    subjects.set(key, name);
  }
  return name;
}
