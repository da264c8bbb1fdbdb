/** The PKI service: the one entry point the server, CLI and other features use. */
import { generateKeyPairSync } from 'node:crypto';
import type { Core } from '../server/types.ts';
import type { Executor } from '../store/database.ts';
import { toPem } from '../core/encoding.ts';
import { ValidationError } from '../core/errors.ts';
import {
  caChain,
  getCa,
  getCertificate,
  listCas,
  listCertificates,
  type CertificateFilter,
} from './ca-store.ts';
import { pkiContext, type PkiContext } from './context.ts';
import { latestCrl, publishCrl, type PublishedCrl } from './crl.ts';
import {
  defaultHierarchy,
  initHierarchy,
  type HierarchyProfile,
  type HierarchyResult,
  type IssuingCaSpec,
} from './hierarchy.ts';
import { issueForKey, issueFromCsr, issuingCa, type IssueRequest, type IssuedCertificate } from './issue.ts';
import { OcspResponder } from './ocsp.ts';
import {
  createIssuingCaOffline,
  exportRootForOffline,
  renewIssuingCa,
  signRootCrl,
  type OfflineRootKey,
} from './offline-root.ts';
import { renewDueOcspSigners, renewOcspSigner, type OcspSignerRenewal } from './ocsp-signer.ts';
import { getProfile } from './profiles.ts';
import { revokeCertificate, type RevokeRequest } from './revoke.ts';
import type { CaRecord, CertificateRecord, PkiOptions } from './types.ts';

/** Who acts, for audit. */
export interface By {
  readonly actor: string;
}

/** A TLS server identity for Imprint's own HTTPS listener. */
export interface TlsServerIdentity {
  readonly certificate: CertificateRecord;
  /** Leaf then issuing CA (what the server presents). */
  readonly certChainPem: string;
  /** Root certificate clients should trust. */
  readonly rootPem: string;
  /** Unencrypted PKCS#8 PEM of the server key (Node's TLS needs it in memory); store it sealed. */
  readonly keyPem: string;
}

/** CA hierarchy, issuance, revocation, CRLs and OCSP over the core ports. */
export class PkiService {
  readonly ctx: PkiContext;
  readonly ocsp: OcspResponder;

  constructor(
    core: Pick<Core, 'store' | 'keys' | 'audit' | 'registry' | 'clock' | 'random'>,
    options: PkiOptions,
  ) {
    this.ctx = pkiContext(core, options);
    this.ocsp = new OcspResponder(this.ctx);
  }

  /** Creates the tenant's CA hierarchy; see initHierarchy for the error codes. */
  async initHierarchy(by: By, tenantId: string, profile?: HierarchyProfile): Promise<HierarchyResult> {
    const tenant = await this.ctx.registry.getTenant(tenantId);
    const result = await initHierarchy(this.ctx, by, tenantId, profile ?? defaultHierarchy(tenant.name));
    this.ocsp.reload();
    return result;
  }

  /** CAs of a tenant. */
  listCas(tenantId: string): Promise<CaRecord[]> {
    return listCas(this.ctx.store.db, tenantId);
  }

  /** One CA of a tenant. Throws ERR_CA_NOT_FOUND. */
  getCa(tenantId: string, caId: string): Promise<CaRecord> {
    return getCa(this.ctx.store.db, caId, tenantId);
  }

  /** A CA by id in any tenant (public endpoints). Throws ERR_CA_NOT_FOUND. */
  getCaPublic(caId: string): Promise<CaRecord> {
    return getCa(this.ctx.store.db, caId);
  }

  /** The CA and its parents, nearest first. Throws ERR_CA_NOT_FOUND. */
  async chain(tenantId: string, caId: string, db: Executor = this.ctx.store.db): Promise<CaRecord[]> {
    return caChain(db, await getCa(db, caId, tenantId));
  }

  /** Issues from a CSR; see issueFromCsr for the error codes. */
  issue(by: By, req: IssueRequest): Promise<IssuedCertificate> {
    return issueFromCsr(this.ctx, by, req);
  }

  /** Revokes and republishes the CRL; see revokeCertificate for the error codes. */
  async revoke(
    by: By,
    req: RevokeRequest,
  ): Promise<{ certificate: CertificateRecord; crl: PublishedCrl | null }> {
    const out = await revokeCertificate(this.ctx, by, req);
    if (out.certificate.caId !== null) this.ocsp.invalidate(out.certificate.caId);
    return out;
  }

  /** Signs and publishes a fresh CRL. Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE, ERR_CRL_CONFLICT. */
  publishCrl(by: By, tenantId: string, caId: string): Promise<PublishedCrl> {
    return publishCrl(this.ctx, by, caId, tenantId);
  }

  /** The latest CRL of a CA. Throws ERR_CRL_NOT_FOUND. */
  latestCrl(caId: string): Promise<PublishedCrl> {
    return latestCrl(this.ctx, caId);
  }

  /** Certificates of a tenant. */
  listCertificates(tenantId: string, filter?: CertificateFilter): Promise<CertificateRecord[]> {
    return listCertificates(this.ctx.store.db, tenantId, filter);
  }

