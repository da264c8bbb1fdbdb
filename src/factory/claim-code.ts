import { createHash } from 'node:crypto';
import type { Random } from '../core/random.ts';

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A one-time claim code (20 characters, 100 bits, no look-alike letters) and its SHA-256 hex. */
export function newClaimCode(random: Random): { code: string; hash: string } {
  const bytes = random.bytes(20);
  let code = '';
  for (const b of bytes) code += ALPHABET[b & 31];
  return { code, hash: claimCodeHash(code) };
}

/** SHA-256 hex of a claim code (upper-cased, dashes and spaces ignored). */
export function claimCodeHash(code: string): string {
  return createHash('sha256').update(code.replace(/[-\s]/g, '').toUpperCase()).digest('hex');
}
