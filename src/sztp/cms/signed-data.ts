/** CMS SignedData (RFC 5652) as SZTP and RFC 8366 use it: sign with a key-store key, verify, degenerate cert bags. */
import 'reflect-metadata';
import * as asn1js from 'asn1js';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContentInfo,
  SignedData,
  type SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { createHash, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { bytesEqual, concatBytes } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import type { HashAlgorithm, KeyStore } from '../../keys/types.ts';
import { OID } from '../types.ts';
import { parseCert, publicKeyOf, type Cert } from './certs.ts';
import { BoundedCache } from '../bounded-cache.ts';
import { children, oidDer, readTlv, tlv } from '../../core/der.ts';

/** Something that signs CMS content: the signer's certificate (and chain) plus a signing function. */
export interface CmsSigner {
  readonly certificate: Uint8Array;
  /** Further certificates to include (intermediates up to, but excluding, the trust anchor). */
  readonly chain?: readonly Uint8Array[];
  /** Signs `data` (hashing it with `hash`; Ed25519 signs it whole); ECDSA signatures in DER. */
  sign(data: Uint8Array, hash: HashAlgorithm): Promise<Uint8Array>;
}

/** A signer backed by a KeyStore key (HSM or software); the private key never leaves the store. */
export function keyStoreSigner(
  keys: KeyStore,
  keyId: string,
  certificate: Uint8Array,
  chain: readonly Uint8Array[] = [],
): CmsSigner {
  return { certificate, chain, sign: (data, hash) => keys.sign(keyId, data, { hash, ecdsaFormat: 'der' }) };
}

/** A signer over a Node private key (tests, tools, and the simulated device's software keys). */
export function keyObjectSigner(
  privateKey: KeyObject,
  certificate: Uint8Array,
  chain: readonly Uint8Array[] = [],
): CmsSigner {
  return {
    certificate,
    chain,
    sign: (data, hash) =>
      Promise.resolve(
        new Uint8Array(
          nodeSign(privateKey.asymmetricKeyType === 'ed25519' ? null : hash, data, {
            key: privateKey,
            dsaEncoding: 'der',
          }),
        ),
      ),
  };
}

const HASH_OID: Record<HashAlgorithm, string> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};
const OID_HASH: Record<string, HashAlgorithm> = Object.fromEntries(
  Object.entries(HASH_OID).map(([k, v]) => [v, k as HashAlgorithm]),
);

/** The digest and signature algorithm a certificate's key signs with. */
function algorithmsFor(spkiDer: Uint8Array): { hash: HashAlgorithm; sigOid: string; nullParams: boolean } {
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  const alg = spki.algorithm.algorithm;
  if (alg === '1.2.840.113549.1.1.1')
    return { hash: 'sha256', sigOid: '1.2.840.113549.1.1.11', nullParams: true };
  if (alg === '1.3.101.112') return { hash: 'sha512', sigOid: '1.3.101.112', nullParams: false };
  if (alg === '1.2.840.10045.2.1') {
    const params = spki.algorithm.parameters ? new Uint8Array(spki.algorithm.parameters) : new Uint8Array();
    const p384 = bytesEqual(
      params,
      new Uint8Array(new asn1js.ObjectIdentifier({ value: '1.3.132.0.34' }).toBER()),
    );
    return p384
      ? { hash: 'sha384', sigOid: '1.2.840.10045.4.3.3', nullParams: false }
      : { hash: 'sha256', sigOid: '1.2.840.10045.4.3.2', nullParams: false };
  }
  throw new ValidationError('ERR_SZTP_CMS_UNSUPPORTED', `unsupported signer key algorithm ${alg}`);
}

function derLength(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return new Uint8Array([0x80 | bytes.length, ...bytes]);
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] ?? 0) - (b[i] ?? 0);
  return a.length - b.length;
}

/**
 * The ContentInfo of a SignedData serialised without certificates, with the certificates' own DER put in as
 * `certificates [0] IMPLICIT CertificateSet` (after encapContentInfo, in the order given). The same bytes as
 * parsing each certificate into the schema and serialising it back, which cost ~2 ms per voucher signature.
 */
