import { ValidationError } from '../core/errors.ts';

/** Converts a DER ECDSA signature SEQUENCE{r INTEGER, s INTEGER} to raw r‖s of `size` bytes each. */
export function derToRawEcdsa(der: Uint8Array, size: number): Uint8Array {
  let p = 0;
  const fail = (): never => {
    throw new ValidationError('ERR_SIGNATURE_MALFORMED', 'malformed DER ECDSA signature');
  };
  const byte = (): number => der[p++] ?? fail();
  if (byte() !== 0x30) fail();
  let len = byte();
  if (len & 0x80) {
    if (len !== 0x81) fail();
    len = byte();
  }
  if (p + len !== der.length) fail();
  const out = new Uint8Array(size * 2);
  for (let i = 0; i < 2; i++) {
    if (byte() !== 0x02) fail();
    const n = byte();
    if (n === 0 || n > size + 1 || p + n > der.length) fail();
    let v = der.subarray(p, p + n);
    p += n;
    while (v.length > 0 && v[0] === 0) v = v.subarray(1);
    if (v.length > size) fail();
    out.set(v, i * size + (size - v.length));
  }
  if (p !== der.length) fail();
  return out;
}

/** Converts raw r‖s to a DER ECDSA signature. */
export function rawToDerEcdsa(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new ValidationError('ERR_SIGNATURE_MALFORMED', 'raw ECDSA signature has odd length');
  }
  const half = raw.length / 2;
  const int = (v: Uint8Array): number[] => {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0) i++;
    const body = [...v.subarray(i)];
    if ((body[0] ?? 0) & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const body = [...int(raw.subarray(0, half)), ...int(raw.subarray(half))];
  const len = body.length < 0x80 ? [body.length] : [0x81, body.length];
  return new Uint8Array([0x30, ...len, ...body]);
}
