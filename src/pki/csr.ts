/** PKCS#10 parsing at the edge: format, proof of possession, key policy, requested extensions. */
import 'reflect-metadata';
import { createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { ValidationError } from '../core/errors.ts';
import { fromPemAll } from '../core/encoding.ts';
import { children, content, oidText, readTlv, whole, type Tlv } from '../core/der.ts';
import { decodeHardwareModuleName, ID_ON_HARDWARE_MODULE_NAME, type SanEntry } from './extensions.ts';
import type { KeyPolicy } from './types.ts';

const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SIG_HASH: Record<string, 'sha256' | 'sha384' | 'sha512' | null> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/** A CSR that passed format, signature and key-policy checks. */
export interface CheckedCsr {
  /** DER SubjectPublicKeyInfo of the requested key. */
  readonly spki: Uint8Array;
  readonly keyType: string;
  readonly subjectCn: string | undefined;
  readonly subjectSerial: string | undefined;
  /** SAN entries requested (the only extension a CSR may ask for). */
  readonly san: readonly SanEntry[];
  /** OIDs of every extension the CSR requested. */
  readonly requestedExtensions: readonly string[];
}

/** Bytes of a CSR given as PEM text, DER bytes or base64 DER. Throws ERR_CSR_MALFORMED. */
export function csrBytes(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') {
    const text = Buffer.from(input).toString('latin1');
    if (text.includes('-----BEGIN')) return csrBytes(text);
    return input;
  }
  const pem = [
    ...fromPemAllSafe(input, 'CERTIFICATE REQUEST'),
    ...fromPemAllSafe(input, 'NEW CERTIFICATE REQUEST'),
  ];
  if (pem.length === 1 && pem[0] !== undefined) return pem[0];
  if (pem.length > 1) throw new ValidationError('ERR_CSR_MALFORMED', 'expected exactly one CSR');
  const b64 = input.trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(b64) && b64.length > 0) return new Uint8Array(Buffer.from(b64, 'base64'));
  throw new ValidationError('ERR_CSR_MALFORMED', 'the CSR is neither PEM nor DER');
}

function fromPemAllSafe(text: string, label: string): Uint8Array[] {
  try {
    return fromPemAll(text, label);
  } catch (cause) {
    throw new ValidationError('ERR_CSR_MALFORMED', 'the CSR PEM is not valid base64', { cause });
  }
}

/**
 * Parses and checks a CSR. Throws ERR_CSR_MALFORMED, ERR_CSR_SIGNATURE_ALGORITHM_UNSUPPORTED,
 * ERR_CSR_BAD_SIGNATURE, ERR_CSR_KEY_UNSUPPORTED, ERR_CSR_KEY_WEAK, ERR_CSR_EXTENSION_NOT_ALLOWED.
 */
export async function checkCsr(input: string | Uint8Array, policy: KeyPolicy): Promise<CheckedCsr> {
  const bytes = csrBytes(input);
  let parsed: ParsedCsr;
  try {
    parsed = parseCsr(bytes);
  } catch (cause) {
    if (cause instanceof ValidationError) throw cause;
    throw new ValidationError('ERR_CSR_MALFORMED', 'the CSR is not a DER PKCS#10 request', { cause });
  }
  let key: KeyObject;
  try {
    key = importPublicKey(parsed.spki);
  } catch (cause) {
    throw new ValidationError('ERR_CSR_KEY_UNSUPPORTED', 'the CSR public key cannot be used', { cause });
  }
  const keyType = checkKeyPolicy(key, policy);
  await verifySignature(parsed, key);
  const san = parsed.extensions
    .filter((e) => e.id === id_ce_subjectAltName)
    .flatMap((e) => parseSan(e.value));
  return {
    spki: Uint8Array.from(parsed.spki),
    keyType,
    subjectCn: parsed.subject.get('2.5.4.3'),
    subjectSerial: parsed.subject.get('2.5.4.5'),
    san,
    requestedExtensions: parsed.extensions.map((e) => e.id),
  };
}

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const JWK_CURVES: Record<string, { crv: 'P-256' | 'P-384'; size: number } | undefined> = {
  '1.2.840.10045.3.1.7': { crv: 'P-256', size: 32 },
  '1.3.132.0.34': { crv: 'P-384', size: 48 },
};

/**
 * The SPKI as a KeyObject. Uncompressed P-256/P-384 points are imported as JWK: that skips OpenSSL 3's
 * generic DER decoder chain, which the issuance profile showed as the largest single cost (about half of
 * it), and OpenSSL still refuses a point that is not on the curve. Everything else takes the DER path.
 */
