import pkcs11js from 'pkcs11js';
import type { Handle } from './pkcs11-session.ts';
import { hashLength, type HashAlgorithm, type KeyAlgorithm, type SignOptions } from './types.ts';

/** PKCS#11 3.0 pure EdDSA signing (not exported by pkcs11js). */
export const CKM_EDDSA = 0x1057;

/** What goes to C_SignInit/C_Sign for one signature. */
export interface SignPlan {
  readonly mechanism: pkcs11js.Mechanism;
  readonly input: Buffer;
  /** Output buffer size: the largest signature the mechanism can return. */
  readonly maxLength: number;
}

const DIGEST_INFO_PREFIX: Record<HashAlgorithm, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};
const PSS_HASH: Record<HashAlgorithm, { hashAlg: number; mgf: number }> = {
  sha256: { hashAlg: pkcs11js.CKM_SHA256, mgf: pkcs11js.CKG_MGF1_SHA256 },
  sha384: { hashAlg: pkcs11js.CKM_SHA384, mgf: pkcs11js.CKG_MGF1_SHA384 },
  sha512: { hashAlg: pkcs11js.CKM_SHA512, mgf: pkcs11js.CKG_MGF1_SHA512 },
};

/** ECDSA field size in bytes (raw r and s each have this length). */
export function ecdsaSize(algorithm: KeyAlgorithm): number {
  return algorithm === 'ecdsa-p384' ? 48 : 32;
}

/**
 * The raw mechanisms over a precomputed digest, so only the digest reaches the token: CKM_ECDSA
 * (SoftHSM has no CKM_ECDSA_SHA*), CKM_RSA_PKCS over DigestInfo, CKM_RSA_PKCS_PSS over the digest.
 */
export function digestSignPlan(
  algorithm: KeyAlgorithm,
  digest: Buffer,
  o: SignOptions & { hash: HashAlgorithm },
): SignPlan {
  if (algorithm === 'ecdsa-p256' || algorithm === 'ecdsa-p384') {
    return {
      mechanism: { mechanism: pkcs11js.CKM_ECDSA },
      input: digest,
      maxLength: 2 * ecdsaSize(algorithm),
    };
  }
  if (o.rsaPadding === 'pss') {
    const parameter = {
      type: pkcs11js.CK_PARAMS_RSA_PSS,
      ...PSS_HASH[o.hash],
      saltLen: o.pssSaltLength ?? hashLength(o.hash),
    };
    return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS_PSS, parameter }, input: digest, maxLength: 512 };
  }
  const digestInfo = Buffer.concat([Buffer.from(DIGEST_INFO_PREFIX[o.hash], 'hex'), digest]);
  return { mechanism: { mechanism: pkcs11js.CKM_RSA_PKCS }, input: digestInfo, maxLength: 512 };
}

/** Objects in the token with this CKA_ID (and class, when given). */
export function findObjects(lib: pkcs11js.PKCS11, session: Handle, ckaId: Buffer, cls?: number): Handle[] {
  const template: pkcs11js.Template = [{ type: pkcs11js.CKA_ID, value: ckaId }];
  if (cls !== undefined) template.push({ type: pkcs11js.CKA_CLASS, value: cls });
  lib.C_FindObjectsInit(session, template);
  try {
    return lib.C_FindObjects(session, 16);
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

/** Destroys objects, ignoring failures: used while already handling another error. */
export function destroyQuietly(lib: pkcs11js.PKCS11, session: Handle, handles: Handle[]): void {
  for (const h of handles) {
    try {
      lib.C_DestroyObject(session, h);
    } catch {
      // Already failing; the original error matters more.
    }
  }
}
