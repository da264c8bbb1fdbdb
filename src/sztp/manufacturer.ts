/** The manufacturer's side of SZTP: its voucher-signing (MASA) key and the CAs that issue its IDevIDs. */
import { toBase64, toPem } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';
import { nameOf, parseCert } from './cms/certs.ts';
import { checkKeyMatches, pemChain } from './owners.ts';
import { selfCertifiedKey } from './self-certified.ts';

/** Voucher validity in days (default 30). Throws ERR_SZTP_VALIDITY_INVALID. */
export function voucherDays(v: number | undefined): number {
  const days = v ?? 30;
  if (!Number.isInteger(days) || days < 1 || days > 3650)
    throw new ValidationError('ERR_SZTP_VALIDITY_INVALID', 'voucher validity must be 1..3650 days');
  return days;
}

/** Sets the manufacturer's voucher-signing (MASA) key and certificate chain. Throws ERR_SZTP_CERT_INVALID, ERR_SZTP_KEY_MISMATCH, ERR_SZTP_VALIDITY_INVALID. */
export async function setMasa(
  deps: AdminDeps,
  by: Actor,
  input: { tenantId: string; keyId: string; chainPem: string; validityDays?: number },
): Promise<void> {
  const chain = pemChain(input.chainPem);
  await checkKeyMatches(deps.keys, input.keyId, chain[0] as Uint8Array);
  const days = voucherDays(input.validityDays);
  await deps.store.transaction(async (tx) => {
    await tx.deleteFrom('sztp_masa').where('tenant_id', '=', input.tenantId).execute();
    await tx
      .insertInto('sztp_masa')
      .values({
        tenant_id: input.tenantId,
        key_id: input.keyId,
        chain: JSON.stringify(chain.map(toBase64)),
        voucher_validity_days: days,
        created_at: nowIso(deps),
      })
      .execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.masa.set',
      subject: input.tenantId,
      tenantId: input.tenantId,
      details: { keyId: input.keyId, validityDays: days },
    });
  });
}

/**
 * Generates the manufacturer's voucher-signing (MASA) key with a self-signed certificate and sets it; the
 * certificate is the voucher trust anchor devices need. Throws ERR_SZTP_VALIDITY_INVALID, ERR_TENANT_NOT_FOUND.
 */
export async function generateMasa(
  deps: AdminDeps,
  by: Actor,
  input: { tenantId: string; validityDays?: number; days?: number },
): Promise<{ keyId: string; certificatePem: string }> {
  voucherDays(input.validityDays); // refuse before a key is generated
  const tenant = await deps.registry.getTenant(input.tenantId);
  const now = deps.clock.now();
  const { keyId, certificate } = await selfCertifiedKey(deps.keys, {
    label: `sztp-masa-${input.tenantId}-${now.getTime()}`,
    commonName: `${tenant.name} MASA`,
    organization: tenant.name,
    days: input.days ?? 3650,
    now,
  });
  const certificatePem = toPem('CERTIFICATE', certificate);
  await setMasa(deps, by, {
    tenantId: input.tenantId,
    keyId,
    chainPem: certificatePem,
    ...(input.validityDays !== undefined ? { validityDays: input.validityDays } : {}),
  });
  return { keyId, certificatePem };
}

/** Registers a CA that issues this manufacturer's IDevIDs (device mTLS is validated against these). Throws ERR_SZTP_CERT_INVALID. */
export async function addManufacturerCa(
  deps: AdminDeps,
  by: Actor,
  tenantId: string,
  pem: string,
): Promise<{ id: string; subject: string }> {
  const [der] = pemChain(pem);
  const cert = parseCert(der as Uint8Array);
  if (!cert.isCa) throw new ValidationError('ERR_SZTP_CERT_INVALID', 'not a CA certificate');
  return deps.store.transaction(async (tx) => {
    const row = {
      id: newId('crt'),
      tenant_id: tenantId,
      der: cert.der,
      subject: nameOf(cert),
      created_at: nowIso(deps),
    };
    await tx.insertInto('sztp_manufacturer_cas').values(row).execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.ca.added',
      subject: row.id,
      tenantId,
      details: { subject: row.subject },
    });
    return { id: row.id, subject: row.subject };
  });
}