function signedDataInfo(sd: SignedData, certificates: readonly Uint8Array[]): Uint8Array {
  let der: Uint8Array = new Uint8Array(AsnConvert.serialize(sd));
  if (certificates.length > 0) {
    const top = readTlv(der, 0);
    const encap = children(der, top)[2];
    if (encap === undefined)
      throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'SignedData without content');
    const certs = concatBytes(...certificates);
    const body = concatBytes(
      der.subarray(top.contentStart, encap.end),
      new Uint8Array([0xa0]),
      derLength(certs.length),
      certs,
      der.subarray(encap.end, top.end),
    );
    der = concatBytes(new Uint8Array([0x30]), derLength(body.length), body);
  }
  // ContentInfo ::= SEQUENCE { contentType id-signedData, content [0] EXPLICIT SignedData }, written directly:
  // through the schema the finished SignedData would be parsed again to be embedded.
  const inner = concatBytes(SIGNED_DATA_OID_DER, new Uint8Array([0xa0]), derLength(der.length), der);
  return concatBytes(new Uint8Array([0x30]), derLength(inner.length), inner);
}

/** DER of OBJECT IDENTIFIER 1.2.840.113549.1.7.2 (id-signedData). */
const SIGNED_DATA_OID_DER = new Uint8Array([
  0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
]);

const algorithmDers = new Map<string, Uint8Array>();
/** DER of an AlgorithmIdentifier (the few in use, serialised once by the schema library). */
function algorithmDer(oid: string, nullParams: boolean): Uint8Array {
  const k = `${oid}:${nullParams}`;
  let d = algorithmDers.get(k);
  if (d === undefined) {
    const alg = new AlgorithmIdentifier({ algorithm: oid, ...(nullParams ? { parameters: null } : {}) });
    d = new Uint8Array(AsnConvert.serialize(alg));
    algorithmDers.set(k, d);
  }
  return d;
}

const signerAlgorithms = new BoundedCache<string, ReturnType<typeof algorithmsFor>>(1000);

/**
 * Signs `content` as SignedData with eContentType `contentType` and returns the DER ContentInfo.
 * Signed attributes: content-type, message-digest, signing-time. Throws ERR_SZTP_CMS_UNSUPPORTED.
 * The DER is written directly from its parts (certificates, names and serials as they are in the signer's
 * certificates): the schema library's object model cost ~3 ms per voucher, every first contact of a device.
 * The bytes are those the schema library wrote (tests compare both and verify with the parsers).
 */
export async function signCms(
  contentType: string,
  content: Uint8Array,
  signer: CmsSigner,
  signingTime: Date = new Date(),
): Promise<Uint8Array> {
  const cert = parseCert(signer.certificate);
  const spkiKey = Buffer.from(cert.spki).toString('base64');
  let algs = signerAlgorithms.get(spkiKey);
  if (algs === undefined) {
    algs = algorithmsFor(cert.spki);
    signerAlgorithms.set(spkiKey, algs);
  }
  const { hash, sigOid, nullParams } = algs;
  const digest = createHash(hash).update(content).digest();
  const utcTime = new Uint8Array(new asn1js.UTCTime({ valueDate: signingTime }).toBER());
  const attrs = [
    tlv(0x30, oidDer('1.2.840.113549.1.9.3'), tlv(0x31, oidDer(contentType))),
    tlv(0x30, oidDer('1.2.840.113549.1.9.5'), tlv(0x31, utcTime)),
    tlv(0x30, oidDer('1.2.840.113549.1.9.4'), tlv(0x31, tlv(0x04, digest))),
  ].sort(compare); // DER orders a SET OF by encoding
  const body = concatBytes(...attrs);
  const signature = await signer.sign(tlv(0x31, body), hash);
  const digestAlg = algorithmDer(HASH_OID[hash], false);
  const signerInfo = tlv(
    0x30,
    tlv(0x02, new Uint8Array([1])),
    tlv(0x30, cert.issuerDer, tlv(0x02, cert.serial)), // issuerAndSerialNumber
    digestAlg,
    tlv(0xa0, body), // signedAttrs [0] IMPLICIT
    algorithmDer(sigOid, nullParams),
    tlv(0x04, signature),
  );
  const sd = tlv(
    0x30,
    tlv(0x02, new Uint8Array([contentType === OID.data ? 1 : 3])),
    tlv(0x31, digestAlg),
    tlv(0x30, oidDer(contentType), tlv(0xa0, tlv(0x04, content))), // encapContentInfo
    tlv(0xa0, signer.certificate, ...(signer.chain ?? [])), // certificates [0] IMPLICIT
    tlv(0x31, signerInfo),
  );
  return tlv(0x30, SIGNED_DATA_OID_DER, tlv(0xa0, sd));
}

