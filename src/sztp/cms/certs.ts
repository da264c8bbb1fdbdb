/** Certificate helpers for SZTP: parsing, issuer/serial identity, and path validation to trust anchors. */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { bytesEqual } from '../../core/encoding.ts';
import { children, content, oidText, readTlv, whole, type Tlv } from '../../core/der.ts';
import { directoryString, timeOf } from './der.ts';
import { ValidationError } from '../../core/errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** A parsed certificate with the bits SZTP needs. */
export interface Cert {
  readonly der: Uint8Array;
  /** The schema-parsed certificate (built on first use). */
  readonly asn: Certificate;
  /** DER of the TBSCertificate (what the signature covers). */
  readonly tbs: Uint8Array;
  /** Signature algorithm OID. */
  readonly signatureAlgorithm: string;
  /** The signature bits (BIT STRING content without its unused-bits byte). */
  readonly signatureValue: Uint8Array;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly spki: Uint8Array;
  readonly isCa: boolean;
}

/** Parses a DER certificate. Throws ERR_SZTP_CERT_INVALID. */
export function parseCert(der: Uint8Array): Cert {
  try {
    return sliceCert(der);
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_CERT_INVALID', 'not a DER X.509 certificate', { cause });
  }
}

/**
 * The certificate's fields as slices of its DER (der.ts): the structure is checked (one SEQUENCE of TBS,
 * algorithm and BIT STRING; serial, names, validity and key where RFC 5280 puts them) and trust is decided by
 * the signature checks of path validation. The schema-parsed `asn` is built only when a caller reads it (CMS
 * issuer-and-serial, other extensions).
 */
function sliceCert(der: Uint8Array): Cert {
  const top = readTlv(der, 0);
  if (top.tag !== 0x30 || top.end !== der.length) throw new RangeError('not one DER SEQUENCE');
  const [tbsT, algT, sigT, ...rest] = children(der, top);
  if (tbsT?.tag !== 0x30 || algT?.tag !== 0x30 || sigT?.tag !== 0x03 || rest.length > 0)
    throw new RangeError('not a Certificate');
  const tbs = children(der, tbsT);
  let i = tbs[0]?.tag === 0xa0 ? 1 : 0;
  const [serialT, , issuerT, validityT, subjectT, spkiT] = tbs.slice(i, i + 6);
  i += 6;
  if (serialT?.tag !== 0x02 || issuerT?.tag !== 0x30 || validityT?.tag !== 0x30)
    throw new RangeError('bad TBS');
  if (subjectT?.tag !== 0x30 || spkiT?.tag !== 0x30) throw new RangeError('bad TBS');
  const [nb, na] = children(der, validityT);
  const notBefore = nb && timeOf(der, nb);
  const notAfter = na && timeOf(der, na);
  if (notBefore === undefined || notAfter === undefined) throw new RangeError('bad validity');
  const extsT = tbs.slice(i).find((t) => t.tag === 0xa3);
  let asn: Certificate | undefined;
  return {
    der,
    get asn(): Certificate {
      return (asn ??= AsnConvert.parse(der, Certificate));
    },
    tbs: whole(der, tbsT),
    signatureAlgorithm: oidOfAlgorithm(der, algT),
    signatureValue: content(der, sigT).subarray(1),
    subjectDer: whole(der, subjectT),
    issuerDer: whole(der, issuerT),
    serial: content(der, serialT),
    notBefore,
    notAfter,
    spki: whole(der, spkiT),
    isCa: extsT !== undefined && basicConstraintsCa(der, extsT),
  };
}

function oidOfAlgorithm(der: Uint8Array, alg: Tlv): string {
  const oid = children(der, alg)[0];
  if (oid?.tag !== 0x06) throw new RangeError('bad AlgorithmIdentifier');
  return oidText(content(der, oid));
}

// 2.5.29.19 basicConstraints: SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }.
function basicConstraintsCa(der: Uint8Array, exts: Tlv): boolean {
  const seq = children(der, exts)[0];
  if (seq?.tag !== 0x30) throw new RangeError('bad extensions');
  for (const ext of children(der, seq)) {
    const parts = children(der, ext);
    const id = parts[0];
    if (id?.tag !== 0x06 || oidText(content(der, id)) !== '2.5.29.19') continue;
    const value = parts[parts.length - 1];
    if (value?.tag !== 0x04) throw new RangeError('bad extension');
    const bc = readTlv(der, value.contentStart, value.end);
    const first = children(der, bc)[0];
    return first?.tag === 0x01 && der[first.contentStart] !== 0;
  }
  return false;
}

