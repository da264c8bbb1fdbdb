/**
 * RFC 8572 §5.4 processing of a bootstrap server's answer: decrypt, then (when an owner certificate and
 * voucher come with it) the nine checks: voucher signature, validity, assertion, serial, idevid-issuer, nonce,
 * owner certificate to pinned-domain-cert, revocation when asked, and the conveyed information's signature.
 */
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier } from '@peculiar/asn1-x509';
import { oidDer, seq, tlv } from '../../core/der.ts';
import { bytesEqual } from '../../core/encoding.ts';
import { ImprintError, ValidationError } from '../../core/errors.ts';
import { parseCert, validatePath, type Cert } from '../../sztp/cms/certs.ts';
import { cmsKind, isConveyedType, unsignedContent } from '../../sztp/cms/content.ts';
import { decryptCms } from '../../sztp/cms/enveloped.ts';
import { cmsCertificates, verifyCms } from '../../sztp/cms/signed-data.ts';
import { parseConveyedInformation } from '../../sztp/conveyed-info.ts';
import { OID, type ConveyedInformation, type GetBootstrappingDataOutput } from '../../sztp/types.ts';
import { openVoucher, type Voucher } from '../../sztp/voucher.ts';
import type { PreconfiguredState } from './identity.ts';

/** Conveyed information after processing, with whether it was verified as signed by the device's owner. */
export interface OpenedData {
  readonly info: ConveyedInformation;
  readonly ownerVerified: boolean;
  readonly voucher?: Voucher;
}

function fail(code: string, message: string, cause?: unknown): ValidationError {
  return new ValidationError(
    code,
    message,
    cause === undefined
      ? {}
      : { cause, details: cause instanceof ImprintError ? { reason: cause.message } : {} },
  );
}

function wrapSignedData(sd: Uint8Array): Uint8Array {
  // ContentInfo { id-signedData, [0] EXPLICIT SignedData } around decrypted SignedData bytes.
  return seq(oidDer(OID.signedData), tlv(0xa0, sd));
}

/** Decrypts when enveloped; returns the artifact as unsigned bytes or as a SignedData ContentInfo. */
async function unwrap(
  der: Uint8Array,
  state: PreconfiguredState,
): Promise<{ signed?: Uint8Array; plain?: Uint8Array }> {
  const kind = cmsKind(der);
  if (kind === 'signed') return { signed: der };
  if (kind === 'unsigned') return { plain: unsignedContent(der).content };
  const dec = state.identity.decryptor;
  const leaf = state.identity.chain[0];
  if (dec === undefined || leaf === undefined)
    throw fail('ERR_SZTP_DECRYPT_FAILED', 'this device cannot decrypt conveyed information');
  const inner = await decryptCms(der, { certificate: leaf, ...dec });
  if (inner.contentType === OID.signedData) return { signed: wrapSignedData(inner.content) };
  if (inner.contentType === OID.data) {
    try {
      return await unwrap(inner.content, state);
    } catch {
      return { plain: inner.content };
    }
  }
  if (isConveyedType(inner.contentType)) return { plain: inner.content };
  throw fail('ERR_SZTP_CMS_UNSUPPORTED', `encrypted content type ${inner.contentType}`);
}

/** The AuthorityKeyIdentifier keyIdentifier of a certificate, if any. */
function akiOf(c: Cert): Uint8Array | undefined {
  const ext = c.asn.tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.35');
  if (ext === undefined) return undefined;
  const aki = AsnConvert.parse(ext.extnValue.buffer, AuthorityKeyIdentifier);
  return aki.keyIdentifier ? new Uint8Array(aki.keyIdentifier.buffer) : undefined;
}

/**
 * Processes one get-bootstrapping-data answer. Throws (with the failing step's code) ERR_SZTP_VOUCHER_SIGNATURE,
 * ERR_SZTP_VOUCHER_EXPIRED, ERR_SZTP_VOUCHER_ASSERTION, ERR_SZTP_VOUCHER_SERIAL, ERR_SZTP_VOUCHER_ISSUER,
 * ERR_SZTP_VOUCHER_NONCE, ERR_SZTP_OWNER_CERT_UNTRUSTED, ERR_SZTP_OWNER_CERT_REVOKED, ERR_SZTP_CONVEYED_SIGNATURE,
 * ERR_SZTP_DECRYPT_FAILED, ERR_SZTP_CONVEYED_INFO_INVALID.
 */