  /** One certificate. Throws ERR_CERT_NOT_FOUND. */
  getCertificate(tenantId: string, id: string): Promise<CertificateRecord> {
    return getCertificate(this.ctx.store.db, id, tenantId);
  }

  /** DER OCSP response for a DER request (never throws for bad input). */
  respondOcsp(requestDer: Uint8Array): Promise<Uint8Array> {
    return this.ocsp.respond(requestDer);
  }

  /**
   * Replaces the CA's delegated OCSP responder key and certificate now, audited; this process signs with
   * the new one at once, others within the OCSP epoch TTL. Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE,
   * ERR_OCSP_SIGNER_CONFLICT.
   */
  async renewOcspSigner(by: By, tenantId: string, caId: string): Promise<OcspSignerRenewal> {
    const out = await renewOcspSigner(this.ctx, by, caId, { tenantId });
    // Only undefined with onlyIfDue; an explicit renewal either switches or throws.
    this.ocsp.responderChanged(caId);
    return out!;
  }

  /** Takes an online root offline (export, then commit). See exportRootForOffline for the error codes. */
  exportRootForOffline(
    by: By,
    tenantId: string,
    passphrase: string,
  ): Promise<{ pem: string; commit(): Promise<void> }> {
    return exportRootForOffline(this.ctx, by, tenantId, passphrase);
  }

  /**
   * Offline-root ceremony: signs and publishes the root CRL with the key file. See signRootCrl for the
   * error codes.
   */
  signRootCrl(by: By, tenantId: string, key: OfflineRootKey, validityDays?: number): Promise<PublishedCrl> {
    return signRootCrl(this.ctx, by, tenantId, key, validityDays);
  }

  /** Offline-root ceremony: re-certifies an issuing CA's key. See renewIssuingCa for the error codes. */
  async renewIssuingCa(
    by: By,
    tenantId: string,
    caId: string,
    key: OfflineRootKey,
    validityYears?: number,
  ): Promise<CaRecord> {
    const ca = await renewIssuingCa(this.ctx, by, tenantId, caId, key, validityYears);
    this.ocsp.reload();
    return ca;
  }

  /**
   * Offline-root ceremony: a new issuing CA with its OCSP responder and first CRL. See
   * createIssuingCaOffline, renewOcspSigner and publishCrl for the error codes.
   */
  async createIssuingCa(
    by: By,
    tenantId: string,
    spec: IssuingCaSpec,
    key: OfflineRootKey,
  ): Promise<CaRecord> {
    const ca = await createIssuingCaOffline(this.ctx, by, tenantId, spec, key);
    await renewOcspSigner(this.ctx, by, ca.id, { tenantId });
    await publishCrl(this.ctx, by, ca.id, tenantId);
    this.ocsp.reload();
    return getCa(this.ctx.store.db, ca.id, tenantId);
  }

  /**
   * Re-signs CRLs that are due and renews due OCSP responder certificates (call every minute or so from
   * `imprint serve`); returns how many CRLs. Offline CAs are skipped: their CRL is renewed at a key ceremony.
   */
  async runScheduled(by: By = { actor: 'system' }): Promise<number> {
    const now = this.ctx.clock.now().toISOString();
    const due = await this.ctx.store.db
      .selectFrom('cas')
      .select('id')
      .where('state', '=', 'active')
      .where('key_id', 'is not', null)
      .where('next_crl_at', '<=', now)
      .execute();
    for (const ca of due) await publishCrl(this.ctx, by, ca.id);
    for (const caId of await renewDueOcspSigners(this.ctx, by)) this.ocsp.responderChanged(caId);
    return due.length;
  }

  /**
   * Issues Imprint's own HTTPS certificate from the tenant's TLS CA with a fresh P-256 key.
   * Throws ERR_CA_NOT_FOUND, ERR_CA_OFFLINE, ERR_TLS_NAMES_INVALID.
   */
  async issueTlsServerCertificate(
    by: By,
    input: {
      tenantId: string;
      commonName: string;
      dnsNames?: readonly string[];
      ipAddresses?: readonly string[];
    },
  ): Promise<TlsServerIdentity> {
    const dns = input.dnsNames ?? [];
    const ips = input.ipAddresses ?? [];
    if (dns.length + ips.length === 0 || !/^[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}$/.test(input.commonName)) {
      throw new ValidationError(
        'ERR_TLS_NAMES_INVALID',
        'give a plain common name and at least one DNS name or IP address',
      );
    }
    const profile = getProfile('tls-server');
    const ca = await issuingCa(this.ctx, input.tenantId, profile);
    const tenant = await this.ctx.registry.getTenant(input.tenantId);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
    const issued = await issueForKey(this.ctx, by, {
      ca,
      profile,
      spki,
      subject: {
        device: null,
        values: { tenant: tenant.name, cn: input.commonName },
        san: [
          ...dns.map((value) => ({ type: 'dns' as const, value })),
          ...ips.map((value) => ({ type: 'ip' as const, value })),
        ],
      },
      req: {},
    });
    const chain = await caChain(this.ctx.store.db, ca);
    const root = chain[chain.length - 1]!;
    return {
      certificate: issued.certificate,
      certChainPem: issued.pem + toPem('CERTIFICATE', ca.certificate),
      rootPem: toPem('CERTIFICATE', root.certificate),
      keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    };
  }
}
