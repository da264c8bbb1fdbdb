/**
 * Delegated OCSP responder certificates (RFC 6960 §4.2.2.2): id-kp-OCSPSigning + id-pkix-ocsp-nocheck,
 * issued by each CA to a key of its own, and renewed before they expire. A nocheck certificate cannot
 * itself be checked for revocation, so it is kept short-lived and replaced well before its notAfter:
 * automatically when less than `ocspSignerRenewFraction` of its validity is left (checked by the
 * scheduler and when the responder signs), or explicitly (`imprint ca ocsp-signer renew`).
 */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, KeyUsageFlags, type Name } from '@peculiar/asn1-x509';
import { ConflictError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { buildName, randomSerial, type Signer } from './asn1.ts';
import { buildCertificate, certificateSubject } from './cert-builder.ts';
import { getCa, getCertificate, toCertificate } from './ca-store.ts';
import type { PkiContext } from './context.ts';
import { caSigner } from './crl.ts';
import { basicConstraintsExt, extKeyUsageExt, keyUsageExt, ocspNoCheckExt, EKU } from './extensions.ts';
import { certRow } from './rows.ts';
import type { CaRecord, CertificateRecord } from './types.ts';

const LOST_RACE = new Error('another process renewed the OCSP signer first');

/** Signs a delegated OCSP responder certificate for `spki` with the CA's signer. */
export function buildOcspSignerCertificate(input: {
  signer: Signer;
  issuer: Name;
  subject: Name;
  spki: Uint8Array;
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}): Promise<Uint8Array> {
  return buildCertificate({
    ...input,
    extensions: [
      basicConstraintsExt(false),
      keyUsageExt(KeyUsageFlags.digitalSignature),
      extKeyUsageExt([EKU.ocspSigning]),
      ocspNoCheckExt(),
    ],
  });
}

/** notAfter of a responder certificate made now: its configured validity, never past the CA's own. */
export function ocspSignerNotAfter(ctx: PkiContext, ca: { notAfter: string }, now: Date): Date {
  return new Date(Math.min(now.getTime() + ctx.ocspSignerValidityMs, Date.parse(ca.notAfter)));
}

/** True when less than the renewal fraction of the certificate's validity is left at `now`. */
export function ocspSignerDue(ctx: PkiContext, notBefore: number, notAfter: number, now: number): boolean {
  return notAfter - now < (notAfter - notBefore) * ctx.ocspSignerRenewFraction;
}

/** What a renewal did. */
export interface OcspSignerRenewal {
  readonly caId: string;
  readonly certificate: CertificateRecord;
  /** The responder certificate it replaced (null when the CA had none). */
  readonly previousCertificateId: string | null;
}

/**
 * Gives the CA a new responder key and certificate, audited (`ca.ocsp_signer.renewed`) in the same
 * transaction that switches the CA to it; bumps the revocation epoch so every process drops responses
 * signed by the old responder. The old key is destroyed after the switch. With `onlyIfDue`, does nothing
 * (returns undefined) unless the current certificate is due. Concurrent renewals: one wins, the others
 * return undefined and discard their key.
 * Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE, ERR_OCSP_SIGNER_CONFLICT (explicit renewal lost a race).
 */
export async function renewOcspSigner(
  ctx: PkiContext,
  by: { actor: string },
  caId: string,
  opts: { tenantId?: string; onlyIfDue?: boolean } = {},
): Promise<OcspSignerRenewal | undefined> {
  const ca = await getCa(ctx.store.db, caId, opts.tenantId);
  const signer = await caSigner(ctx, ca);
  const previous = ca.ocspCertId === null ? null : await getCertificate(ctx.store.db, ca.ocspCertId);
  const now = ctx.clock.now();
  if (
    opts.onlyIfDue === true &&
    previous !== null &&
    !ocspSignerDue(ctx, Date.parse(previous.notBefore), Date.parse(previous.notAfter), now.getTime())
  )
    return undefined;
  const previousKeyId = await currentKeyId(ctx, ca.id);
  const key = await ctx.keys.generate(`ocsp/${ca.tenantId}/${ca.name}/${newId('key')}`, ca.keyAlgorithm);
  const certDer = await buildOcspSignerCertificate({
    signer,
    issuer: certificateSubject(ca.certificate),
    subject: previous === null ? defaultSubject(ca) : subjectOf(previous.der),
    spki: key.publicKeyDer,
    serial: randomSerial(ctx.random),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: ocspSignerNotAfter(ctx, ca, now),
  });
  const row = certRow(ca.tenantId, ca.id, 'ocsp-signer', certDer, key.publicKeyDer, now);
  const switched = await ctx.store
    .transaction(async (tx) => {
      let q = tx
        .updateTable('cas')
        .set((eb) => ({
          ocsp_key_id: key.id,
          ocsp_cert_id: row.id,
          revocation_epoch: eb('revocation_epoch', '+', 1),
        }))
        .where('id', '=', ca.id);
      q =
        ca.ocspCertId === null
          ? q.where('ocsp_cert_id', 'is', null)
          : q.where('ocsp_cert_id', '=', ca.ocspCertId);
      // The certificate row first (cas.ocsp_cert_id references it); a lost race rolls both back.
      await tx.insertInto('certificates').values(row).execute();
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) throw LOST_RACE;
      await ctx.audit.append(tx, {
        ...by,
        action: 'ca.ocsp_signer.renewed',
        subject: ca.id,
        tenantId: ca.tenantId,
        details: {
          certificateId: row.id,
          serial: row.serial_hex,
          notAfter: row.not_after,
          previousCertificateId: previous?.id ?? null,
          previousNotAfter: previous?.notAfter ?? null,
          automatic: opts.onlyIfDue === true,
        },
      });
      return true;
    })
    .catch(async (e: unknown) => {
      if (e === LOST_RACE) return false;
      await ctx.keys.destroy(key.id).catch(() => undefined);
      throw e;
    });
  if (!switched) {
    // Someone else renewed meanwhile (nothing was written).
    await ctx.keys.destroy(key.id).catch(() => undefined);
    if (opts.onlyIfDue === true) return undefined;
    throw new ConflictError('ERR_OCSP_SIGNER_CONFLICT', 'the OCSP signer was renewed concurrently; retry');
  }
  if (previousKeyId !== null) await ctx.keys.destroy(previousKeyId).catch(() => undefined);
  return { caId: ca.id, certificate: toCertificate(row), previousCertificateId: previous?.id ?? null };
}

