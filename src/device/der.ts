/**
 * The few DER structures a device builds and checks itself (its CSR, the leaf key of a stored
 * certificate, its key encodings), written directly: a chip does not carry a schema library, and on
 * the simulated line the schema libraries cost a millisecond or more per device.
 */
import { concatBytes } from '../core/encoding.ts';

/** One element: where it starts, where its content starts, where it ends (exclusive). */
export interface DerElement {
  readonly tag: number;
  readonly start: number;
  readonly body: number;
  readonly end: number;
}

/**
 * The element at `at` (inside `limit`), with tag `tag` when given. Definite, minimal lengths only.
 * Throws RangeError on anything else (callers map it to their own error code).
 */
export function derAt(b: Uint8Array, at: number, tag?: number, limit = b.length): DerElement {
  const t = b[at];
  if (t === undefined || at + 2 > limit) throw new RangeError('truncated DER');
  if (tag !== undefined && t !== tag) throw new RangeError('unexpected DER tag');
  if ((t & 0x1f) === 0x1f) throw new RangeError('multi-byte DER tags are not used here');
  let len = b[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || body + n > limit) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[body + i]!;
    if (len < 0x80 || (n > 1 && b[body] === 0)) throw new RangeError('non-minimal DER length');
    body += n;
  }
  if (body + len > limit) throw new RangeError('truncated DER');
  return { tag: t, start: at, body, end: body + len };
}

/** Tag + length + content. */
export function derTlv(tag: number, ...content: readonly Uint8Array[]): Uint8Array {
  const body = content.length === 1 ? content[0]! : concatBytes(...content);
  const n = body.length;
  const len =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  out.set(body, 1 + len.length);
  return out;
}

/** A SEQUENCE of already encoded elements. */
export function derSeq(...items: readonly Uint8Array[]): Uint8Array {
  return derTlv(0x30, ...items);
}

/**
 * The SubjectPublicKeyInfo of an X.509 certificate (whole TLV, a view into `cert`), after checking the
 * certificate's outer shape: SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE, BIT STRING }
 * filling `cert` exactly. Throws RangeError.
 */
export function certificateSpki(cert: Uint8Array): Uint8Array {
  const outer = derAt(cert, 0, 0x30);
  if (outer.end !== cert.length) throw new RangeError('trailing bytes after the certificate');
  const tbs = derAt(cert, outer.body, 0x30, outer.end);
  const alg = derAt(cert, tbs.end, 0x30, outer.end);
  const sig = derAt(cert, alg.end, 0x03, outer.end);
  if (sig.end !== outer.end) throw new RangeError('extra fields in the certificate');
  let at = tbs.body;
  if (cert[at] === 0xa0) at = derAt(cert, at, 0xa0, tbs.end).end; // [0] version
  const serial = derAt(cert, at, 0x02, tbs.end);
  const sigAlg = derAt(cert, serial.end, 0x30, tbs.end);
  const issuer = derAt(cert, sigAlg.end, 0x30, tbs.end);
  const validity = derAt(cert, issuer.end, 0x30, tbs.end);
  const subject = derAt(cert, validity.end, 0x30, tbs.end);
  const spki = derAt(cert, subject.end, 0x30, tbs.end);
  return cert.subarray(spki.start, spki.end);
}