/** A degenerate SignedData (no content, no signers) carrying certificates: owner certificates and trust anchors. */
export function degenerateCms(certificates: readonly Uint8Array[]): Uint8Array {
  const sd = new SignedData({
    version: 1,
    digestAlgorithms: new DigestAlgorithmIdentifiers([]),
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: OID.data }),
    signerInfos: new SignerInfos([]),
  });
  return signedDataInfo(sd, certificates);
}

/** Parses a DER ContentInfo. Throws ERR_SZTP_CMS_MALFORMED. */
export function parseContentInfo(der: Uint8Array): ContentInfo {
  try {
    return AsnConvert.parse(der, ContentInfo);
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'not a CMS ContentInfo', { cause });
  }
}

function parseSignedData(der: Uint8Array): SignedData {
  const ci = parseContentInfo(der);
  if (ci.contentType !== OID.signedData)
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'not a CMS SignedData');
  try {
    return AsnConvert.parse(ci.content, SignedData);
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'malformed SignedData', { cause });
  }
}

/** Every certificate in a SignedData (degenerate or signed), in order. Throws ERR_SZTP_CMS_MALFORMED, ERR_SZTP_CERT_INVALID. */
export function cmsCertificates(der: Uint8Array): Cert[] {
  const sd = parseSignedData(der);
  return Array.from(sd.certificates ?? []).flatMap((c) =>
    c.certificate ? [parseCert(new Uint8Array(AsnConvert.serialize(c.certificate)))] : [],
  );
}

/** The outcome of verifying a SignedData. */
export interface VerifiedCms {
  readonly contentType: string;
  readonly content: Uint8Array;
  readonly signer: Cert;
  readonly certificates: readonly Cert[];
}

function econtent(sd: SignedData): Uint8Array {
  const ec = sd.encapContentInfo.eContent;
  if (ec?.single !== undefined) return new Uint8Array(ec.single.buffer);
  if (ec?.any !== undefined) {
    // BER constructed OCTET STRING (what streaming signers emit): join the primitive pieces.
    const parsed = asn1js.fromBER(ec.any);
    const os = parsed.result as asn1js.OctetString;
    return new Uint8Array(os.getValue());
  }
  throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'SignedData has no encapsulated content');
}

/**
 * Verifies the one signature of a SignedData (signed attributes, message digest, content type) with the
 * signer certificate found in it (or `signerHint`). Trust in that certificate is the caller's job.
 * Throws ERR_SZTP_CMS_MALFORMED, ERR_SZTP_CMS_UNSUPPORTED, ERR_SZTP_SIGNATURE_INVALID.
 */
