import { createHash, randomBytes } from 'node:crypto';
import { ValidationError } from '../core/errors.ts';
import { hashLength, type HashAlgorithm } from './types.ts';

/** EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of an already computed digest, MGF1 with the same hash. */
export function pssEncode(
  mHash: Uint8Array,
  hash: HashAlgorithm,
  saltLength: number,
  emBits: number,
): Buffer {
  const hLen = hashLength(hash);
  const emLen = Math.ceil(emBits / 8);
  if (mHash.length !== hLen || emLen < hLen + saltLength + 2) {
    throw new ValidationError('ERR_KEY_BAD_DIGEST', 'digest does not fit the RSA-PSS encoding');
  }
  const salt = randomBytes(saltLength);
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  salt.copy(db, db.length - saltLength);
  const mask = mgf1(h, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >>> (8 * emLen - emBits));
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  // RSA_NO_PADDING needs the input as long as the modulus.
  return em.length < Math.ceil((emBits + 1) / 8) ? Buffer.concat([Buffer.alloc(1), em]) : em;
}

function mgf1(seed: Buffer, length: number, hash: HashAlgorithm): Buffer {
  const out: Buffer[] = [];
  for (let counter = 0; out.length * hashLength(hash) < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}
