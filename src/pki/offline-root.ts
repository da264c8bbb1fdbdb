/**
 * Offline-root ceremonies: the root key lives only in an encrypted PKCS#8 file (written by `ca init
 * --offline-root`) and is brought to a ceremony to sign the root CRL or an issuing CA certificate (a
 * renewal of an existing issuing CA, same key, or a new issuing CA). The decrypted key stays in this
 * process for one command; everything it signs is stored and audited like online work.
 */
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { bytesEqual } from '../core/encoding.ts';
import { ConflictError, ForbiddenError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { buildName, der, keyObjectSigner, randomSerial, type Signer } from './asn1.ts';
import { getCa, findCaByRole, toCa } from './ca-store.ts';
import { buildCertificate, certificateSubject } from './cert-builder.ts';
import { caCertUrl, crlUrl, ocspUrl, type PkiContext } from './context.ts';
import { buildCrl, revokedEntries, storeCrl, type PublishedCrl } from './crl.ts';
import { aiaExt, crlDpExt } from './extensions.ts';
import { caExtensions, type IssuingCaSpec } from './hierarchy.ts';
import { caRow, certRow } from './rows.ts';
import type { CaRecord } from './types.ts';

const DAY = 86400_000;
const YEAR = 365 * DAY;

/** The encrypted root key file and its passphrase, as brought to a ceremony. */
export interface OfflineRootKey {
  /** Encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`). */
  readonly pem: string;
  readonly passphrase: string;
}

/**
 * The tenant's root CA and a signer over the decrypted key file, after checking the key is the root's.
 * Throws ERR_CA_NOT_FOUND, ERR_CA_KEY_UNREADABLE (not an encrypted key or wrong passphrase),
 * ERR_CA_KEY_MISMATCH (a key, but not this root's).
 */
export async function openRootKey(
  ctx: PkiContext,
  tenantId: string,
  key: OfflineRootKey,
): Promise<{ root: CaRecord; signer: Signer }> {
  const root = await findCaByRole(ctx.store.db, tenantId, 'root');
  if (!/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(key.pem))
    throw new ValidationError('ERR_CA_KEY_UNREADABLE', 'the root key file must be encrypted PKCS#8 PEM');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: key.pem, format: 'pem', passphrase: key.passphrase });
  } catch {
    throw new ValidationError(
      'ERR_CA_KEY_UNREADABLE',
      'cannot decrypt the root key file with this passphrase',
    );
  }
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const certSpki = der(AsnConvert.parse(root.certificate, Certificate).tbsCertificate.subjectPublicKeyInfo);
  if (!bytesEqual(spki, certSpki))
    throw new ValidationError(
      'ERR_CA_KEY_MISMATCH',
      `the key file does not hold the key of root CA ${root.name}`,
    );
  return { root, signer: keyObjectSigner(privateKey, root.keyAlgorithm, spki) };
}

/**
 * Signs and publishes the root's next CRL with the offline key (listing revoked issuing CA certificates),
 * audited as `crl.published`. Throws what openRootKey throws, ERR_CRL_VALIDITY_INVALID, ERR_CRL_CONFLICT.
 */
export async function signRootCrl(
  ctx: PkiContext,
  by: { actor: string },
  tenantId: string,
  key: OfflineRootKey,
  validityDays = 365,
): Promise<PublishedCrl> {
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 3650)
    throw new ValidationError('ERR_CRL_VALIDITY_INVALID', 'a root CRL is valid for 1-3650 days');
  const { root, signer } = await openRootKey(ctx, tenantId, key);
  const thisUpdate = ctx.clock.now();
  const nextUpdate = new Date(thisUpdate.getTime() + validityDays * DAY);
  const number = root.crlNumber + 1;
  const crlDer = await buildCrl({
    signer,
    issuer: certificateSubject(root.certificate),
    number,
    thisUpdate,
    nextUpdate,
    revoked: await revokedEntries(ctx, root.id),
  });
  const out = await storeCrl(ctx, by, root, { number, thisUpdate, nextUpdate, der: crlDer });
  if (out === undefined)
    throw new ConflictError('ERR_CRL_CONFLICT', 'another CRL of the root was published meanwhile; retry');
  return out;
}

