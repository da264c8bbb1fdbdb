/** X.509 extension builders used by CA and leaf profiles. */
import 'reflect-metadata';
import { OctetString } from '@peculiar/asn1-schema';
import {
  AccessDescription,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  CRLDistributionPoints,
  DistributionPoint,
  DistributionPointName,
  ExtendedKeyUsage,
  Extension,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  OtherName,
  SubjectAlternativeName,
  id_ad_caIssuers,
  id_ad_ocsp,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_pe_authorityInfoAccess,
  SubjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import * as asn1js from 'asn1js';
import { der, keyIdentifier } from './asn1.ts';

/** id-on-hardwareModuleName (RFC 4108), the otherName 802.1AR IDevIDs carry in the SAN. */
export const ID_ON_HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';
/** id-pkix-ocsp-nocheck. */
export const ID_PKIX_OCSP_NOCHECK = '1.3.6.1.5.5.7.48.1.5';
/** Extended key usages by name. */
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** DER of HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING } (RFC 4108). */
export function encodeHardwareModuleName(hwType: string, hwSerialNum: Uint8Array): ArrayBuffer {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: hwType }),
      new asn1js.OctetString({ valueHex: Uint8Array.from(hwSerialNum).buffer }),
    ],
  }).toBER();
}

/** Parses a HardwareModuleName; undefined when the bytes are not one. */
export function decodeHardwareModuleName(
  value: ArrayBuffer,
): { hwType: string; hwSerialNum: Uint8Array } | undefined {
  const parsed = asn1js.fromBER(value);
  const seq = parsed.result;
  if (parsed.offset === -1 || !(seq instanceof asn1js.Sequence) || seq.valueBlock.value.length !== 2)
    return undefined;
  const [oid, serial] = seq.valueBlock.value;
  if (!(oid instanceof asn1js.ObjectIdentifier) || !(serial instanceof asn1js.OctetString)) return undefined;
  return { hwType: oid.getValue(), hwSerialNum: new Uint8Array(serial.getValue()) };
}

function ext(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(der(value)) });
}

/** basicConstraints (critical). */
export function basicConstraintsExt(ca: boolean, pathLen?: number): Extension {
  const bc = new BasicConstraints({ cA: ca });
  if (ca && pathLen !== undefined) bc.pathLenConstraint = pathLen;
  return ext(id_ce_basicConstraints, true, bc);
}

/** keyUsage (critical) from KeyUsageFlags bits. */
export function keyUsageExt(flags: number): Extension {
  return ext(id_ce_keyUsage, true, new KeyUsage(flags));
}

/** extKeyUsage (not critical). */
export function extKeyUsageExt(oids: readonly string[]): Extension {
  return ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([...oids]));
}

/** subjectKeyIdentifier from the subject's SPKI. */
export function subjectKeyIdExt(spki: Uint8Array): Extension {
  return ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki)));
}

/** authorityKeyIdentifier (keyIdentifier only) from the issuer's SPKI. */
export function authorityKeyIdExt(issuerSpki: Uint8Array): Extension {
  return ext(
    id_ce_authorityKeyIdentifier,
    false,
    new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(issuerSpki)) }),
  );
}

/** cRLDistributionPoints with one full-name URI. */
export function crlDpExt(url: string): Extension {
  const dp = new DistributionPoint({
    distributionPoint: new DistributionPointName({
      fullName: [new GeneralName({ uniformResourceIdentifier: url })],
    }),
  });
  return ext(id_ce_cRLDistributionPoints, false, new CRLDistributionPoints([dp]));
}

/** authorityInfoAccess with OCSP and caIssuers URIs. */
export function aiaExt(ocspUrl: string, caIssuersUrl: string): Extension {
  return ext(
    id_pe_authorityInfoAccess,
    false,
    new AuthorityInfoAccessSyntax([
      new AccessDescription({
        accessMethod: id_ad_ocsp,
        accessLocation: new GeneralName({ uniformResourceIdentifier: ocspUrl }),
      }),
      new AccessDescription({
        accessMethod: id_ad_caIssuers,
        accessLocation: new GeneralName({ uniformResourceIdentifier: caIssuersUrl }),
      }),
    ]),
  );
}

/** One SAN entry as profiles and requests describe it. */
export type SanEntry =
  | { readonly type: 'dns'; readonly value: string }
  | { readonly type: 'ip'; readonly value: string }
  | { readonly type: 'email'; readonly value: string }
  | { readonly type: 'uri'; readonly value: string }
  | { readonly type: 'hmn'; readonly hwType: string; readonly hwSerialNum: Uint8Array };

/** subjectAlternativeName (critical when the subject is empty, per RFC 5280). */
export function sanExt(entries: readonly SanEntry[], critical = false): Extension {
  const names = entries.map((e) => {
    switch (e.type) {
      case 'dns':
        return new GeneralName({ dNSName: e.value });
      case 'ip':
        return new GeneralName({ iPAddress: e.value });
      case 'email':
        return new GeneralName({ rfc822Name: e.value });
      case 'uri':
        return new GeneralName({ uniformResourceIdentifier: e.value });
      case 'hmn': {
        return new GeneralName({
          otherName: new OtherName({
            typeId: ID_ON_HARDWARE_MODULE_NAME,
            value: encodeHardwareModuleName(e.hwType, e.hwSerialNum),
          }),
        });
      }
    }
  });
  return ext(id_ce_subjectAltName, critical, new SubjectAlternativeName(names));
}

/** id-pkix-ocsp-nocheck (value NULL). */
export function ocspNoCheckExt(): Extension {
  return new Extension({
    extnID: ID_PKIX_OCSP_NOCHECK,
    critical: false,
    extnValue: new OctetString(new Uint8Array([5, 0])),
  });
}