function importPublicKey(spki: Uint8Array): KeyObject {
  const jwk = ecJwk(spki);
  return jwk === undefined
    ? createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' })
    : createPublicKey({ key: jwk, format: 'jwk' });
}

function ecJwk(spki: Uint8Array): { kty: string; crv: string; x: string; y: string } | undefined {
  const outer = readTlv(spki, 0);
  const [alg, bits, ...rest] = children(spki, outer);
  if (outer.tag !== 0x30 || alg?.tag !== 0x30 || bits?.tag !== 0x03 || rest.length > 0) return undefined;
  const [oid, param, ...more] = children(spki, alg);
  if (oid?.tag !== 0x06 || param?.tag !== 0x06 || more.length > 0) return undefined;
  if (oidText(content(spki, oid)) !== EC_PUBLIC_KEY) return undefined;
  const curve = JWK_CURVES[oidText(content(spki, param))];
  const b = content(spki, bits);
  if (curve === undefined || b.length !== 2 + 2 * curve.size || b[0] !== 0 || b[1] !== 0x04) return undefined;
  const coord = (from: number): string =>
    Buffer.from(b.buffer, b.byteOffset + from, curve.size).toString('base64url');
  return { kty: 'EC', crv: curve.crv, x: coord(2), y: coord(2 + curve.size) };
}

interface ParsedCsr {
  readonly info: Uint8Array;
  readonly sigAlg: string;
  readonly signature: Uint8Array;
  readonly spki: Uint8Array;
  readonly subject: Map<string, string>;
  readonly extensions: { id: string; value: Uint8Array }[];
}

/** Walks CertificationRequest ::= SEQUENCE { info, algorithm, BIT STRING } with the strict DER reader. */
function parseCsr(b: Uint8Array): ParsedCsr {
  const outer = readTlv(b, 0);
  if (outer.tag !== 0x30 || outer.end !== b.length) throw new RangeError('not one DER SEQUENCE');
  const [info, alg, sig, ...rest] = children(b, outer);
  if (info?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03 || rest.length > 0)
    throw new RangeError('bad CSR');
  const algOid = children(b, alg)[0];
  if (algOid?.tag !== 0x06) throw new RangeError('bad algorithm');
  const [version, subject, spki, attrs, ...more] = children(b, info);
  if (version?.tag !== 0x02 || subject?.tag !== 0x30 || spki?.tag !== 0x30 || more.length > 0)
    throw new RangeError('bad CSR info');
  if (attrs !== undefined && attrs.tag !== 0xa0) throw new RangeError('bad CSR attributes');
  const sigBits = content(b, sig);
  if (sigBits[0] !== 0) throw new RangeError('signature has unused bits');
  return {
    info: whole(b, info),
    sigAlg: oidText(content(b, algOid)),
    signature: sigBits.subarray(1),
    spki: whole(b, spki),
    subject: subjectAttributes(b, subject),
    extensions: attrs === undefined ? [] : extensionRequest(b, attrs),
  };
}

function subjectAttributes(b: Uint8Array, name: Tlv): Map<string, string> {
  const out = new Map<string, string>();
  for (const rdn of children(b, name)) {
    if (rdn.tag !== 0x31) throw new RangeError('bad RDN');
    for (const atv of children(b, rdn)) {
      const [type, value] = children(b, atv);
      if (atv.tag !== 0x30 || type?.tag !== 0x06 || value === undefined)
        throw new RangeError('bad attribute');
      const v = content(b, value);
      const text =
        value.tag === 0x1e
          ? Buffer.from(v).swap16().toString('utf16le')
          : new TextDecoder('utf-8', { fatal: true }).decode(v);
      out.set(oidText(content(b, type)), text);
    }
  }
  return out;
}

function extensionRequest(b: Uint8Array, attrs: Tlv): { id: string; value: Uint8Array }[] {
  const out: { id: string; value: Uint8Array }[] = [];
  for (const attr of children(b, attrs)) {
    const [type, values] = children(b, attr);
    if (attr.tag !== 0x30 || type?.tag !== 0x06 || values?.tag !== 0x31)
      throw new RangeError('bad attribute');
    if (oidText(content(b, type)) !== EXTENSION_REQUEST) continue;
    for (const exts of children(b, values)) {
      if (exts.tag !== 0x30) throw new RangeError('bad extension request');
      for (const ext of children(b, exts)) {
        const parts = children(b, ext);
        const id = parts[0];
        const value = parts[parts.length - 1];
        if (ext.tag !== 0x30 || id?.tag !== 0x06 || value?.tag !== 0x04 || parts.length > 3)
          throw new RangeError('bad extension');
        out.push({ id: oidText(content(b, id)), value: Uint8Array.from(content(b, value)) });
      }
    }
  }
  return out;
}

