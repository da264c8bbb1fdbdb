import { createPublicKey, type JsonWebKey } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { InternalError } from '../core/errors.ts';
import type { KeyAlgorithm } from './types.ts';

/** PKCS#11 3.0 Ed25519 key-pair generation (not exported by pkcs11js). */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;

const EC_PARAMS: Record<'ecdsa-p256' | 'ecdsa-p384' | 'ed25519', string> = {
  'ecdsa-p256': '06082a8648ce3d030107',
  'ecdsa-p384': '06052b81040022',
  ed25519: '06032b6570',
};

/** The key-pair generation mechanism and templates for `algorithm`: private half sensitive and never extractable. */
export function keyPairTemplates(
  algorithm: KeyAlgorithm,
  label: string,
  ckaId: Buffer,
): { mechanism: pkcs11js.Mechanism; publicKey: pkcs11js.Template; privateKey: pkcs11js.Template } {
  const common = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: ckaId },
  ];
  const privateKey: pkcs11js.Template = [
    ...common,
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
    { type: pkcs11js.CKA_SIGN, value: true },
  ];
  const publicKey: pkcs11js.Template = [
    ...common,
    { type: pkcs11js.CKA_PRIVATE, value: false },
    { type: pkcs11js.CKA_VERIFY, value: true },
  ];
  if (algorithm === 'rsa-3072' || algorithm === 'rsa-4096') {
    publicKey.push(
      { type: pkcs11js.CKA_MODULUS_BITS, value: algorithm === 'rsa-3072' ? 3072 : 4096 },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    );
    return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, publicKey, privateKey };
  }
  publicKey.push({ type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(EC_PARAMS[algorithm], 'hex') });
  const mechanism = algorithm === 'ed25519' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_EC_KEY_PAIR_GEN;
  return { mechanism: { mechanism }, publicKey, privateKey };
}

/** The attributes to read from a public-key object to rebuild its SubjectPublicKeyInfo. */
export function publicAttributeTypes(algorithm: KeyAlgorithm): number[] {
  return algorithm.startsWith('rsa')
    ? [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT]
    : [pkcs11js.CKA_EC_POINT];
}

/**
 * DER SubjectPublicKeyInfo from a token's public-key attributes (CKA_EC_POINT, or CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT). Throws ERR_PKCS11_BAD_PUBLIC_KEY when the token returns something unexpected.
 */
export function spkiFromAttributes(
  algorithm: KeyAlgorithm,
  attrs: readonly pkcs11js.AttributeResult[],
): Uint8Array {
  const value = (type: number): Buffer => {
    const a = attrs.find((x) => x.type === type);
    if (a === undefined) throw bad(algorithm);
    return a.value;
  };
  let jwk: JsonWebKey;
  if (algorithm === 'rsa-3072' || algorithm === 'rsa-4096') {
    jwk = {
      kty: 'RSA',
      n: b64u(stripZeros(value(pkcs11js.CKA_MODULUS))),
      e: b64u(stripZeros(value(pkcs11js.CKA_PUBLIC_EXPONENT))),
    };
  } else if (algorithm === 'ed25519') {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64u(unwrapPoint(value(pkcs11js.CKA_EC_POINT), 32, algorithm)) };
  } else {
    const size = algorithm === 'ecdsa-p384' ? 48 : 32;
    const point = unwrapPoint(value(pkcs11js.CKA_EC_POINT), 1 + 2 * size, algorithm);
    if (point[0] !== 0x04) throw bad(algorithm);
    jwk = {
      kty: 'EC',
      crv: algorithm === 'ecdsa-p384' ? 'P-384' : 'P-256',
      x: b64u(point.subarray(1, 1 + size)),
      y: b64u(point.subarray(1 + size)),
    };
  }
  try {
    return new Uint8Array(
      createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }),
    );
  } catch (cause) {
    throw new InternalError(
      'ERR_PKCS11_BAD_PUBLIC_KEY',
      `the token returned an invalid ${algorithm} public key`,
      {
        cause,
      },
    );
  }
}

// CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 2.40); some tokens return it bare.
function unwrapPoint(v: Buffer, length: number, algorithm: KeyAlgorithm): Buffer {
  if (v.length === length) return v;
  const header = length < 0x80 ? [0x04, length] : [0x04, 0x81, length];
  if (v.length === length + header.length && header.every((b, i) => v[i] === b))
    return v.subarray(header.length);
  throw bad(algorithm);
}

function stripZeros(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return v.subarray(i);
}

function b64u(v: Buffer): string {
  return v.toString('base64url');
}

function bad(algorithm: KeyAlgorithm): InternalError {
  return new InternalError(
    'ERR_PKCS11_BAD_PUBLIC_KEY',
    `the token returned an unexpected ${algorithm} public key`,
  );
}