export function verifyCms(der: Uint8Array, signerHint: readonly Cert[] = []): VerifiedCms {
  const sd = parseSignedData(der);
  const certs = Array.from(sd.certificates ?? []).flatMap((c) =>
    c.certificate ? [parseCert(new Uint8Array(AsnConvert.serialize(c.certificate)))] : [],
  );
  const si = sd.signerInfos[0];
  if (si === undefined || sd.signerInfos.length !== 1)
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'SignedData must have exactly one signer');
  const content = econtent(sd);
  const signer = findSigner(si, [...certs, ...signerHint]);
  const hash = OID_HASH[si.digestAlgorithm.algorithm];
  if (hash === undefined)
    throw new ValidationError(
      'ERR_SZTP_CMS_UNSUPPORTED',
      `unsupported digest ${si.digestAlgorithm.algorithm}`,
    );
  let signed: Uint8Array = content;
  if (si.signedAttrs !== undefined) {
    const get = (oid: string) => si.signedAttrs?.find((a) => a.attrType === oid)?.attrValues[0];
    const md = get('1.2.840.113549.1.9.4');
    const ct = get('1.2.840.113549.1.9.3');
    if (md === undefined || ct === undefined)
      throw new ValidationError(
        'ERR_SZTP_CMS_MALFORMED',
        'signed attributes lack message-digest or content-type',
      );
    const mdValue = new Uint8Array((asn1js.fromBER(md).result as asn1js.OctetString).getValue());
    const ctValue = (asn1js.fromBER(ct).result as asn1js.ObjectIdentifier).getValue();
    if (ctValue !== sd.encapContentInfo.eContentType)
      throw new ValidationError('ERR_SZTP_SIGNATURE_INVALID', 'content-type attribute does not match');
    if (!bytesEqual(mdValue, createHash(hash).update(content).digest()))
      throw new ValidationError('ERR_SZTP_SIGNATURE_INVALID', 'message digest does not match the content');
    const raw = rawSignedAttrs(der);
    if (raw === undefined)
      throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'signed attributes not retained');
    signed = new Uint8Array(raw);
    signed[0] = 0x31;
  }
  const sigAlg = si.signatureAlgorithm.algorithm;
  const nodeHash = sigAlg === '1.3.101.112' ? null : hash;
  let ok: boolean;
  try {
    ok = nodeVerify(
      nodeHash,
      signed,
      { key: publicKeyOf(signer), dsaEncoding: 'der' },
      new Uint8Array(si.signature.buffer),
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new ValidationError('ERR_SZTP_SIGNATURE_INVALID', 'CMS signature does not verify');
  return { contentType: sd.encapContentInfo.eContentType, content, signer, certificates: certs };
}

// The signature covers the signed attributes exactly as sent, so take their bytes from the BER tree.
function rawSignedAttrs(der: Uint8Array): Uint8Array | undefined {
  const ci = asn1js.fromBER(der).result as asn1js.Sequence;
  const wrapper = ci.valueBlock.value[1] as asn1js.Constructed | undefined;
  const sd = wrapper?.valueBlock.value[0] as asn1js.Sequence | undefined;
  const infos = sd?.valueBlock.value.at(-1) as asn1js.Set | undefined;
  const si = infos?.valueBlock.value[0] as asn1js.Sequence | undefined;
  const attrs = si?.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
  if (attrs === undefined) return undefined;
  return new Uint8Array(attrs.valueBeforeDecodeView);
}

function findSigner(si: SignerInfo, certs: readonly Cert[]): Cert {
  const ias = si.sid.issuerAndSerialNumber;
  const found = certs.find((c) => {
    if (ias !== undefined) {
      return (
        bytesEqual(c.issuerDer, new Uint8Array(AsnConvert.serialize(ias.issuer))) &&
        bytesEqual(c.serial, new Uint8Array(ias.serialNumber))
      );
    }
    const ski = si.sid.subjectKeyIdentifier;
    const ext = c.asn.tbsCertificate.extensions?.find((e) => e.extnID === '2.5.29.14');
    if (ski === undefined || ext === undefined) return false;
    const value = new Uint8Array(
      (asn1js.fromBER(ext.extnValue.buffer).result as asn1js.OctetString).getValue(),
    );
    return bytesEqual(value, new Uint8Array(ski.buffer));
  });
  if (found === undefined)
    throw new ValidationError('ERR_SZTP_SIGNATURE_INVALID', 'signer certificate not present');
  return found;
}
