/** CRLs per CA (RFC 5280 §5): build, sign through the key store, publish with an increasing CRL number. */
import 'reflect-metadata';
import {
  CertificateList,
  CRLNumber,
  CRLReason,
  Extension,
  Extensions,
  RevokedCertificate,
  TBSCertList,
  Version,
  id_ce_cRLNumber,
  id_ce_cRLReasons,
  type Name,
} from '@peculiar/asn1-x509';
import { OctetString } from '@peculiar/asn1-schema';
import { ConflictError, NotFoundError } from '../core/errors.ts';
import { der, keyStoreSigner, serialFromHex, signatureAlgorithm, type Signer } from './asn1.ts';
import { authorityKeyIdExt } from './extensions.ts';
import { time, certificateSubject } from './cert-builder.ts';
import { getCa } from './ca-store.ts';
import { memo, type PkiContext } from './context.ts';
import type { CaRecord } from './types.ts';

/** One revoked entry. */
export interface RevokedEntry {
  readonly serialHex: string;
  readonly revokedAt: Date;
  readonly reason: number;
}

/** Builds and signs a v2 CRL with AKI and CRL number; reason codes on entries (absent for unspecified). */
export async function buildCrl(input: {
  signer: Signer;
  issuer: Name;
  number: number;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: readonly RevokedEntry[];
}): Promise<Uint8Array> {
  const sigAlg = signatureAlgorithm(input.signer.algorithm);
  const tbs = new TBSCertList({
    version: Version.v2,
    signature: sigAlg,
    issuer: input.issuer,
    thisUpdate: time(input.thisUpdate),
    nextUpdate: time(input.nextUpdate),
    crlExtensions: new Extensions([
      authorityKeyIdExt(input.signer.spki),
      new Extension({
        extnID: id_ce_cRLNumber,
        critical: false,
        extnValue: new OctetString(der(new CRLNumber(input.number))),
      }),
    ]),
  });
  if (input.revoked.length > 0) {
    tbs.revokedCertificates = input.revoked.map(
      (r) =>
        new RevokedCertificate({
          userCertificate: Uint8Array.from(serialFromHex(r.serialHex)).buffer,
          revocationDate: time(r.revokedAt),
          ...(r.reason === 0
            ? {}
            : {
                crlEntryExtensions: [
                  new Extension({
                    extnID: id_ce_cRLReasons,
                    critical: false,
                    extnValue: new OctetString(der(new CRLReason(r.reason))),
                  }),
                ],
              }),
        }),
    );
  }
  const tbsDer = der(tbs);
  const signature = await input.signer.sign(tbsDer);
  return der(
    new CertificateList({
      tbsCertList: tbs,
      signatureAlgorithm: sigAlg,
      signature: Uint8Array.from(signature).buffer,
    }),
  );
}

/** The revoked, unexpired certificates a CA's CRL lists. */
export async function revokedEntries(ctx: PkiContext, caId: string): Promise<RevokedEntry[]> {
  const rows = await ctx.store.db
    .selectFrom('certificates')
    .select(['serial_hex', 'revoked_at', 'revocation_reason'])
    .where('ca_id', '=', caId)
    .where('status', '=', 'revoked')
    .where('not_after', '>', ctx.clock.now().toISOString())
    .orderBy('serial_hex')
    .execute();
  return rows.map((r) => ({
    serialHex: r.serial_hex,
    revokedAt: new Date(r.revoked_at ?? 0),
    reason: r.revocation_reason ?? 0,
  }));
}

/** A published CRL. */
export interface PublishedCrl {
  readonly caId: string;
  readonly number: number;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  readonly der: Uint8Array;
}

/**
 * Signs and publishes the next CRL of a CA, audited. Concurrent publishers are serialised by an
 * optimistic check on the CRL number. Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE, ERR_CRL_CONFLICT.
 */
export async function publishCrl(
  ctx: PkiContext,
  by: { actor: string },
  caId: string,
  tenantId?: string,
): Promise<PublishedCrl> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const ca = await getCa(ctx.store.db, caId, tenantId);
    const signer = await caSigner(ctx, ca);
    const number = ca.crlNumber + 1;
    const thisUpdate = ctx.clock.now();
    const nextUpdate = new Date(thisUpdate.getTime() + ctx.crlValidityMs);
    const crl = await buildCrl({
      signer,
      issuer: certificateSubject(ca.certificate),
      number,
      thisUpdate,
      nextUpdate,
      revoked: await revokedEntries(ctx, ca.id),
    });
    const published = await storeCrl(ctx, by, ca, { number, thisUpdate, nextUpdate, der: crl });
    if (published !== undefined) return published;
  }
  throw new ConflictError('ERR_CRL_CONFLICT', 'another process kept publishing CRLs for this CA; retry');
}

/** Records a signed CRL if its number is still the next one; undefined when another publisher won. */
export async function storeCrl(
  ctx: PkiContext,
  by: { actor: string },
  ca: CaRecord,
  crl: { number: number; thisUpdate: Date; nextUpdate: Date; der: Uint8Array },
): Promise<PublishedCrl | undefined> {
  // Re-sign a quarter of the lifetime before nextUpdate so relying parties never see a stale CRL.
  const refreshAt = new Date(
    crl.nextUpdate.getTime() - (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 4,
  );
  return ctx.store.transaction(async (tx) => {
    const res = await tx
      .updateTable('cas')
      .set({ crl_number: crl.number, next_crl_at: refreshAt.toISOString() })
      .where('id', '=', ca.id)
      .where('crl_number', '=', crl.number - 1)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return undefined;
    const row = {
      ca_id: ca.id,
      crl_number: crl.number,
      this_update: crl.thisUpdate.toISOString(),
      next_update: crl.nextUpdate.toISOString(),
      der: crl.der,
    };
    await tx.insertInto('crls').values(row).execute();
    await ctx.audit.append(tx, {
      ...by,
      action: 'crl.published',
      subject: ca.id,
      tenantId: ca.tenantId,
      details: { crlNumber: crl.number, nextUpdate: row.next_update },
    });
    return {
      caId: ca.id,
      number: crl.number,
      thisUpdate: row.this_update,
      nextUpdate: row.next_update,
      der: crl.der,
    };
  });
}

/** The latest CRL of a CA. Throws ERR_CRL_NOT_FOUND. */
export async function latestCrl(ctx: PkiContext, caId: string): Promise<PublishedCrl> {
  const r = await ctx.store.db
    .selectFrom('crls')
    .selectAll()
    .where('ca_id', '=', caId)
    .orderBy('crl_number', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (r === undefined) throw new NotFoundError('ERR_CRL_NOT_FOUND', `no CRL for ${caId}`);
  return {
    caId,
    number: Number(r.crl_number),
    thisUpdate: r.this_update,
    nextUpdate: r.next_update,
    der: new Uint8Array(r.der),
  };
}

/** A signer for an online CA. Throws ERR_CA_OFFLINE. */
export async function caSigner(ctx: PkiContext, ca: CaRecord): Promise<Signer> {
  if (ca.keyId === null || ca.state !== 'active') {
    throw new ConflictError('ERR_CA_OFFLINE', `CA ${ca.name} has no online key`);
  }
  const keyId = ca.keyId;
  const info = await memo(ctx, `key:${keyId}`, 60_000, () => ctx.keys.get(keyId));
  return keyStoreSigner(ctx.keys, info.id, info.algorithm, info.publicKeyDer);
}