/**
 * Renews every due responder certificate of online CAs (the scheduler's job); returns the renewed CA ids.
 * A failure on one CA does not stop the others; the first error is rethrown at the end.
 */
export async function renewDueOcspSigners(ctx: PkiContext, by: { actor: string }): Promise<string[]> {
  const cas = await ctx.store.db
    .selectFrom('cas')
    .innerJoin('certificates', 'certificates.id', 'cas.ocsp_cert_id')
    .select(['cas.id', 'certificates.not_before', 'certificates.not_after'])
    .where('cas.state', '=', 'active')
    .where('cas.key_id', 'is not', null)
    .execute();
  const now = ctx.clock.now().getTime();
  const renewed: string[] = [];
  let firstError: Error | undefined;
  for (const c of cas) {
    if (!ocspSignerDue(ctx, Date.parse(c.not_before), Date.parse(c.not_after), now)) continue;
    try {
      if ((await renewOcspSigner(ctx, by, c.id, { onlyIfDue: true })) !== undefined) renewed.push(c.id);
    } catch (e) {
      firstError ??= e instanceof Error ? e : new Error(String(e));
    }
  }
  if (firstError !== undefined) throw firstError;
  return renewed;
}

async function currentKeyId(ctx: PkiContext, caId: string): Promise<string | null> {
  const r = await ctx.store.db
    .selectFrom('cas')
    .select('ocsp_key_id')
    .where('id', '=', caId)
    .executeTakeFirst();
  return r?.ocsp_key_id ?? null;
}

function subjectOf(certDer: Uint8Array): Name {
  return AsnConvert.parse(certDer, Certificate).tbsCertificate.subject;
}

function defaultSubject(ca: CaRecord): Name {
  const cn = /(?:^|, )CN=([^,]+)/.exec(ca.subject)?.[1] ?? ca.name;
  return buildName([['CN', `${cn} OCSP Responder`.slice(0, 64)]]);
}
