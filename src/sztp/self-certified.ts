/**
 * A key generated in the key store with a self-signed certificate: the shortest valid owner chain (the owner
 * certificate is its own pinned-domain-cert, RFC 8366 §5.3) and the shortest MASA chain (the certificate is
 * the devices' voucher trust anchor). Operators with their own PKI register chains instead.
 */
import 'reflect-metadata';
import { KeyUsageFlags } from '@peculiar/asn1-x509';
import { systemRandom } from '../core/random.ts';
import type { KeyStore } from '../keys/types.ts';
import { buildName, keyStoreSigner, randomSerial } from '../pki/asn1.ts';
import { buildCertificate } from '../pki/cert-builder.ts';
import { basicConstraintsExt, keyUsageExt } from '../pki/extensions.ts';

/** The key and its certificate. */
export interface SelfCertifiedKey {
  readonly keyId: string;
  readonly certificate: Uint8Array;
}

/**
 * Generates an ECDSA P-256 key under `label` and certifies it to itself (CN `commonName`, digitalSignature
 * only, valid from one hour ago for `days`). Throws ERR_KEY_LABEL_TAKEN.
 */
export async function selfCertifiedKey(
  keys: KeyStore,
  input: { label: string; commonName: string; organization: string; days: number; now: Date },
): Promise<SelfCertifiedKey> {
  const key = await keys.generate(input.label, 'ecdsa-p256');
  const name = buildName([
    ['CN', input.commonName],
    ['O', input.organization],
  ]);
  const certificate = await buildCertificate({
    signer: keyStoreSigner(keys, key.id, key.algorithm, key.publicKeyDer),
    issuer: name,
    subject: name,
    spki: key.publicKeyDer,
    serial: randomSerial(systemRandom),
    // An hour of slack for devices whose clocks run a little behind the server's.
    notBefore: new Date(input.now.getTime() - 3600_000),
    notAfter: new Date(input.now.getTime() + input.days * 86400_000),
    extensions: [basicConstraintsExt(false), keyUsageExt(KeyUsageFlags.digitalSignature)],
  });
  return { keyId: key.id, certificate };
}