/**
 * Re-certifies an issuing CA's existing key under the offline root (new serial and validity, same
 * subject and key, so certificates it issued keep chaining), audited as `ca.renewed`.
 * Throws what openRootKey throws, ERR_CA_NOT_FOUND, ERR_CA_NOT_ISSUING, ERR_CA_OFFLINE, ERR_CA_VALIDITY_INVALID.
 */
export async function renewIssuingCa(
  ctx: PkiContext,
  by: { actor: string },
  tenantId: string,
  caId: string,
  key: OfflineRootKey,
  validityYears = 10,
): Promise<CaRecord> {
  const { root, signer } = await openRootKey(ctx, tenantId, key);
  const ca = await getCa(ctx.store.db, caId, tenantId);
  if (ca.parentId !== root.id)
    throw new ValidationError('ERR_CA_NOT_ISSUING', `CA ${ca.name} is not an issuing CA under this root`);
  if (ca.keyId === null || ca.state !== 'active')
    throw new ConflictError('ERR_CA_OFFLINE', `CA ${ca.name} has no online key`);
  const info = await ctx.keys.get(ca.keyId);
  const now = ctx.clock.now();
  const caDer = await issuingCaCertificate(ctx, {
    root,
    signer,
    subject: certificateSubject(ca.certificate),
    spki: info.publicKeyDer,
    now,
    validityYears,
  });
  const fresh = caRow(ca.id, tenantId, ca.name, ca.role, ca.keyId, ca.keyAlgorithm, caDer, root.id, now);
  const cert = certRow(tenantId, root.id, `ca-${ca.role}`, caDer, info.publicKeyDer, now);
  await ctx.store.transaction(async (tx) => {
    await tx.insertInto('certificates').values(cert).execute();
    await tx
      .updateTable('cas')
      .set({
        certificate: caDer,
        serial_hex: fresh.serial_hex,
        not_before: fresh.not_before,
        not_after: fresh.not_after,
      })
      .where('id', '=', ca.id)
      .execute();
    await ctx.audit.append(tx, {
      ...by,
      action: 'ca.renewed',
      subject: ca.id,
      tenantId,
      details: {
        serial: fresh.serial_hex,
        notAfter: fresh.not_after,
        previousSerial: ca.serialHex,
        previousNotAfter: ca.notAfter,
        certificateId: cert.id,
        signedBy: root.id,
      },
    });
  });
  ctx.memo.clear();
  return getCa(ctx.store.db, ca.id);
}

/**
 * Creates a new issuing CA (key in the online key store, certificate from the offline root), with its
 * OCSP responder and first CRL, audited as `ca.created`. The newest CA of a role issues that role's
 * profiles. Throws what openRootKey throws, ERR_CA_PROFILE_INVALID, ERR_CA_EXISTS, ERR_CA_VALIDITY_INVALID.
 */
export async function createIssuingCaOffline(
  ctx: PkiContext,
  by: { actor: string },
  tenantId: string,
  spec: IssuingCaSpec,
  key: OfflineRootKey,
): Promise<CaRecord> {
  if (
    !/^[a-z0-9][a-z0-9-]{0,31}$/.test(spec.name) ||
    spec.commonName.length < 1 ||
    spec.commonName.length > 64
  )
    throw new ValidationError(
      'ERR_CA_PROFILE_INVALID',
      'CA name must be [a-z0-9-] and the common name 1-64 characters',
    );
  const { root, signer } = await openRootKey(ctx, tenantId, key);
  const taken = await ctx.store.db
    .selectFrom('cas')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('name', '=', spec.name)
    .executeTakeFirst();
  if (taken !== undefined)
    throw new ConflictError('ERR_CA_EXISTS', `the tenant already has a CA named ${spec.name}`);
  const now = ctx.clock.now();
  const org = /(?:^|, )O=([^,]+)/.exec(root.subject)?.[1];
  const subject = buildName([...(org === undefined ? [] : [['O', org] as const]), ['CN', spec.commonName]]);
  const keyInfo = await ctx.keys.generate(`ca/${tenantId}/${spec.name}/${newId('key')}`, spec.algorithm);
  const caDer = await issuingCaCertificate(ctx, {
    root,
    signer,
    subject,
    spki: keyInfo.publicKeyDer,
    now,
    validityYears: spec.validityYears,
  });
  const id = newId('ca');
  const row = caRow(id, tenantId, spec.name, spec.role, keyInfo.id, spec.algorithm, caDer, root.id, now);
  const cert = certRow(tenantId, root.id, `ca-${spec.role}`, caDer, keyInfo.publicKeyDer, now);
  await ctx.store.transaction(async (tx) => {
    await tx.insertInto('certificates').values(cert).execute();
    await tx.insertInto('cas').values(row).execute();
    await ctx.audit.append(tx, {
      ...by,
      action: 'ca.created',
      subject: id,
      tenantId,
      details: {
        name: spec.name,
        role: spec.role,
        subject: row.subject,
        keyAlgorithm: spec.algorithm,
        offline: false,
        signedBy: root.id,
      },
    });
  });
  ctx.memo.clear();
  return toCa({ ...row });
}

