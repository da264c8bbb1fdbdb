/** Creates a tenant's CA hierarchy from a declarative profile: root, issuing CAs, OCSP responders, first CRLs. */
import 'reflect-metadata';
import { encryptedPkcs8Pem, generateSoftwareKeyPair } from '../keys/software.ts';
import { KeyUsageFlags, type Extension, type Name } from '@peculiar/asn1-x509';
import { ConflictError, ValidationError } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { KeyAlgorithm } from '../keys/types.ts';
import type { CasTable } from '../store/tables/pki.ts';
import type { CertificatesTable } from '../store/tables/foundation.ts';
import { buildName, keyObjectSigner, keyStoreSigner, randomSerial, type Signer } from './asn1.ts';
import { buildCertificate } from './cert-builder.ts';
import { aiaExt, basicConstraintsExt, crlDpExt, keyUsageExt } from './extensions.ts';
import { buildCrl, storeCrl } from './crl.ts';
import { caCertUrl, crlUrl, type PkiContext } from './context.ts';
import { toCa } from './ca-store.ts';
import { buildOcspSignerCertificate, ocspSignerNotAfter } from './ocsp-signer.ts';
import { caRow, certRow } from './rows.ts';
import type { CaRecord, CaRole } from './types.ts';

export { certPem, certRow } from './rows.ts';

/** One issuing CA in a hierarchy profile. */
export interface IssuingCaSpec {
  readonly role: Exclude<CaRole, 'root'>;
  readonly name: string;
  readonly commonName: string;
  readonly algorithm: KeyAlgorithm;
  readonly validityYears: number;
}

/** A declarative hierarchy: one root and its issuing CAs. */
export interface HierarchyProfile {
  readonly organization: string;
  readonly root: {
    readonly name: string;
    readonly commonName: string;
    readonly algorithm: KeyAlgorithm;
    readonly validityYears: number;
    /** When set, the root key is generated in software, exported under this passphrase and not kept. */
    readonly exportPassphrase?: string;
  };
  readonly issuing: readonly IssuingCaSpec[];
  /** Key algorithm of the delegated OCSP responders (default: each CA's own). */
  readonly ocspAlgorithm?: KeyAlgorithm;
}

/** The usual hierarchy: root + manufacturer, operational, code-signing and TLS CAs. */
export function defaultHierarchy(
  organization: string,
  algorithm: KeyAlgorithm = 'ecdsa-p256',
): HierarchyProfile {
  const rootAlg = algorithm === 'ecdsa-p256' ? 'ecdsa-p384' : algorithm;
  const ca = (role: IssuingCaSpec['role'], label: string): IssuingCaSpec => ({
    role,
    name: role,
    commonName: `${organization} ${label} CA`,
    algorithm,
    validityYears: 10,
  });
  return {
    organization,
    root: { name: 'root', commonName: `${organization} Root CA`, algorithm: rootAlg, validityYears: 25 },
    issuing: [
      ca('manufacturer', 'Manufacturer (IDevID)'),
      ca('operational', 'Operational (LDevID)'),
      ca('code-signing', 'Code Signing'),
      ca('tls', 'TLS'),
    ],
  };
}

/** What initHierarchy made. */
export interface HierarchyResult {
  readonly cas: CaRecord[];
  /** Encrypted PKCS#8 PEM of the root key when it was exported; store it offline. */
  readonly rootKeyPem?: string;
}

const YEAR = 365 * 86400_000;

/**
 * Creates the hierarchy for a tenant in one transaction (keys are generated first).
 * Throws ERR_TENANT_NOT_FOUND, ERR_CA_EXISTS, ERR_CA_PROFILE_INVALID, ERR_CA_PASSPHRASE_WEAK.
 */
