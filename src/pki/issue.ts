/** Issuance: CSR → policy checks against the registry → signed leaf, stored and audited in one transaction. */
import 'reflect-metadata';
import { ConflictError, ValidationError } from '../core/errors.ts';
import { bytesEqual } from '../core/encoding.ts';
import type { Device } from '../registry/types.ts';
import { encodeName, der, randomSerial, serialToHex, sha256Hex } from './asn1.ts';
import { newId } from '../core/ids.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';
import { buildCertificate, certificateSubject, NO_EXPIRY } from './cert-builder.ts';
import { caChain, findCaByRole, getCa, toCertificate } from './ca-store.ts';
import { caCertUrl, crlUrl, memo, ocspUrl, type PkiContext } from './context.ts';
import { issuanceSigner } from './issuance-signer.ts';
import type { CheckedCsr } from './csr.ts';
import { checkCsrConcurrent } from './csr-pool.ts';
import { CertificateCommitter, cloneAlarm, keyInUse } from './issue-commit.ts';
import {
  aiaExt,
  basicConstraintsExt,
  crlDpExt,
  extKeyUsageExt,
  keyUsageExt,
  ocspNoCheckExt,
  sanExt,
  type SanEntry,
} from './extensions.ts';
import { certPem } from './hierarchy.ts';
import { fillSubject, getProfile, type LeafProfile } from './profiles.ts';
import type { CaRecord, CertificateRecord } from './types.ts';

const SAN_EXTENSION = '2.5.29.17';
const CN_RE = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,63}$/;
const DNS_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** An issuance request. */
export interface IssueRequest {
  /** The caller's tenant; CA, device and model must all belong to it. */
  readonly tenantId: string;
  readonly profile: string;
  /** PEM text, DER bytes or base64 DER. */
  readonly csr: string | Uint8Array;
  /** Issuing CA; default: the tenant's CA with the profile's issuer role. */
  readonly caId?: string;
  /** Device model (id or name) the device must be of. */
  readonly model?: string;
  /** Adds a HardwareModuleName (RFC 4108) with this hwType and the device serial to the SAN. */
  readonly hwType?: string;
  /** notAfter 99991231235959Z (profiles that allow it: IDevID). */
  readonly noExpiry?: boolean;
  /** Shorter validity than the profile's. */
  readonly validityDays?: number;
}

/** An issued certificate with its PEM and chain. */
export interface IssuedCertificate {
  readonly certificate: CertificateRecord;
  readonly pem: string;
  /** Issuing CA and its parents, PEM, nearest first. */
  readonly chainPem: string;
}

interface Subject {
  readonly device: Device | null;
  readonly values: Record<string, string>;
  readonly san: SanEntry[];
}

/**
 * Issues a certificate from a CSR. Throws ERR_PROFILE_UNKNOWN, ERR_CA_NOT_FOUND, ERR_PROFILE_CA_MISMATCH,
 * ERR_CA_OFFLINE, every ERR_CSR_* of checkCsr, ERR_CSR_EXTENSION_NOT_ALLOWED, ERR_CSR_SUBJECT_INVALID,
 * ERR_CSR_SAN_INVALID, ERR_CSR_DEVICE_UNKNOWN, ERR_CSR_DEVICE_AMBIGUOUS, ERR_CSR_MODEL_MISMATCH, ERR_CSR_DEVICE_DEPROVISIONED,
 * ERR_CSR_KEY_IN_USE (after auditing a cloned-key alarm), ERR_CSR_IDENTITY_KEY_MISMATCH, ERR_CSR_VALIDITY_INVALID.
 */
export async function issueFromCsr(
  ctx: PkiContext,
  by: { actor: string },
  req: IssueRequest,
): Promise<IssuedCertificate> {
  const profile = getProfile(req.profile);
  const ca = await issuingCa(ctx, req.tenantId, profile, req.caId);
  const csr = await checkCsrConcurrent(req.csr, ctx.keyPolicy);
  checkExtensions(profile, csr);
  const subject = await resolveSubject(ctx, req, profile, csr);
  return issueForKey(ctx, by, { ca, profile, spki: csr.spki, subject, req });
}

