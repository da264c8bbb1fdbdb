/** Queries over the cas and certificates tables. */
import { NotFoundError } from '../core/errors.ts';
import type { Executor } from '../store/database.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';
import type { CasTable } from '../store/tables/pki.ts';
import type { KeyAlgorithm } from '../keys/types.ts';
import type { CaRecord, CaRole, CertificateRecord } from './types.ts';

/** The CA with this id (visible to `tenantId` when given). Throws ERR_CA_NOT_FOUND. */
export async function getCa(db: Executor, id: string, tenantId?: string): Promise<CaRecord> {
  let q = db.selectFrom('cas').selectAll().where('id', '=', id);
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  const row = await q.executeTakeFirst();
  if (row === undefined) throw new NotFoundError('ERR_CA_NOT_FOUND', `no CA ${id}`);
  return toCa(row);
}

/** The tenant's active CA with this role. Throws ERR_CA_NOT_FOUND. */
export async function findCaByRole(db: Executor, tenantId: string, role: CaRole): Promise<CaRecord> {
  const row = await db
    .selectFrom('cas')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .where('role', '=', role)
    .where('state', '!=', 'retired')
    .orderBy('created_at', 'desc')
    .executeTakeFirst();
  if (row === undefined) throw new NotFoundError('ERR_CA_NOT_FOUND', `tenant has no ${role} CA`);
  return toCa(row);
}

/** CAs of a tenant (every tenant when undefined), oldest first. */
export async function listCas(db: Executor, tenantId?: string): Promise<CaRecord[]> {
  let q = db.selectFrom('cas').selectAll();
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  return (await q.orderBy('created_at').orderBy('id').execute()).map(toCa);
}

/** The chain above a CA, nearest first, including the CA itself. */
export async function caChain(db: Executor, ca: CaRecord): Promise<CaRecord[]> {
  const out = [ca];
  let cur = ca;
  while (cur.parentId !== null && out.length < 8) {
    cur = await getCa(db, cur.parentId);
    out.push(cur);
  }
  return out;
}

/** The certificate with this id (visible to `tenantId` when given). Throws ERR_CERT_NOT_FOUND. */
export async function getCertificate(
  db: Executor,
  id: string,
  tenantId?: string,
): Promise<CertificateRecord> {
  let q = db.selectFrom('certificates').selectAll().where('id', '=', id);
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  const row = await q.executeTakeFirst();
  if (row === undefined) throw new NotFoundError('ERR_CERT_NOT_FOUND', `no certificate ${id}`);
  return toCertificate(row);
}

/** Filters for listing certificates. */
export interface CertificateFilter {
  readonly caId?: string;
  readonly deviceId?: string;
  readonly status?: 'good' | 'revoked';
  readonly profile?: string;
  readonly after?: string;
  readonly limit?: number;
}

/** Certificates of a tenant ordered by id, keyset-paged by `after`. */
export async function listCertificates(
  db: Executor,
  tenantId: string,
  f: CertificateFilter = {},
): Promise<CertificateRecord[]> {
  let q = db.selectFrom('certificates').selectAll().where('tenant_id', '=', tenantId);
  if (f.caId !== undefined) q = q.where('ca_id', '=', f.caId);
  if (f.deviceId !== undefined) q = q.where('device_id', '=', f.deviceId);
  if (f.status !== undefined) q = q.where('status', '=', f.status);
  if (f.profile !== undefined) q = q.where('profile', '=', f.profile);
  if (f.after !== undefined) q = q.where('id', '>', f.after);
  const rows = await q
    .orderBy('id')
    .limit(Math.min(f.limit ?? 100, 1000))
    .execute();
  return rows.map(toCertificate);
}

/** Row → record. */
export function toCa(r: CasTable): CaRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    role: r.role,
    keyId: r.key_id,
    keyAlgorithm: r.key_algorithm as KeyAlgorithm,
    certificate: new Uint8Array(r.certificate),
    parentId: r.parent_id,
    state: r.state,
    subject: r.subject,
    serialHex: r.serial_hex,
    notBefore: r.not_before,
    notAfter: r.not_after,
    crlNumber: Number(r.crl_number),
    nextCrlAt: r.next_crl_at,
    revocationEpoch: Number(r.revocation_epoch),
    ocspCertId: r.ocsp_cert_id,
    createdAt: r.created_at,
  };
}

/** Row → record. */
export function toCertificate(r: CertificatesTable): CertificateRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    caId: r.ca_id,
    deviceId: r.device_id,
    profile: r.profile,
    serialHex: r.serial_hex,
    subject: r.subject,
    issuer: r.issuer,
    notBefore: r.not_before,
    notAfter: r.not_after,
    spkiSha256: r.spki_sha256,
    der: new Uint8Array(r.der),
    status: r.status,
    revokedAt: r.revoked_at,
    revocationReason: r.revocation_reason,
    createdAt: r.created_at,
  };
}