export async function openBootstrapData(
  out: GetBootstrappingDataOutput,
  state: PreconfiguredState,
  nonce: Uint8Array | undefined,
): Promise<OpenedData> {
  const now = state.clock.now();
  const unwrapped = await unwrap(out.conveyedInformation, state);
  if (out.ownershipVoucher === undefined || out.ownerCertificate === undefined) {
    if (unwrapped.plain === undefined)
      throw fail(
        'ERR_SZTP_CONVEYED_SIGNATURE',
        'signed conveyed information without owner certificate and voucher',
      );
    return { info: parseConveyedInformation(unwrapped.plain).info, ownerVerified: false };
  }
  // 1. voucher signature, by a MASA key chaining to the voucher trust anchors.
  let voucher: Voucher;
  try {
    voucher = openVoucher(out.ownershipVoucher, state.voucherTrustAnchors.map(parseCert), now).voucher;
  } catch (e) {
    if (e instanceof ImprintError && e.code === 'ERR_SZTP_VOUCHER_INVALID') throw e;
    throw fail('ERR_SZTP_VOUCHER_SIGNATURE', 'ownership voucher signature or signer is not trusted', e);
  }
  // 2. validity period.
  if (Date.parse(voucher.createdOn) > now.getTime() + 300_000)
    throw fail('ERR_SZTP_VOUCHER_EXPIRED', 'voucher created in the future');
  if (voucher.expiresOn !== undefined && Date.parse(voucher.expiresOn) <= now.getTime())
    throw fail('ERR_SZTP_VOUCHER_EXPIRED', 'voucher has expired');
  // 3. assertion.
  if (!(state.acceptedAssertions ?? ['verified', 'logged', 'proximity']).includes(voucher.assertion)) {
    throw fail('ERR_SZTP_VOUCHER_ASSERTION', `voucher assertion ${voucher.assertion} is not accepted`);
  }
  // 4. serial number.
  if (voucher.serialNumber !== state.identity.serial)
    throw fail('ERR_SZTP_VOUCHER_SERIAL', 'voucher is for another device');
  // 5. idevid-issuer.
  const leaf = state.identity.chain[0];
  if (voucher.idevidIssuer !== undefined) {
    const aki = leaf === undefined ? undefined : akiOf(parseCert(leaf));
    if (aki === undefined || !bytesEqual(aki, voucher.idevidIssuer))
      throw fail('ERR_SZTP_VOUCHER_ISSUER', 'voucher idevid-issuer does not match the IDevID');
  }
  // 6. nonce: a nonceful voucher must carry the nonce of this request; a nonceless one must expire.
  if (voucher.nonce !== undefined) {
    if (nonce === undefined || !bytesEqual(nonce, voucher.nonce))
      throw fail('ERR_SZTP_VOUCHER_NONCE', 'voucher nonce does not match the request');
  } else if (voucher.expiresOn === undefined) {
    throw fail('ERR_SZTP_VOUCHER_NONCE', 'voucher has neither nonce nor expires-on');
  }
  // 7. owner certificate chains to the pinned domain certificate.
  let owner: Cert;
  let ownerChain: Cert[];
  try {
    const certs = cmsCertificates(out.ownerCertificate);
    const first = certs.find((c) => !c.isCa) ?? certs[0];
    if (first === undefined) throw fail('ERR_SZTP_OWNER_CERT_UNTRUSTED', 'owner certificate bag is empty');
    owner = first;
    ownerChain = validatePath(first, certs, [parseCert(voucher.pinnedDomainCert)], now);
  } catch (e) {
    throw fail(
      'ERR_SZTP_OWNER_CERT_UNTRUSTED',
      'owner certificate does not chain to the pinned domain certificate',
      e,
    );
  }
  // 8. revocation, when the voucher asks for it.
  if (voucher.domainCertRevocationChecks === true) {
    const ok =
      state.checkRevocation !== undefined && (await state.checkRevocation(ownerChain.map((c) => c.der)));
    if (!ok)
      throw fail('ERR_SZTP_OWNER_CERT_REVOKED', 'owner certificate revocation status could not be confirmed');
  }
  // 9. conveyed information signed by the owner certificate.
  if (unwrapped.signed === undefined)
    throw fail('ERR_SZTP_CONVEYED_SIGNATURE', 'conveyed information is not signed');
  let content: Uint8Array;
  try {
    const v = verifyCms(unwrapped.signed, [owner]);
    if (!bytesEqual(v.signer.der, owner.der))
      throw fail('ERR_SZTP_CONVEYED_SIGNATURE', 'conveyed information not signed by the owner certificate');
    if (!isConveyedType(v.contentType))
      throw fail('ERR_SZTP_CONVEYED_SIGNATURE', `unexpected eContentType ${v.contentType}`);
    content = v.content;
  } catch (e) {
    throw fail('ERR_SZTP_CONVEYED_SIGNATURE', 'conveyed information signature does not verify', e);
  }
  return { info: parseConveyedInformation(content).info, ownerVerified: true, voucher };
}