/** The CA that issues `profile` for the tenant. Throws ERR_CA_NOT_FOUND, ERR_PROFILE_CA_MISMATCH, ERR_CA_OFFLINE. */
export async function issuingCa(
  ctx: PkiContext,
  tenantId: string,
  profile: LeafProfile,
  caId?: string,
): Promise<CaRecord> {
  // CA rows change only on retirement; a few seconds of staleness saves a query per issuance.
  const ca = await memo(ctx, `ca:${tenantId}:${caId ?? profile.issuer}`, 5000, () =>
    caId === undefined
      ? findCaByRole(ctx.store.db, tenantId, profile.issuer)
      : getCa(ctx.store.db, caId, tenantId),
  );
  const ok = profile.name === 'ocsp-signer' ? ca.role !== 'root' : ca.role === profile.issuer;
  if (!ok)
    throw new ValidationError(
      'ERR_PROFILE_CA_MISMATCH',
      `CA ${ca.name} (${ca.role}) does not issue ${profile.name} certificates`,
    );
  if (ca.keyId === null || ca.state !== 'active')
    throw new ConflictError('ERR_CA_OFFLINE', `CA ${ca.name} has no online key`);
  return ca;
}

function checkExtensions(profile: LeafProfile, csr: CheckedCsr): void {
  for (const oid of csr.requestedExtensions) {
    if (oid !== SAN_EXTENSION || profile.san.length === 0) {
      throw new ValidationError(
        'ERR_CSR_EXTENSION_NOT_ALLOWED',
        `the ${profile.name} profile does not allow requested extension ${oid}`,
      );
    }
  }
  for (const e of csr.san) {
    if (!profile.san.includes(e.type)) {
      throw new ValidationError(
        'ERR_CSR_EXTENSION_NOT_ALLOWED',
        `the ${profile.name} profile does not allow ${e.type} names`,
      );
    }
  }
}

async function resolveSubject(
  ctx: PkiContext,
  req: IssueRequest,
  profile: LeafProfile,
  csr: CheckedCsr,
): Promise<Subject> {
  const tenant = await memo(ctx, `tenant:${req.tenantId}`, 60_000, () =>
    ctx.registry.getTenant(req.tenantId),
  );
  const san = csr.san.filter((e) => e.type !== 'hmn');
  for (const e of san) {
    const ok =
      e.type === 'dns'
        ? DNS_RE.test(e.value) && e.value.length <= 253
        : e.value.length > 0 && e.value.length <= 255;
    if (!ok) throw new ValidationError('ERR_CSR_SAN_INVALID', `invalid ${e.type} name in the CSR`);
  }
  if (!profile.device) {
    const cn = csr.subjectCn;
    if (cn === undefined || !CN_RE.test(cn))
      throw new ValidationError(
        'ERR_CSR_SUBJECT_INVALID',
        'the CSR subject needs a CN of 1-64 plain characters',
      );
    return { device: null, values: { tenant: tenant.name, cn }, san };
  }
  const serial = csr.subjectSerial;
  if (serial === undefined || serial.length === 0) {
    throw new ValidationError(
      'ERR_CSR_SUBJECT_INVALID',
      'the CSR subject needs the device serial in a serialNumber attribute',
    );
  }
  // An IDevID is the manufacturer's statement; an LDevID comes from the CA of whoever owns the device now.
  const device =
    profile.deviceTenant === 'manufacturer'
      ? await ctx.registry.findDeviceBySerial(req.tenantId, serial)
      : await ownedDevice(ctx, req.tenantId, serial, req.model);
  if (device === undefined)
    throw new ValidationError('ERR_CSR_DEVICE_UNKNOWN', `no device ${serial} in this tenant`);
  const model = await memo(ctx, `model:${device.modelId}`, 60_000, () =>
    ctx.registry.getModel(device.modelId),
  );
  if (req.model !== undefined && req.model !== model.id && req.model !== model.name) {
    throw new ValidationError('ERR_CSR_MODEL_MISMATCH', `device ${serial} is not a ${req.model}`);
  }
  if (device.state === 'deprovisioned')
    throw new ConflictError('ERR_CSR_DEVICE_DEPROVISIONED', `device ${serial} is deprovisioned`);
  const serialBytes = new Uint8Array(Buffer.from(serial, 'utf8'));
  for (const e of csr.san) {
    if (e.type === 'hmn' && !bytesEqual(e.hwSerialNum, serialBytes)) {
      throw new ValidationError(
        'ERR_CSR_SAN_INVALID',
        'the HardwareModuleName serial does not match the subject serial',
      );
    }
  }
  const hmn = csr.san.filter((e) => e.type === 'hmn');
  if (req.hwType !== undefined) {
    if (!/^\d+(\.\d+)+$/.test(req.hwType))
      throw new ValidationError('ERR_CSR_SAN_INVALID', 'hwType must be an OID');
    if (!hmn.some((e) => e.type === 'hmn' && e.hwType === req.hwType))
      hmn.push({ type: 'hmn', hwType: req.hwType, hwSerialNum: serialBytes });
  }
  return { device, values: { tenant: tenant.name, serial, model: model.name }, san: [...hmn, ...san] };
}

