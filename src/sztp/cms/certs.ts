/** Certificate helpers for SZTP: parsing, issuer/serial identity, and path validation to trust anchors. */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Name } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { webcrypto } from 'node:crypto';
import { bytesEqual } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/** A parsed certificate with the bits SZTP needs. */
export interface Cert {
  readonly der: Uint8Array;
  readonly asn: Certificate;
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
    const asn = AsnConvert.parse(der, Certificate);
    const tbs = asn.tbsCertificate;
    const bc = tbs.extensions?.find((e) => e.extnID === '2.5.29.19');
    const isCa = bc !== undefined && new x509.BasicConstraintsExtension(AsnConvert.serialize(bc)).ca;
    return {
      der,
      asn,
      subjectDer: new Uint8Array(AsnConvert.serialize(tbs.subject)),
      issuerDer: new Uint8Array(AsnConvert.serialize(tbs.issuer)),
      serial: new Uint8Array(tbs.serialNumber),
      notBefore: tbs.validity.notBefore.getTime(),
      notAfter: tbs.validity.notAfter.getTime(),
      spki: new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
      isCa,
    };
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_CERT_INVALID', 'not a DER X.509 certificate', { cause });
  }
}

/** The value of the first subject attribute with this OID (e.g. 2.5.4.5 serialNumber), or undefined. */
export function subjectAttribute(cert: Cert, oid: string): string | undefined {
  for (const rdn of cert.asn.tbsCertificate.subject) {
    for (const atv of rdn) if (atv.type === oid) return atv.value.toString();
  }
  return undefined;
}

/** Node KeyObject for a certificate's public key. */
export function publicKeyOf(cert: Cert): KeyObject {
  return createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
}

/** True when `issuer` signed `cert` (signature only). */
export function signedBy(cert: Cert, issuer: Cert): boolean {
  if (!bytesEqual(cert.issuerDer, issuer.subjectDer)) return false;
  const tbs = new Uint8Array(AsnConvert.serialize(cert.asn.tbsCertificate));
  const alg = cert.asn.signatureAlgorithm.algorithm;
  const hash = SIG_HASH[alg];
  if (hash === undefined) return false;
  try {
    return nodeVerify(
      hash === 'none' ? null : hash,
      tbs,
      { key: publicKeyOf(issuer), dsaEncoding: 'der' },
      new Uint8Array(cert.asn.signatureValue),
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
