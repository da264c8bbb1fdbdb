/** Compact JWS (RFC 7515) with ES256/ES384 and an x5c chain: just what manifests need. */
import { X509Certificate, verify as nodeVerify } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from '../core/encoding.ts';
import type { KeyStore } from '../keys/types.ts';

/** A parsed, signature-checked JWS. */
export interface VerifiedJws {
  readonly header: { alg: string; typ?: string; x5c: string[] };
  readonly payload: unknown;
  /** The x5c chain, DER, leaf (the signer) first. */
  readonly chain: Uint8Array[];
}

/**
 * Signs `payload` (JSON) as a compact JWS with a key-store key (raw r‖s, RFC 7518 §3.4), carrying the
 * signer's certificate chain in x5c. Throws ERR_KEY_NOT_FOUND, ERR_KEY_SIGN_FAILED, ERR_MANIFEST_KEY_UNSUPPORTED.
 */
export async function signJws(
  keys: KeyStore,
  keyId: string,
  chain: readonly Uint8Array[],
  typ: string,
  payload: unknown,
): Promise<string> {
  const key = await keys.get(keyId);
  const alg = key.algorithm === 'ecdsa-p256' ? 'ES256' : key.algorithm === 'ecdsa-p384' ? 'ES384' : undefined;
  if (alg === undefined)
    throw new ValidationError(
      'ERR_MANIFEST_KEY_UNSUPPORTED',
      `manifests are signed with ECDSA keys, not ${key.algorithm}`,
    );
  const header = { alg, typ, x5c: chain.map(toBase64) };
  const input = `${b64json(header)}.${b64json(payload)}`;
  const sig = await keys.sign(keyId, new TextEncoder().encode(input), {
    hash: alg === 'ES256' ? 'sha256' : 'sha384',
    ecdsaFormat: 'raw',
  });
  return `${input}.${toBase64Url(sig)}`;
}

/**
 * Parses a compact JWS, checks its x5c chain links and its signature by x5c[0].
 * Throws ERR_MANIFEST_MALFORMED, ERR_MANIFEST_SIGNATURE.
 */
export function verifyJws(jws: string, typ: string): VerifiedJws {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) throw malformed('not a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  let header: VerifiedJws['header'];
  let payload: unknown;
  let chain: Uint8Array[];
  let sig: Uint8Array;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(h)),
    ) as VerifiedJws['header'];
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(p)));
    if (!Array.isArray(header.x5c) || header.x5c.length === 0) throw new Error('x5c');
    chain = header.x5c.map((c) => fromBase64(c));
    sig = fromBase64Url(s);
  } catch (cause) {
    throw malformed('header, payload or x5c cannot be decoded', cause);
  }
  if (header.typ !== typ) throw malformed(`typ must be ${typ}`);
  const hash = header.alg === 'ES256' ? 'sha256' : header.alg === 'ES384' ? 'sha384' : undefined;
  if (hash === undefined) throw malformed(`unsupported alg ${String(header.alg)}`);
  let certs: X509Certificate[];
  try {
    certs = chain.map((c) => new X509Certificate(c));
  } catch (cause) {
    throw malformed('x5c holds an unreadable certificate', cause);
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.checkIssued(certs[i + 1]!) || !certs[i]!.verify(certs[i + 1]!.publicKey)) {
      throw new ValidationError('ERR_MANIFEST_SIGNATURE', 'the x5c chain does not link');
    }
  }
  let ok: boolean;
  try {
    ok = nodeVerify(
      hash,
      new TextEncoder().encode(`${h}.${p}`),
      { key: certs[0]!.publicKey, dsaEncoding: 'ieee-p1363' },
      sig,
    );
  } catch {
    ok = false;
  }
  if (!ok) throw new ValidationError('ERR_MANIFEST_SIGNATURE', 'the JWS signature does not verify');
  return { header, payload, chain };
}

/**
 * True when the chain's last certificate is one of the anchors or was issued (and signed) by one.
 */
export function chainsTo(chain: readonly Uint8Array[], anchors: readonly Uint8Array[]): boolean {
  const top = new X509Certificate(chain[chain.length - 1]!);
  return anchors.some((a) => {
    const anchor = new X509Certificate(a);
    return (
      top.fingerprint256 === anchor.fingerprint256 ||
      (top.checkIssued(anchor) && top.verify(anchor.publicKey))
    );
  });
}

function b64json(v: unknown): string {
  return toBase64Url(new TextEncoder().encode(JSON.stringify(v)));
}

function malformed(why: string, cause?: unknown): ValidationError {
  return new ValidationError(
    'ERR_MANIFEST_MALFORMED',
    `malformed manifest: ${why}`,
    cause === undefined ? {} : { cause },
  );
}