export async function initHierarchy(
  ctx: PkiContext,
  by: { actor: string },
  tenantId: string,
  profile: HierarchyProfile,
): Promise<HierarchyResult> {
  await ctx.registry.getTenant(tenantId);
  validateProfile(profile);
  const existing = await ctx.store.db
    .selectFrom('cas')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'root')
    .executeTakeFirst();
  if (existing !== undefined) throw new ConflictError('ERR_CA_EXISTS', 'this tenant already has a root CA');
  const now = ctx.clock.now();
  const notBefore = new Date(now.getTime() - 60_000);
  const org = profile.organization;

  const root = await rootKey(ctx, profile);
  const rootId = newId('ca');
  const rootName = buildName([
    ['O', org],
    ['CN', profile.root.commonName],
  ]);
  const rootSerial = randomSerial(ctx.random);
  const rootDer = await buildCertificate({
    signer: root.signer,
    issuer: rootName,
    subject: rootName,
    spki: root.signer.spki,
    serial: rootSerial,
    notBefore,
    notAfter: new Date(now.getTime() + profile.root.validityYears * YEAR),
    extensions: caExtensions(profile.issuing.length > 0 ? 1 : 0),
  });
  const rows: CasTable[] = [
    caRow(
      rootId,
      tenantId,
      profile.root.name,
      'root',
      root.keyId,
      profile.root.algorithm,
      rootDer,
      null,
      now,
    ),
  ];
  const certRows: CertificatesTable[] = [];
  const ocspLinks: { caId: string; keyId: string; certId: string }[] = [];
  const crls: { ca: CasTable; signer: Signer; issuer: Name }[] = [
    { ca: rows[0]!, signer: root.signer, issuer: rootName },
  ];

  for (const spec of profile.issuing) {
    const key = await ctx.keys.generate(`ca/${tenantId}/${spec.name}/${newId('key')}`, spec.algorithm);
    const id = newId('ca');
    const caNotAfter = Math.min(
      now.getTime() + spec.validityYears * YEAR,
      now.getTime() + profile.root.validityYears * YEAR,
    );
    const name = buildName([
      ['O', org],
      ['CN', spec.commonName],
    ]);
    const caDer = await buildCertificate({
      signer: root.signer,
      issuer: rootName,
      subject: name,
      spki: key.publicKeyDer,
      serial: randomSerial(ctx.random),
      notBefore,
      notAfter: new Date(caNotAfter),
      extensions: [
        ...caExtensions(0),
        crlDpExt(crlUrl(ctx, rootId)),
        aiaExt(`${ctx.baseUrl}/ocsp`, caCertUrl(ctx, rootId)),
      ],
    });
    const row = caRow(id, tenantId, spec.name, spec.role, key.id, spec.algorithm, caDer, rootId, now);
    rows.push(row);
    certRows.push(certRow(tenantId, rootId, `ca-${spec.role}`, caDer, key.publicKeyDer, now));
    const signer = keyStoreSigner(ctx.keys, key.id, key.algorithm, key.publicKeyDer);
    crls.push({ ca: row, signer, issuer: name });

    // The delegated OCSP responder, so the CA key signs only certificates and CRLs.
    const ocspAlg = profile.ocspAlgorithm ?? spec.algorithm;
    const ocspKey = await ctx.keys.generate(`ocsp/${tenantId}/${spec.name}/${newId('key')}`, ocspAlg);
    const ocspDer = await buildOcspSignerCertificate({
      signer,
      issuer: name,
      subject: buildName([
        ['O', org],
        ['CN', `${spec.commonName} OCSP Responder`],
      ]),
      spki: ocspKey.publicKeyDer,
      serial: randomSerial(ctx.random),
      notBefore,
      notAfter: ocspSignerNotAfter(ctx, { notAfter: new Date(caNotAfter).toISOString() }, now),
    });
    const ocspRow = certRow(tenantId, id, 'ocsp-signer', ocspDer, ocspKey.publicKeyDer, now);
    certRows.push(ocspRow);
    ocspLinks.push({ caId: id, keyId: ocspKey.id, certId: ocspRow.id });
  }

  // First CRLs are signed before the transaction: key-store signing must not run inside it.
  const signedCrls = await Promise.all(
    crls.map(async (c) => ({
      ca: c.ca,
      crl: await (async () => {
        const thisUpdate = now;
        const validity = c.ca.key_id === null ? YEAR : ctx.crlValidityMs;
        const nextUpdate = new Date(now.getTime() + validity);
        return {
          number: 1,
          thisUpdate,
          nextUpdate,
          der: await buildCrl({
            signer: c.signer,
            issuer: c.issuer,
            number: 1,
            thisUpdate,
            nextUpdate,
            revoked: [],
          }),
        };
      })(),
    })),
  );

  await ctx.store.transaction(async (tx) => {
    for (const r of certRows) await tx.insertInto('certificates').values(r).execute();
    for (const r of rows) {
      const link = ocspLinks.find((l) => l.caId === r.id);
      await tx
        .insertInto('cas')
        .values({ ...r, ocsp_key_id: link?.keyId ?? null, ocsp_cert_id: link?.certId ?? null })
        .execute();
      await ctx.audit.append(tx, {
        ...by,
        action: 'ca.created',
        subject: r.id,
        tenantId,
        details: {
          name: r.name,
          role: r.role,
          subject: r.subject,
          keyAlgorithm: r.key_algorithm,
          offline: r.key_id === null,
        },
      });
    }
  });
  for (const c of signedCrls) await storeCrl(ctx, by, toCa(c.ca), c.crl);
  const cas = (
    await ctx.store.db.selectFrom('cas').selectAll().where('tenant_id', '=', tenantId).execute()
  ).map(toCa);
  return { cas, ...(root.exportPem === undefined ? {} : { rootKeyPem: root.exportPem }) };
}

function validateProfile(p: HierarchyProfile): void {
  const names = new Set([p.root.name, ...p.issuing.map((i) => i.name)]);
  const ok =
    names.size === p.issuing.length + 1 &&
    [...names].every((n) => /^[a-z0-9][a-z0-9-]{0,31}$/.test(n)) &&
    p.root.validityYears > 0 &&
    p.issuing.every((i) => i.validityYears > 0 && i.commonName.length > 0 && i.commonName.length <= 64);
  if (!ok)
    throw new ValidationError(
      'ERR_CA_PROFILE_INVALID',
      'hierarchy profile has duplicate or invalid names or validity',
    );
}

async function rootKey(
  ctx: PkiContext,
  profile: HierarchyProfile,
): Promise<{ signer: Signer; keyId: string | null; exportPem?: string }> {
  const alg = profile.root.algorithm;
  const pass = profile.root.exportPassphrase;
  if (pass === undefined) {
    const key = await ctx.keys.generate(`ca/root/${newId('key')}`, alg);
    return { signer: keyStoreSigner(ctx.keys, key.id, alg, key.publicKeyDer), keyId: key.id };
  }
  const { privateKey, publicKey } = generateSoftwareKeyPair(alg);
  const exportPem = encryptedPkcs8Pem(privateKey, pass);
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  return { signer: keyObjectSigner(privateKey, alg, spki), keyId: null, exportPem };
}

/** basicConstraints CA:TRUE with this pathLen + keyCertSign and cRLSign. */
export function caExtensions(pathLen: number): Extension[] {
  return [basicConstraintsExt(true, pathLen), keyUsageExt(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)];
}
