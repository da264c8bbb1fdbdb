import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { ValidationError } from '../core/errors.ts';

/** The SPKI DER inside a PKCS#10 CSR (signature checked later by the PKI). Throws ERR_CSR_MALFORMED. */
export function csrPublicKey(csr: Uint8Array): Uint8Array {
  try {
    const req = AsnConvert.parse(csr, CertificationRequest);
    return new Uint8Array(AsnConvert.serialize(req.certificationRequestInfo.subjectPKInfo));
  } catch (cause) {
    throw new ValidationError('ERR_CSR_MALFORMED', 'the CSR is not a DER PKCS#10 request', { cause });
  }
}
