import { seq, tlv } from '../core/der.ts';
import type { SecureElement } from './secure-element.ts';

// AlgorithmIdentifier { ecdsa-with-SHA256 } (no parameters, RFC 5758).
const ECDSA_WITH_SHA256 = Uint8Array.from([
  0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
]);
// INTEGER 0 (version) and the empty [0] attributes of CertificationRequestInfo.
const VERSION_0 = Uint8Array.of(0x02, 0x01, 0x00);
const NO_ATTRIBUTES = Uint8Array.of(0xa0, 0x00);
// id-at-commonName (UTF8String) and id-at-serialNumber (PrintableString, X.520).
const CN = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03);
const SERIAL_NUMBER = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x05);

/**
 * A PKCS#10 CSR for the identity key, signed inside the secure element (the key never leaves it).
 * Subject: CN = serialNumber = the device serial. Encoded directly in DER (as a device's firmware
 * would); the bytes are those the schema library wrote before. Throws ERR_SE_NO_IDENTITY_KEY.
 */
export async function buildIdentityCsr(se: SecureElement, serial: string): Promise<Uint8Array> {
  const spki = await se.identityPublicKey();
  if (spki === undefined) await se.sign(new Uint8Array(0)); // raises ERR_SE_NO_IDENTITY_KEY
  const value = new TextEncoder().encode(serial);
  const subject = seq(tlv(0x31, seq(CN, tlv(0x0c, value))), tlv(0x31, seq(SERIAL_NUMBER, tlv(0x13, value))));
  const info = seq(VERSION_0, subject, spki!, NO_ATTRIBUTES);
  const sig = await se.sign(info);
  return seq(info, ECDSA_WITH_SHA256, tlv(0x03, Uint8Array.of(0), sig));
}