/** The value of the first subject attribute with this OID (e.g. 2.5.4.5 serialNumber), or undefined. */
export function subjectAttribute(cert: Cert, oid: string): string | undefined {
  const b = cert.subjectDer;
  for (const rdn of children(b, readTlv(b, 0))) {
    for (const atv of children(b, rdn)) {
      const [type, value] = children(b, atv);
      if (type === undefined || value === undefined || oidText(content(b, type)) !== oid) continue;
      // Other string types (rare in names) through the schema library, as before.
      return directoryString(b, value) ?? schemaSubjectAttribute(cert, oid);
    }
  }
  return undefined;
}

function schemaSubjectAttribute(cert: Cert, oid: string): string | undefined {
  for (const rdn of cert.asn.tbsCertificate.subject) {
    for (const atv of rdn) if (atv.type === oid) return atv.value.toString();
  }
  return undefined;
}

const keys = new WeakMap<Cert, KeyObject>();
/** Node KeyObject for a certificate's public key (made once per parsed certificate). */
export function publicKeyOf(cert: Cert): KeyObject {
  let k = keys.get(cert);
  if (k === undefined) {
    k = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
    keys.set(cert, k);
  }
  return k;
}

/** True when `issuer` signed `cert` (signature only). */
export function signedBy(cert: Cert, issuer: Cert): boolean {
  if (!bytesEqual(cert.issuerDer, issuer.subjectDer)) return false;
  const hash = SIG_HASH[cert.signatureAlgorithm];
  if (hash === undefined) return false;
  try {
    return nodeVerify(
      hash === 'none' ? null : hash,
      cert.tbs,
      { key: publicKeyOf(issuer), dsaEncoding: 'der' },
      cert.signatureValue,
    );
  } catch {
    return false;
  }
}

/** Signature algorithm OID → Node digest name. */
export const SIG_HASH: Readonly<Record<string, string>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': 'none',
};

/**
 * Builds and checks a path from `leaf` (using `intermediates`) to one of `anchors` at time `at`:
 * signatures, validity periods, CA flags. Returns the path leaf first. Throws ERR_SZTP_CHAIN_INVALID
 * with the reason.
 */
export function validatePath(
  leaf: Cert,
  intermediates: readonly Cert[],
  anchors: readonly Cert[],
  at: Date,
): Cert[] {
  const path: Cert[] = [leaf];
  let cur = leaf;
  for (let depth = 0; depth < 8; depth++) {
    checkTime(cur, at);
    const anchor = anchors.find((a) => bytesEqual(a.der, cur.der) || signedBy(cur, a));
    if (anchor !== undefined) {
      if (!bytesEqual(anchor.der, cur.der)) {
        checkTime(anchor, at);
        path.push(anchor);
      }
      return path;
    }
    const next = intermediates.find((c) => !path.includes(c) && c.isCa && signedBy(cur, c));
    if (next === undefined) {
      throw new ValidationError('ERR_SZTP_CHAIN_INVALID', 'certificate does not chain to a trust anchor', {
        details: { subject: nameOf(cur) },
      });
    }
    path.push(next);
    cur = next;
  }
  throw new ValidationError('ERR_SZTP_CHAIN_INVALID', 'certificate path too long');
}

function checkTime(c: Cert, at: Date): void {
  if (at < c.notBefore || at > c.notAfter) {
    throw new ValidationError('ERR_SZTP_CHAIN_INVALID', 'certificate outside its validity period', {
      details: {
        subject: nameOf(c),
        notBefore: c.notBefore.toISOString(),
        notAfter: c.notAfter.toISOString(),
      },
    });
  }
}

/** RFC 4514-ish text of a certificate's subject (for messages). */
export function nameOf(c: Cert): string {
  return new x509.Name(AsnConvert.serialize(AsnConvert.parse(c.subjectDer, Name))).toString();
}
