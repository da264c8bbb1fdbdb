/** Revocation with RFC 5280 reasons; bumps the CA's revocation epoch and republishes its CRL. */
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { serialFromHex, serialToHex } from './asn1.ts';
import { getCa, toCertificate } from './ca-store.ts';
import type { PkiContext } from './context.ts';
import { publishCrl, type PublishedCrl } from './crl.ts';
import { REVOCATION_REASONS, type CertificateRecord } from './types.ts';

/** What to revoke: a certificate id, or a serial (within one CA when the serial is not unique). */
export interface RevokeRequest {
  readonly tenantId: string;
  readonly certificateId?: string;
  readonly serial?: string;
  readonly caId?: string;
  /** Reason name (e.g. `keyCompromise`) or code. */
  readonly reason: string | number;
}

/** Reason code from a name or number. Throws ERR_REVOCATION_REASON_INVALID. */
export function reasonCode(reason: string | number): number {
  const table = REVOCATION_REASONS as Record<string, number>;
  const code = typeof reason === 'number' ? reason : /^\d+$/.test(reason) ? Number(reason) : table[reason];
  // removeFromCRL only exists for delta CRLs; hold is not offered (revocation here is final).
  if (code === undefined || code === 8 || code === 6 || !Object.values(table).includes(code)) {
    throw new ValidationError(
      'ERR_REVOCATION_REASON_INVALID',
      `unsupported revocation reason ${String(reason)}`,
    );
  }
  return code;
}

/**
 * Revokes a certificate, audited in the same transaction, then republishes the CA's CRL.
 * Throws ERR_REVOCATION_REASON_INVALID, ERR_CERT_NOT_FOUND, ERR_CERT_AMBIGUOUS, ERR_CERT_ALREADY_REVOKED.
 */
export async function revokeCertificate(
  ctx: PkiContext,
  by: { actor: string },
  req: RevokeRequest,
): Promise<{ certificate: CertificateRecord; crl: PublishedCrl | null }> {
  const code = reasonCode(req.reason);
  const cert = await findTarget(ctx, req);
  if (cert.status === 'revoked')
    throw new ConflictError('ERR_CERT_ALREADY_REVOKED', 'the certificate is already revoked');
  const caId = cert.caId;
  if (caId === null) throw new NotFoundError('ERR_CERT_NOT_FOUND', 'the certificate was not issued here');
  const now = ctx.clock.now().toISOString();
  const revoked = await ctx.store.transaction(async (tx) => {
    const res = await tx
      .updateTable('certificates')
      .set({ status: 'revoked', revoked_at: now, revocation_reason: code })
      .where('id', '=', cert.id)
      .where('status', '=', 'good')
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1)
      throw new ConflictError('ERR_CERT_ALREADY_REVOKED', 'the certificate is already revoked');
    await tx
      .updateTable('cas')
      .set((eb) => ({ revocation_epoch: eb('revocation_epoch', '+', 1) }))
      .where('id', '=', caId)
      .execute();
    await ctx.audit.append(tx, {
      ...by,
      action: 'cert.revoked',
      subject: cert.id,
      tenantId: cert.tenantId,
      details: { caId, serial: cert.serialHex, reason: code, deviceId: cert.deviceId },
    });
    return { ...cert, status: 'revoked' as const, revokedAt: now, revocationReason: code };
  });
  const ca = await getCa(ctx.store.db, caId);
  // The revocation is durable already; an offline CA (root) publishes its CRL at its next signing ceremony.
  const crl = ca.keyId !== null && ca.state === 'active' ? await publishCrl(ctx, by, caId) : null;
  return { certificate: revoked, crl };
}

async function findTarget(ctx: PkiContext, req: RevokeRequest): Promise<CertificateRecord> {
  let q = ctx.store.db.selectFrom('certificates').selectAll().where('tenant_id', '=', req.tenantId);
  if (req.certificateId !== undefined) q = q.where('id', '=', req.certificateId);
  else if (req.serial !== undefined && /^[0-9a-fA-F:]{1,64}$/.test(req.serial)) {
    q = q.where('serial_hex', '=', serialToHex(serialFromHex(req.serial)));
  } else throw new ValidationError('ERR_CERT_SELECTOR_INVALID', 'give a certificate id or a hex serial');
  if (req.caId !== undefined) q = q.where('ca_id', '=', req.caId);
  const rows = await q.limit(2).execute();
  if (rows.length === 0 || rows[0] === undefined)
    throw new NotFoundError('ERR_CERT_NOT_FOUND', 'no such certificate');
  if (rows.length > 1)
    throw new ConflictError('ERR_CERT_AMBIGUOUS', 'several CAs issued this serial; name the CA');
  return toCertificate(rows[0]);
}
