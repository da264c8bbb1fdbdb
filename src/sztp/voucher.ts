/** RFC 8366 ownership vouchers: the `ietf-voucher:voucher` JSON document and its CMS signature (eContentType 40). */
import { ValidationError } from '../core/errors.ts';
import { OID } from './types.ts';
import { signCms, verifyCms, type CmsSigner } from './cms/signed-data.ts';
import { validatePath, type Cert } from './cms/certs.ts';
import { bin, enc64, invalid, isObject, members, parseJsonText, str } from './yang-json.ts';

const M = 'ietf-voucher';
const CODE = 'ERR_SZTP_VOUCHER_INVALID';

/** The assertions RFC 8366 defines. */
export const ASSERTIONS = ['verified', 'logged', 'proximity'] as const;

/** A parsed voucher. */
export interface Voucher {
  readonly createdOn: string;
  readonly expiresOn?: string;
  readonly assertion: (typeof ASSERTIONS)[number];
  readonly serialNumber: string;
  readonly idevidIssuer?: Uint8Array;
  readonly pinnedDomainCert: Uint8Array;
  readonly domainCertRevocationChecks?: boolean;
  readonly nonce?: Uint8Array;
  readonly lastRenewalDate?: string;
}

const LEAVES = [
  'created-on',
  'expires-on',
  'assertion',
  'serial-number',
  'idevid-issuer',
  'pinned-domain-cert',
  'domain-cert-revocation-checks',
  'nonce',
  'last-renewal-date',
];

function dateTime(s: string | undefined, name: string): string | undefined {
  if (s === undefined) return undefined;
  if (
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) ||
    Number.isNaN(Date.parse(s))
  ) {
    throw invalid(CODE, `voucher ${name} is not a yang:date-and-time`);
  }
  return s;
}

/** Parses the voucher JSON strictly (unknown members and bad values rejected with the reason). Throws ERR_SZTP_VOUCHER_INVALID. */
export function parseVoucher(json: Uint8Array | string): Voucher {
  const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
  const top = members(parseJsonText(text, CODE), M, ['voucher'], CODE, 'voucher document');
  if (!isObject(top['voucher'])) throw invalid(CODE, 'voucher document has no ietf-voucher:voucher');
  const v = members(top['voucher'], M, LEAVES, CODE, 'voucher');
  const assertion = str(v, 'assertion', CODE, 'voucher', true);
  if (!(ASSERTIONS as readonly string[]).includes(assertion ?? ''))
    throw invalid(CODE, `voucher assertion "${assertion}" is not verified, logged or proximity`);
  const rc = v['domain-cert-revocation-checks'];
  if (rc !== undefined && typeof rc !== 'boolean')
    throw invalid(CODE, 'domain-cert-revocation-checks must be a boolean');
  const createdOn = dateTime(str(v, 'created-on', CODE, 'voucher', true), 'created-on') ?? '';
  const serialNumber = str(v, 'serial-number', CODE, 'voucher', true) ?? '';
  if (serialNumber === '') throw invalid(CODE, 'voucher serial-number is empty');
  const pinned = bin(v, 'pinned-domain-cert', CODE, 'voucher', true) ?? new Uint8Array();
  const expiresOn = dateTime(str(v, 'expires-on', CODE, 'voucher'), 'expires-on');
  const lastRenewal = dateTime(str(v, 'last-renewal-date', CODE, 'voucher'), 'last-renewal-date');
  const issuer = bin(v, 'idevid-issuer', CODE, 'voucher');
  const nonce = bin(v, 'nonce', CODE, 'voucher');
  return {
    createdOn,
    assertion: assertion as Voucher['assertion'],
    serialNumber,
    pinnedDomainCert: pinned,
    ...(expiresOn !== undefined ? { expiresOn } : {}),
    ...(lastRenewal !== undefined ? { lastRenewalDate: lastRenewal } : {}),
    ...(issuer !== undefined ? { idevidIssuer: issuer } : {}),
    ...(nonce !== undefined ? { nonce } : {}),
    ...(rc !== undefined ? { domainCertRevocationChecks: rc } : {}),
  };
}

/** Serialises a voucher to RFC 7951 JSON bytes. */
export function serializeVoucher(v: Voucher): Uint8Array {
  const body = {
    'created-on': v.createdOn,
    ...(v.expiresOn !== undefined ? { 'expires-on': v.expiresOn } : {}),
    assertion: v.assertion,
    'serial-number': v.serialNumber,
    ...(v.idevidIssuer !== undefined ? { 'idevid-issuer': enc64(v.idevidIssuer) } : {}),
    'pinned-domain-cert': enc64(v.pinnedDomainCert),
    ...(v.domainCertRevocationChecks !== undefined
      ? { 'domain-cert-revocation-checks': v.domainCertRevocationChecks }
      : {}),
    ...(v.nonce !== undefined ? { nonce: enc64(v.nonce) } : {}),
    ...(v.lastRenewalDate !== undefined ? { 'last-renewal-date': v.lastRenewalDate } : {}),
  };
  return new TextEncoder().encode(JSON.stringify({ [`${M}:voucher`]: body }));
}

/** Signs a voucher with the manufacturer's MASA key (eContentType id-ct-animaJSONVoucher). */
export async function signVoucher(v: Voucher, masa: CmsSigner, at?: Date): Promise<Uint8Array> {
  return signCms(OID.voucher, serializeVoucher(v), masa, at);
}

/** The expires-on of a voucher this server signed (its own CMS; no trust decision is made here). */
export function voucherExpiry(cms: Uint8Array): string | undefined {
  return parseVoucher(verifyCms(cms).content).expiresOn;
}

/**
 * Verifies a signed voucher: the CMS signature, then the signer's path to one of the voucher trust anchors
 * at `at`; returns the parsed voucher. Tolerates eContentType id-data (as BRSKI peers send).
 * Throws ERR_SZTP_CMS_MALFORMED, ERR_SZTP_SIGNATURE_INVALID, ERR_SZTP_CHAIN_INVALID, ERR_SZTP_VOUCHER_INVALID.
 */
export function openVoucher(
  cms: Uint8Array,
  anchors: readonly Cert[],
  at: Date,
): { voucher: Voucher; signer: Cert } {
  const v = verifyCms(cms);
  if (v.contentType !== OID.voucher && v.contentType !== OID.data) {
    throw new ValidationError(CODE, `voucher eContentType ${v.contentType} is not id-ct-animaJSONVoucher`);
  }
  validatePath(v.signer, v.certificates, anchors, at);
  return { voucher: parseVoucher(v.content), signer: v.signer };
}
