/** Row builders for the cas and certificates tables, and PEM of certificates. */
import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import { newId } from '../core/ids.ts';
import { toPem } from '../core/encoding.ts';
import type { KeyAlgorithm } from '../keys/types.ts';
import type { CasTable } from '../store/tables/pki.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';
import { serialToHex, sha256Hex } from './asn1.ts';
import type { CaRole } from './types.ts';

/** A cas row for a CA certificate (state offline when there is no key-store key). */
export function caRow(
  id: string,
  tenantId: string,
  name: string,
  role: CaRole,
  keyId: string | null,
  alg: KeyAlgorithm,
  certDer: Uint8Array,
  parentId: string | null,
  now: Date,
): CasTable {
  const x = new X509Certificate(Uint8Array.from(certDer));
  return {
    id,
    tenant_id: tenantId,
    name,
    role,
    key_id: keyId,
    key_algorithm: alg,
    certificate: certDer,
    parent_id: parentId,
    state: keyId === null ? 'offline' : 'active',
    subject: x.subject,
    serial_hex: x.serialNumber.toLowerCase().replace(/^0+/, ''),
    not_before: x.notBefore.toISOString(),
    not_after: x.notAfter.toISOString(),
    crl_number: 0,
    next_crl_at: null,
    revocation_epoch: 0,
    ocsp_key_id: null,
    ocsp_cert_id: null,
    created_at: now.toISOString(),
  };
}

/** A certificates row for a DER certificate issued by `caId`. */
export function certRow(
  tenantId: string,
  caId: string,
  profile: string,
  certDer: Uint8Array,
  spki: Uint8Array,
  now: Date,
  deviceId: string | null = null,
): CertificatesTable {
  const x = new X509Certificate(Uint8Array.from(certDer));
  return {
    id: newId('crt'),
    tenant_id: tenantId,
    ca_id: caId,
    device_id: deviceId,
    profile,
    serial_hex: serialToHex(new Uint8Array(Buffer.from(x.serialNumber, 'hex'))),
    subject: x.subject,
    issuer: x.issuer,
    not_before: x.notBefore.toISOString(),
    not_after: x.notAfter.toISOString(),
    spki_sha256: sha256Hex(spki),
    der: certDer,
    status: 'good',
    revoked_at: null,
    revocation_reason: null,
    created_at: now.toISOString(),
  };
}

/** PEM of a DER certificate. */
export function certPem(certDer: Uint8Array): string {
  return toPem('CERTIFICATE', certDer);
}
