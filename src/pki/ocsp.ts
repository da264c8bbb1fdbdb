/**
 * OCSP responder (RFC 6960): parses requests, answers good / revoked / unknown signed by each CA's
 * delegated responder, echoes nonces, and serves pre-signed responses from a per-process cache.
 *
 * Cache invalidation across stateless servers: every revocation bumps `cas.revocation_epoch` in its
 * own transaction. Each process remembers the epoch it signed a cached response under and re-reads
 * the CA's epoch at most every `ocspEpochTtlMs` (default 1 s); a revocation in this process
 * invalidates at once. So a revocation reaches every responder within one TTL, while a cache hit
 * costs no database round trip. (A pure TTL on responses would serve stale "good" for the whole
 * response lifetime; an epoch read per request would cap the responder at the database's speed.)
 */
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import type { CertID } from '@peculiar/asn1-ocsp';
import {
  BasicOCSPResponse,
  CertStatus,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp';
import { Certificate, CRLReason, Extension } from '@peculiar/asn1-x509';
import { toHex } from '../core/encoding.ts';
import {
  der,
  outerLength,
  keyStoreSigner,
  publicKeyBits,
  serialToHex,
  signatureAlgorithm,
  type Signer,
} from './asn1.ts';
import { certificateSubject } from './cert-builder.ts';
import type { PkiContext } from './context.ts';
import { listCas } from './ca-store.ts';
import { ocspSignerDue, renewOcspSigner } from './ocsp-signer.ts';

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const MAX_REQUESTS = 16;
const MAX_NONCE = 64;

interface Responder {
  readonly caId: string;
  /** certificates.id of the responder certificate, to notice a renewal made by another process. */
  readonly certId: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly signer: Signer;
  readonly responderKeyHash: Uint8Array;
  readonly cert: Certificate;
}

interface CacheEntry {
  readonly caId: string;
  readonly der: Uint8Array;
  readonly refreshAt: number;
  readonly epoch: number;
}

/** Status bytes for the non-successful outcomes (unsigned, per RFC 6960 §2.3). */
export function ocspError(status: OCSPResponseStatus): Uint8Array {
  return der(new OCSPResponse({ responseStatus: status }));
}

/** The OCSP responder of this process. */
export class OcspResponder {
  readonly #ctx: PkiContext;
  /** `${hashOid}:${nameHash}:${keyHash}` → CA id. */
  #issuers = new Map<string, string>();
  #issuersLoadedAt = -Infinity;
  readonly #responders = new Map<string, Responder | null>();
  readonly #epochs = new Map<string, { epoch: number; checkedAt: number }>();
  readonly #cache = new Map<string, CacheEntry>();
  /** The same entries keyed by the request's exact bytes (base64). */
  readonly #raw = new Map<string, CacheEntry>();
  /** Responder renewals under way in this process, by CA id (one at a time per CA). */
  readonly #renewals = new Map<string, Promise<void>>();
  /** When a failed automatic renewal may be tried again, by CA id (a CA whose key went offline, say). */
  readonly #retryAt = new Map<string, number>();

  constructor(ctx: PkiContext) {
    this.#ctx = ctx;
  }

  /** Answers one DER OCSPRequest with a DER OCSPResponse; never throws for bad input. */
  async respond(requestDer: Uint8Array): Promise<Uint8Array> {
    // Fast path: a nonce-free single request is answered from its exact bytes without parsing.
    const rawKey = requestDer.length <= 512 ? Buffer.from(requestDer).toString('base64') : undefined;
    if (rawKey !== undefined) {
      const hit = this.#raw.get(rawKey);
      if (
        hit !== undefined &&
        hit.refreshAt > this.#ctx.clock.now().getTime() &&
        hit.epoch === (await this.#epoch(hit.caId))
      )
        return hit.der;
    }
    let req: OCSPRequest;
    try {
      if (outerLength(requestDer) !== requestDer.length) throw new Error('trailing bytes or not a SEQUENCE');
      req = AsnConvert.parse(requestDer, OCSPRequest);
    } catch {
      return ocspError(OCSPResponseStatus.malformedRequest);
    }
    const list = req.tbsRequest.requestList;
    if (list.length === 0 || list.length > MAX_REQUESTS)
      return ocspError(OCSPResponseStatus.malformedRequest);
    const nonce = req.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce);
    if (nonce !== undefined && (nonce.extnValue.byteLength === 0 || nonce.extnValue.byteLength > MAX_NONCE)) {
      return ocspError(OCSPResponseStatus.malformedRequest);
    }
    const caIds = new Set<string>();
    for (const r of list) {
      const caId = await this.#issuerOf(r.reqCert);
      if (caId === undefined) return ocspError(OCSPResponseStatus.unauthorized);
      caIds.add(caId);
    }
    if (caIds.size !== 1) return ocspError(OCSPResponseStatus.unauthorized);
    const caId = [...caIds][0]!;
    const responder = await this.#responder(caId);
    if (responder === null) return ocspError(OCSPResponseStatus.unauthorized);
    const first = list[0]!.reqCert;
    const cacheable = nonce === undefined && list.length === 1;
    const key = `${caId}:${first.hashAlgorithm.algorithm}:${toHex(new Uint8Array(first.serialNumber))}`;
    const epoch = await this.#epoch(caId);
    const now = this.#ctx.clock.now();
    if (cacheable) {
      const hit = this.#cache.get(key);
      if (hit !== undefined && hit.epoch === epoch && hit.refreshAt > now.getTime()) return hit.der;
    }
    const singles: SingleResponse[] = [];
    let allKnown = true;
    for (const r of list) {
      const s = await this.#single(caId, r.reqCert, now);
      allKnown &&= s.certStatus.unknown === undefined;
      singles.push(s);
    }
    this.#renewIfDue(responder, now);
    let out: Uint8Array;
    try {
      out = await this.#sign(responder, singles, now, nonce);
    } catch {
      // The responder key may have been replaced and destroyed by another process: reload once.
      this.#responders.delete(caId);
      const fresh = await this.#responder(caId);
      if (fresh === null) return ocspError(OCSPResponseStatus.internalError);
      try {
        out = await this.#sign(fresh, singles, now, nonce);
      } catch {
        return ocspError(OCSPResponseStatus.internalError);
      }
    }
    if (cacheable && allKnown) {
      const entry = { der: out, epoch, refreshAt: now.getTime() + this.#ctx.ocspValidityMs / 4, caId };
      this.#remember(this.#cache, key, entry);
      if (rawKey !== undefined) this.#remember(this.#raw, rawKey, entry);
    }
    return out;
  }

  /** Drops cached responses of a CA at once (called after a revocation in this process). */
  invalidate(caId: string): void {
    this.#epochs.delete(caId);
    for (const k of this.#cache.keys()) if (k.startsWith(`${caId}:`)) this.#cache.delete(k);
    for (const [k, v] of this.#raw) if (v.caId === caId) this.#raw.delete(k);
  }

  /** Forgets CAs and responders (after a hierarchy change). */
  reload(): void {
    this.#issuersLoadedAt = -Infinity;
    this.#responders.clear();
  }

  /** Switches this process to a CA's new responder at once (after a renewal here). */
  responderChanged(caId: string): void {
    this.#responders.delete(caId);
    this.invalidate(caId);
  }

  /** Resolves when no automatic responder renewal is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#renewals.size > 0) await Promise.all(this.#renewals.values());
  }

  /**
   * Starts a renewal of the responder certificate when it is due; the current response is still signed
   * by the current (valid) responder. Failures are left for the scheduler's next run to retry.
   */
  #renewIfDue(r: Responder, now: Date): void {
    const t = now.getTime();
    if (
      this.#renewals.has(r.caId) ||
      (this.#retryAt.get(r.caId) ?? 0) > t ||
      !ocspSignerDue(this.#ctx, r.notBefore, r.notAfter, t)
    )
      return;
    const run = renewOcspSigner(this.#ctx, { actor: 'system:ocsp' }, r.caId, { onlyIfDue: true })
      .then(
        () => {
          this.#retryAt.delete(r.caId);
          this.responderChanged(r.caId);
        },
        () => {
          this.#retryAt.set(r.caId, t + 60_000);
        },
      )
      .finally(() => this.#renewals.delete(r.caId));
    this.#renewals.set(r.caId, run);
  }

  async #single(caId: string, certId: CertID, now: Date): Promise<SingleResponse> {
    const serialHex = serialToHex(new Uint8Array(certId.serialNumber));
    const row = await this.#ctx.store.db
      .selectFrom('certificates')
      .select(['status', 'revoked_at', 'revocation_reason'])
      .where('ca_id', '=', caId)
      .where('serial_hex', '=', serialHex)
      .executeTakeFirst();
    let certStatus: CertStatus;
    if (row === undefined) certStatus = new CertStatus({ unknown: null });
    else if (row.status === 'revoked') {
      const info = new RevokedInfo({ revocationTime: new Date(row.revoked_at ?? 0) });
      if (row.revocation_reason !== null && row.revocation_reason !== 0)
        info.revocationReason = new CRLReason(row.revocation_reason);
      certStatus = new CertStatus({ revoked: info });
    } else certStatus = new CertStatus({ good: null });
    return new SingleResponse({
      certID: certId,
      certStatus,
      thisUpdate: second(now),
      nextUpdate: second(new Date(now.getTime() + this.#ctx.ocspValidityMs)),
    });
  }

  async #sign(
    r: Responder,
    responses: SingleResponse[],
    now: Date,
    nonce: Extension | undefined,
  ): Promise<Uint8Array> {
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new OctetString(r.responderKeyHash) }),
      producedAt: second(now),
      responses,
    });
    if (nonce !== undefined)
      data.responseExtensions = [new Extension({ extnID: id_pkix_ocsp_nonce, extnValue: nonce.extnValue })];
    const tbs = der(data);
    const sig = await r.signer.sign(tbs);
    const basic = new BasicOCSPResponse({
      tbsResponseData: data,
      signatureAlgorithm: signatureAlgorithm(r.signer.algorithm),
      signature: Uint8Array.from(sig).buffer,
      certs: [r.cert],
    });
    return der(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({
          responseType: id_pkix_ocsp_basic,
          response: new OctetString(der(basic)),
        }),
      }),
    );
  }

  async #issuerOf(certId: CertID): Promise<string | undefined> {
    const hash = HASHES[certId.hashAlgorithm.algorithm];
    if (hash === undefined) return undefined;
    const key = `${hash}:${toHex(new Uint8Array(certId.issuerNameHash.buffer))}:${toHex(new Uint8Array(certId.issuerKeyHash.buffer))}`;
    let caId = this.#issuers.get(key);
    // A miss may be a CA created by another process: reload, at most once a second.
    if (caId === undefined && Date.now() - this.#issuersLoadedAt > 1000) {
      await this.#loadIssuers();
      caId = this.#issuers.get(key);
    }
    return caId;
  }

  async #loadIssuers(): Promise<void> {
    const map = new Map<string, string>();
    for (const ca of await listCas(this.#ctx.store.db)) {
      const nameDer = der(certificateSubject(ca.certificate));
      const spki = der(AsnConvert.parse(ca.certificate, Certificate).tbsCertificate.subjectPublicKeyInfo);
      const keyBits = publicKeyBits(spki);
      for (const hash of Object.values(HASHES)) {
        map.set(`${hash}:${digestHex(hash, nameDer)}:${digestHex(hash, keyBits)}`, ca.id);
      }
    }
    this.#issuers = map;
    this.#issuersLoadedAt = Date.now();
  }

  async #responder(caId: string): Promise<Responder | null> {
    const cached = this.#responders.get(caId);
    if (cached !== undefined) return cached;
    const row = await this.#ctx.store.db
      .selectFrom('cas')
      .innerJoin('certificates', 'certificates.id', 'cas.ocsp_cert_id')
      .select([
        'cas.ocsp_key_id',
        'certificates.id',
        'certificates.der',
        'certificates.not_before',
        'certificates.not_after',
      ])
      .where('cas.id', '=', caId)
      .executeTakeFirst();
    let responder: Responder | null = null;
    if (row?.ocsp_key_id != null) {
      const info = await this.#ctx.keys.get(row.ocsp_key_id);
      responder = {
        caId,
        certId: row.id,
        notBefore: Date.parse(row.not_before),
        notAfter: Date.parse(row.not_after),
        signer: keyStoreSigner(this.#ctx.keys, info.id, info.algorithm, info.publicKeyDer),
        responderKeyHash: new Uint8Array(
          createHash('sha1').update(publicKeyBits(info.publicKeyDer)).digest(),
        ),
        cert: AsnConvert.parse(row.der, Certificate),
      };
    }
    this.#responders.set(caId, responder);
    return responder;
  }

  async #epoch(caId: string): Promise<number> {
    const now = this.#ctx.clock.now().getTime();
    const known = this.#epochs.get(caId);
    if (known !== undefined && now - known.checkedAt < this.#ctx.ocspEpochTtlMs && now >= known.checkedAt)
      return known.epoch;
    const row = await this.#ctx.store.db
      .selectFrom('cas')
      .select(['revocation_epoch', 'ocsp_cert_id'])
      .where('id', '=', caId)
      .executeTakeFirst();
    const epoch = Number(row?.revocation_epoch ?? 0);
    // A responder renewed by another process: sign with the new one from now on.
    const responder = this.#responders.get(caId);
    if (responder !== undefined && responder?.certId !== row?.ocsp_cert_id) this.#responders.delete(caId);
    this.#epochs.set(caId, { epoch, checkedAt: now });
    return epoch;
  }

  #remember(map: Map<string, CacheEntry>, key: string, entry: CacheEntry): void {
    if (map.size >= this.#ctx.ocspCacheSize) {
      const oldest = map.keys().next();
      if (oldest.done !== true) map.delete(oldest.value);
    }
    map.set(key, entry);
  }
}

function digestHex(hash: string, data: Uint8Array): string {
  return createHash(hash).update(data).digest('hex');
}

function second(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** Re-exported so routes and tests can name the wire statuses. */
export { OCSPResponseStatus };