async function issuingCaCertificate(
  ctx: PkiContext,
  input: {
    root: CaRecord;
    signer: Signer;
    subject: ReturnType<typeof certificateSubject>;
    spki: Uint8Array;
    now: Date;
    validityYears: number;
  },
): Promise<Uint8Array> {
  const { root, now } = input;
  if (!Number.isInteger(input.validityYears) || input.validityYears < 1 || input.validityYears > 30)
    throw new ValidationError('ERR_CA_VALIDITY_INVALID', 'an issuing CA is valid for 1-30 years');
  const notAfter = Math.min(now.getTime() + input.validityYears * YEAR, Date.parse(root.notAfter));
  return buildCertificate({
    signer: input.signer,
    issuer: certificateSubject(root.certificate),
    subject: input.subject,
    spki: input.spki,
    serial: randomSerial(ctx.random),
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(notAfter),
    extensions: [
      ...caExtensions(0),
      crlDpExt(crlUrl(ctx, root.id)),
      aiaExt(ocspUrl(ctx), caCertUrl(ctx, root.id)),
    ],
  });
}

/**
 * Takes an online root offline, in two steps so the key cannot be lost: `export` returns the root key
 * as encrypted PKCS#8 (checked to decrypt to the root's key); the caller stores it; `commit` then
 * marks the root offline with its audit entry (`ca.root.taken_offline`) in one transaction and destroys
 * the online copy. Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE (already offline), ERR_KEY_NOT_EXPORTABLE
 * (an HSM root never leaves the HSM), ERR_CA_PASSPHRASE_WEAK.
 */
export async function exportRootForOffline(
  ctx: PkiContext,
  by: { actor: string },
  tenantId: string,
  passphrase: string,
): Promise<{ pem: string; commit(): Promise<void> }> {
  const root = await findCaByRole(ctx.store.db, tenantId, 'root');
  const keyId = root.keyId;
  if (keyId === null) throw new ConflictError('ERR_CA_OFFLINE', `root CA ${root.name} is already offline`);
  if (ctx.keys.exportForOffline === undefined)
    throw new ForbiddenError(
      'ERR_KEY_NOT_EXPORTABLE',
      'this key store never releases keys (an HSM): keep the root in the HSM and take the HSM offline',
    );
  const pem = await ctx.keys.exportForOffline(keyId, passphrase);
  await openRootKey(ctx, tenantId, { pem, passphrase });
  return {
    pem,
    async commit() {
      await ctx.store.transaction(async (tx) => {
        const r = await tx
          .updateTable('cas')
          .set({ key_id: null, state: 'offline' })
          .where('id', '=', root.id)
          .where('key_id', '=', keyId)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) !== 1)
          throw new ConflictError('ERR_CA_OFFLINE', `root CA ${root.name} was taken offline meanwhile`);
        await ctx.audit.append(tx, {
          actor: by.actor,
          action: 'ca.root.taken_offline',
          subject: root.id,
          tenantId,
          details: { keyId },
        });
      });
      await ctx.keys.destroy(keyId);
    },
  };
}