/**
 * The device with this serial that the tenant owns now (claimed, bought or resold to it, or still with its
 * maker). Serials are unique per manufacturer only, so an owner may hold two; `model` then decides.
 * Throws ERR_CSR_DEVICE_AMBIGUOUS.
 */
async function ownedDevice(
  ctx: PkiContext,
  tenantId: string,
  serial: string,
  model: string | undefined,
): Promise<Device | undefined> {
  const rows = await ctx.store.db
    .selectFrom('devices')
    .innerJoin('device_models', 'device_models.id', 'devices.model_id')
    .select(['devices.id', 'devices.model_id', 'device_models.name'])
    .where('devices.tenant_id', '=', tenantId)
    .where('devices.serial', '=', serial)
    .limit(16)
    .execute();
  const byModel = model === undefined ? rows : rows.filter((r) => r.model_id === model || r.name === model);
  const pick = byModel.length === 0 ? rows : byModel;
  if (pick.length > 1)
    throw new ValidationError(
      'ERR_CSR_DEVICE_AMBIGUOUS',
      `this tenant owns several devices with serial ${serial}; name the model`,
    );
  const id = pick[0]?.id;
  return id === undefined ? undefined : ctx.registry.getDevice(id);
}

/** Signs a leaf for a validated key and subject, then stores and audits it. */
export async function issueForKey(
  ctx: PkiContext,
  by: { actor: string },
  input: {
    ca: CaRecord;
    profile: LeafProfile;
    spki: Uint8Array;
    subject: Subject;
    req: Pick<IssueRequest, 'noExpiry' | 'validityDays'>;
  },
): Promise<IssuedCertificate> {
  const { ca, profile, spki, subject } = input;
  const fingerprint = sha256Hex(spki);
  const deviceId = subject.device?.id ?? null;
  const now = ctx.clock.now();
  const notAfter = validity(ctx, ca, profile, input.req, now);
  const extensions = [
    ...profileExtensions(ctx, ca, profile),
    ...(subject.san.length > 0 ? [sanExt(subject.san)] : []),
  ];
  const serial = randomSerial(ctx.random);
  const subjectAttrs = fillSubject(profile, subject.values);
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - 60_000);
  const committer = committerOf(ctx);
  const queued = committer.announce();
  let der: Uint8Array;
  try {
    der = await buildCertificate({
      signer: await issuanceSigner(ctx, ca),
      issuer: certificateSubject(ca.certificate),
      subject: encodeName(subjectAttrs),
      spki,
      serial,
      notBefore,
      notAfter,
      extensions,
    });
  } finally {
    queued(); // just before commit() queues it, or abandoned
  }
  // Known values, so the new certificate is not parsed back.
  const row: CertificatesTable = {
    id: newId('crt'),
    tenant_id: ca.tenantId,
    ca_id: ca.id,
    device_id: deviceId,
    profile: profile.name,
    serial_hex: serialToHex(serial),
    subject: subjectAttrs.map(([t, v]) => `${t}=${v}`).join(', '),
    issuer: ca.subject,
    not_before: notBefore.toISOString(),
    not_after: new Date(Math.floor(notAfter.getTime() / 1000) * 1000).toISOString(),
    spki_sha256: fingerprint,
    der,
    status: 'good',
    revoked_at: null,
    revocation_reason: null,
    created_at: now.toISOString(),
  };
  const outcome = await committer.commit({
    by,
    row,
    device: subject.device,
    profile,
    caKeyId: ca.keyId ?? '',
    event: {
      ...by,
      action: 'cert.issued',
      subject: row.id,
      tenantId: ca.tenantId,
      details: {
        caId: ca.id,
        profile: profile.name,
        serial: row.serial_hex,
        subject: row.subject,
        deviceId,
        spkiSha256: fingerprint,
        notAfter: row.not_after,
      },
    },
  });
  if (outcome.kind === 'ca-offline') {
    // Rare: forget every memoised CA record and signer, so the next request sees the CA as it is now.
    ctx.memo.clear();
    throw new ConflictError('ERR_CA_OFFLINE', `CA ${ca.name} was taken offline`);
  }
  if (outcome.kind === 'identity-mismatch')
    throw new ConflictError(
      'ERR_CSR_IDENTITY_KEY_MISMATCH',
      `device ${subject.device?.serial ?? ''} already has a different identity key`,
    );
  if (outcome.kind === 'clash') {
    await cloneAlarm(ctx, by, {
      fingerprint,
      device: subject.device,
      caTenant: ca.tenantId,
      boundTo: outcome.boundTo,
    });
    throw keyInUse();
  }
  const chainPem = await memo(ctx, `chain:${ca.id}`, 60_000, async () =>
    (await caChain(ctx.store.db, ca)).map((c) => certPem(c.certificate)).join(''),
  );
  return { certificate: toCertificate(row), pem: certPem(der), chainPem };
}

