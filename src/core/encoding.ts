/** Small byte helpers shared by every feature. */

/** Lower-case hex of `b`. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Bytes from hex; throws TypeError on odd length or bad digits (callers map it to their error). */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new TypeError('not a hex string');
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Standard base64 of `b`. */
export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** base64url without padding of `b`. */
export function toBase64Url(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
}

/** Strict standard base64 decode; throws TypeError on characters outside the alphabet. */
export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) throw new TypeError('not base64');
  return new Uint8Array(Buffer.from(clean, 'base64'));
}

/** base64url decode (padding optional). */
export function fromBase64Url(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(s)) throw new TypeError('not base64url');
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/** Concatenation of byte arrays. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Byte-wise equality (not constant time; use crypto.timingSafeEqual for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Overwrites a secret buffer with zeros. */
export function wipe(b: Uint8Array | undefined): void {
  b?.fill(0);
}

/** PEM armour of DER bytes with the given label. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = toBase64(der)
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block with the given label, decoded; empty when there is none. */
export function fromPemAll(pem: string, label: string): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...pem.matchAll(re)].map((m) => fromBase64(m[1] ?? ''));
}
