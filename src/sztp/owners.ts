/** SZTP owners: their certificate chain (owner certificate first, pinned domain certificate last) and signing key. */
import { bytesEqual, fromPemAll, toBase64, toPem } from '../core/encoding.ts';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { KeyStore } from '../keys/types.ts';
import type { Executor } from '../store/database.ts';
import { nowIso, type Actor, type AdminDeps } from './admin-deps.ts';
import { nameOf, parseCert, validatePath } from './cms/certs.ts';
import { selfCertifiedKey } from './self-certified.ts';

/** An owner as the API shows it. */
export interface OwnerView {
  readonly id: string;
  readonly tenantId: string;
  readonly name: string;
  readonly keyId: string | null;
  readonly subject: string;
  readonly createdAt: string;
}

/** Parses PEM certificates (leaf first). Throws ERR_SZTP_CERT_INVALID. */
export function pemChain(pem: string): Uint8Array[] {
  const ders = fromPemAll(pem, 'CERTIFICATE');
  if (ders.length === 0) throw new ValidationError('ERR_SZTP_CERT_INVALID', 'no PEM certificate found');
  ders.forEach((d) => parseCert(d));
  return ders;
}

/** Refuses a key-store key that is not the one `leaf` certifies. Throws ERR_SZTP_KEY_MISMATCH, ERR_KEY_NOT_FOUND. */
export async function checkKeyMatches(keys: KeyStore, keyId: string, leaf: Uint8Array): Promise<void> {
  const key = await keys.get(keyId);
  if (!bytesEqual(key.publicKeyDer, parseCert(leaf).spki)) {
    throw new ValidationError(
      'ERR_SZTP_KEY_MISMATCH',
      'the certificate does not hold the public key of that key',
    );
  }
}

/**
 * Registers an owner: its certificate chain (owner certificate first, pinned domain certificate last) and,
 * on a server that signs for it, the key-store key of the owner certificate.
 * Throws ERR_SZTP_CERT_INVALID, ERR_SZTP_CHAIN_INVALID, ERR_SZTP_KEY_MISMATCH, ERR_KEY_NOT_FOUND, ERR_SZTP_OWNER_EXISTS.
 */
export async function registerOwner(
  deps: AdminDeps,
  by: Actor,
  input: { tenantId: string; name: string; chainPem: string; keyId?: string },
): Promise<OwnerView> {
  const chain = pemChain(input.chainPem);
  const leaf = chain[0] as Uint8Array;
  const pinned = chain[chain.length - 1] as Uint8Array;
  validatePath(parseCert(leaf), chain.slice(1).map(parseCert), [parseCert(pinned)], deps.clock.now());
  if (input.keyId !== undefined) await checkKeyMatches(deps.keys, input.keyId, leaf);
  await deps.registry.getTenant(input.tenantId);
  return deps.store.transaction(async (tx) => {
    const dup = await tx
      .selectFrom('sztp_owners')
      .select('id')
      .where('tenant_id', '=', input.tenantId)
      .where('name', '=', input.name)
      .executeTakeFirst();
    if (dup !== undefined) throw new ConflictError('ERR_SZTP_OWNER_EXISTS', `owner ${input.name} exists`);
    const row = {
      id: newId('own'),
      tenant_id: input.tenantId,
      name: input.name,
      key_id: input.keyId ?? null,
      chain: JSON.stringify(chain.map(toBase64)),
      pinned_domain_cert: pinned,
      created_at: nowIso(deps),
    };
    await tx.insertInto('sztp_owners').values(row).execute();
    await deps.audit.append(tx, {
      ...by,
      action: 'sztp.owner.registered',
      subject: row.id,
      tenantId: row.tenant_id,
      details: { name: row.name, keyId: row.key_id, subject: nameOf(parseCert(leaf)) },
    });
    return toOwner(row);
  });
}

/**
 * Registers an owner whose signing key is generated here, certified to itself (the owner certificate is its
 * own pinned-domain-cert). Throws ERR_SZTP_OWNER_EXISTS, ERR_KEY_LABEL_TAKEN, ERR_TENANT_NOT_FOUND.
 */
export async function generateOwner(
  deps: AdminDeps,
  by: Actor,
  input: { tenantId: string; name: string; days?: number },
): Promise<OwnerView & { certificatePem: string }> {
  const tenant = await deps.registry.getTenant(input.tenantId);
  const dup = (await listOwners(deps, input.tenantId)).some((o) => o.name === input.name);
  if (dup) throw new ConflictError('ERR_SZTP_OWNER_EXISTS', `owner ${input.name} exists`);
  const { keyId, certificate } = await selfCertifiedKey(deps.keys, {
    label: `sztp-owner-${input.tenantId}-${input.name}`,
    commonName: `${input.name} SZTP owner`,
    organization: tenant.name,
    days: input.days ?? 3650,
    now: deps.clock.now(),
  });
  const certificatePem = toPem('CERTIFICATE', certificate);
  const owner = await registerOwner(deps, by, { ...input, chainPem: certificatePem, keyId });
  return { ...owner, certificatePem };
}

/** The owner with this id (visible to `tenantId` when given). Throws ERR_SZTP_OWNER_NOT_FOUND. */
export async function getOwner(db: Executor, id: string, tenantId?: string): Promise<OwnerView> {
  let q = db.selectFrom('sztp_owners').selectAll().where('id', '=', id);
  if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
  const r = await q.executeTakeFirst();
  if (r === undefined) throw new NotFoundError('ERR_SZTP_OWNER_NOT_FOUND', `no owner ${id}`);
  return toOwner(r);
}

/** Owners of a tenant. */
export async function listOwners(deps: AdminDeps, tenantId: string): Promise<OwnerView[]> {
  const rows = await deps.store.db
    .selectFrom('sztp_owners')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('created_at')
    .execute();
  return rows.map(toOwner);
}

function toOwner(r: {
  id: string;
  tenant_id: string;
  name: string;
  key_id: string | null;
  chain: string;
  created_at: string;
}): OwnerView {
  const leaf = (JSON.parse(r.chain) as string[])[0] ?? '';
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    keyId: r.key_id,
    subject: nameOf(parseCert(new Uint8Array(Buffer.from(leaf, 'base64')))),
    createdAt: r.created_at,
  };
}