const committers = new WeakMap<PkiContext, CertificateCommitter>();

/** The certificate committer of this PKI context (one per context, so its groups share one queue). */
function committerOf(ctx: PkiContext): CertificateCommitter {
  let c = committers.get(ctx);
  if (c === undefined) {
    c = new CertificateCommitter(ctx);
    committers.set(ctx, c);
  }
  return c;
}

const constantExtensions = new Map<string, Uint8Array[]>();

/** DER of the extensions every certificate of this CA and profile carries (encoded once per process). */
function profileExtensions(ctx: PkiContext, ca: CaRecord, profile: LeafProfile): Uint8Array[] {
  const key = `${ctx.baseUrl}|${ca.id}|${profile.name}`;
  let exts = constantExtensions.get(key);
  if (exts === undefined) {
    exts = [
      basicConstraintsExt(false),
      keyUsageExt(profile.keyUsage),
      extKeyUsageExt(profile.extKeyUsage),
      ...(profile.ocspNoCheck
        ? [ocspNoCheckExt()]
        : [crlDpExt(crlUrl(ctx, ca.id)), aiaExt(ocspUrl(ctx), caCertUrl(ctx, ca.id))]),
    ].map((e) => der(e));
    if (constantExtensions.size > 1000) constantExtensions.clear();
    constantExtensions.set(key, exts);
  }
  return exts;
}

function validity(
  ctx: PkiContext,
  ca: CaRecord,
  profile: LeafProfile,
  req: Pick<IssueRequest, 'noExpiry' | 'validityDays'>,
  now: Date,
): Date {
  if (req.noExpiry === true) {
    if (!profile.allowNoExpiry)
      throw new ValidationError('ERR_CSR_VALIDITY_INVALID', `${profile.name} certificates must expire`);
    return NO_EXPIRY;
  }
  const days = req.validityDays ?? profile.validityDays;
  if (!Number.isInteger(days) || days < 1 || days > profile.validityDays) {
    throw new ValidationError('ERR_CSR_VALIDITY_INVALID', `validity must be 1-${profile.validityDays} days`);
  }
  return new Date(Math.min(now.getTime() + days * 86400_000, Date.parse(ca.notAfter)));
}