/**
 * Proof of possession. The callback form of crypto.verify runs on libuv's thread pool, so under load the
 * verifications of concurrent requests use the other cores while this thread assembles certificates.
 */
async function verifySignature(csr: ParsedCsr, key: KeyObject): Promise<void> {
  const hash = SIG_HASH[csr.sigAlg];
  if (hash === undefined) {
    throw new ValidationError(
      'ERR_CSR_SIGNATURE_ALGORITHM_UNSUPPORTED',
      `CSR signature algorithm ${csr.sigAlg} is not accepted`,
    );
  }
  const ok = await new Promise<boolean>((resolve) => {
    try {
      nodeVerify(hash, csr.info, key, csr.signature, (err, valid) => resolve(err === null && valid));
    } catch {
      resolve(false);
    }
  });
  if (!ok)
    throw new ValidationError(
      'ERR_CSR_BAD_SIGNATURE',
      'the CSR signature does not verify (no proof of possession)',
    );
}

/** Returns a short key type (e.g. `ecdsa-p256`, `rsa-3072`). Throws ERR_CSR_KEY_UNSUPPORTED, ERR_CSR_KEY_WEAK. */
export function checkKeyPolicy(key: KeyObject, policy: KeyPolicy): string {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve =
        d.namedCurve === 'prime256v1' ? 'P-256' : d.namedCurve === 'secp384r1' ? 'P-384' : undefined;
      if (curve === undefined || !policy.allowEcdsa.includes(curve)) {
        throw new ValidationError(
          'ERR_CSR_KEY_UNSUPPORTED',
          `EC curve ${d.namedCurve ?? '?'} is not accepted`,
        );
      }
      return curve === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384';
    }
    case 'ed25519':
      if (!policy.allowEd25519)
        throw new ValidationError('ERR_CSR_KEY_UNSUPPORTED', 'Ed25519 keys are not accepted');
      return 'ed25519';
    case 'rsa': {
      const bits = d.modulusLength ?? 0;
      if (policy.rsaMinBits === 0)
        throw new ValidationError('ERR_CSR_KEY_UNSUPPORTED', 'RSA keys are not accepted');
      if (bits < policy.rsaMinBits || bits > 8192) {
        throw new ValidationError(
          'ERR_CSR_KEY_WEAK',
          `RSA-${bits} is outside the accepted ${policy.rsaMinBits}-8192 bits`,
        );
      }
      if (d.publicExponent !== 65537n) {
        throw new ValidationError('ERR_CSR_KEY_WEAK', 'RSA public exponent must be 65537');
      }
      return `rsa-${bits}`;
    }
    default:
      throw new ValidationError(
        'ERR_CSR_KEY_UNSUPPORTED',
        `${key.asymmetricKeyType ?? 'unknown'} keys are not accepted`,
      );
  }
}

function parseSan(value: Uint8Array): SanEntry[] {
  let names: SubjectAlternativeName;
  try {
    names = AsnConvert.parse(value, SubjectAlternativeName);
  } catch (cause) {
    throw new ValidationError('ERR_CSR_MALFORMED', 'the requested subjectAltName is malformed', { cause });
  }
  return names.map((n): SanEntry => {
    if (n.dNSName !== undefined) return { type: 'dns', value: n.dNSName };
    if (n.iPAddress !== undefined) return { type: 'ip', value: n.iPAddress };
    if (n.rfc822Name !== undefined) return { type: 'email', value: n.rfc822Name };
    if (n.uniformResourceIdentifier !== undefined) return { type: 'uri', value: n.uniformResourceIdentifier };
    if (n.otherName?.typeId === ID_ON_HARDWARE_MODULE_NAME) {
      const hmn = decodeHardwareModuleName(n.otherName.value);
      if (hmn !== undefined) return { type: 'hmn', ...hmn };
    }
    throw new ValidationError(
      'ERR_CSR_EXTENSION_NOT_ALLOWED',
      'the requested subjectAltName has an unsupported name form',
    );
  });
}
