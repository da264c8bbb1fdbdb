/**
 * The leaf key of a certificate the device stores, read by a DER walk over core/der.ts: a chip does not
 * carry a schema library, and on the simulated line the schema libraries cost a millisecond or more per
 * device.
 */
import { readTlv } from '../core/der.ts';

/**
 * The SubjectPublicKeyInfo of an X.509 certificate (whole TLV, a view into `cert`), after checking the
 * certificate's outer shape: SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE, BIT STRING }
 * filling `cert` exactly. Throws RangeError.
 */
export function certificateSpki(cert: Uint8Array): Uint8Array {
  const outer = readTlv(cert, 0, cert.length, 0x30);
  if (outer.end !== cert.length) throw new RangeError('trailing bytes after the certificate');
  const tbs = readTlv(cert, outer.contentStart, outer.end, 0x30);
  const alg = readTlv(cert, tbs.end, outer.end, 0x30);
  const sig = readTlv(cert, alg.end, outer.end, 0x03);
  if (sig.end !== outer.end) throw new RangeError('extra fields in the certificate');
  let at = tbs.contentStart;
  if (cert[at] === 0xa0) at = readTlv(cert, at, tbs.end, 0xa0).end; // [0] version
  const serial = readTlv(cert, at, tbs.end, 0x02);
  const sigAlg = readTlv(cert, serial.end, tbs.end, 0x30);
  const issuer = readTlv(cert, sigAlg.end, tbs.end, 0x30);
  const validity = readTlv(cert, issuer.end, tbs.end, 0x30);
  const subject = readTlv(cert, validity.end, tbs.end, 0x30);
  const spki = readTlv(cert, subject.end, tbs.end, 0x30);
  return cert.subarray(spki.start, spki.end);
}
