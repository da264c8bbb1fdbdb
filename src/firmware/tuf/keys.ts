import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { fromHex, toHex } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import type { KeyInfo, KeyStore } from '../../keys/types.ts';
import { canonicalBytes, canonicalJson } from './canonical.ts';
import type { RoleKeys, TufKey, TufSignature } from './types.ts';

/** The TUF form of a KeyStore key and its key id. Throws ERR_TUF_KEY_UNSUPPORTED. */
export function tufKeyOf(info: KeyInfo): { keyid: string; key: TufKey } {
  const pub = createPublicKey({ key: Buffer.from(info.publicKeyDer), format: 'der', type: 'spki' });
  let key: TufKey;
  if (info.algorithm === 'ed25519') {
    const raw = info.publicKeyDer.subarray(info.publicKeyDer.length - 32);
    key = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: toHex(raw) } };
  } else if (info.algorithm === 'ecdsa-p256') {
    key = {
      keytype: 'ecdsa',
      scheme: 'ecdsa-sha2-nistp256',
      keyval: { public: pub.export({ format: 'pem', type: 'spki' }).toString() },
    };
  } else {
    throw new ValidationError('ERR_TUF_KEY_UNSUPPORTED', 'TUF keys must be ed25519 or ecdsa-p256');
  }
  return { keyid: keyIdOf(key), key };
}

/** The key id: hex SHA-256 of the key's canonical JSON. */
export function keyIdOf(key: TufKey): string {
  return createHash('sha256').update(canonicalJson(key)).digest('hex');
}

/** Signs the canonical form of `signed` with each KeyStore key. */
export async function signWith(
  keys: KeyStore,
  keyIds: readonly string[],
  signed: unknown,
): Promise<TufSignature[]> {
  const data = canonicalBytes(signed);
  const out: TufSignature[] = [];
  for (const id of keyIds) {
    const info = await keys.get(id);
    const sig =
      info.algorithm === 'ed25519'
        ? await keys.sign(id, data)
        : await keys.sign(id, data, { hash: 'sha256', ecdsaFormat: 'der' });
    out.push({ keyid: tufKeyOf(info).keyid, sig: toHex(sig) });
  }
  return out;
}

function publicKeyOf(key: TufKey): KeyObject {
  if (key.keytype === 'ed25519') {
    const raw = fromHex(key.keyval.public);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  }
  return createPublicKey(key.keyval.public);
}

/** How many distinct authorised keys validly signed `signed`, and which signatures came from unauthorised keys. */
export function countValidSignatures(
  signed: unknown,
  signatures: readonly TufSignature[],
  keys: Readonly<Record<string, TufKey>>,
  role: RoleKeys,
): { valid: number; unauthorised: number } {
  const data = canonicalBytes(signed);
  const seen = new Set<string>();
  let unauthorised = 0;
  for (const s of signatures) {
    const key = keys[s.keyid];
    if (!role.keyids.includes(s.keyid) || key === undefined) {
      unauthorised++;
      continue;
    }
    if (seen.has(s.keyid) || keyIdOf(key) !== s.keyid) continue;
    try {
      if (nodeVerify(key.keytype === 'ed25519' ? null : 'sha256', data, publicKeyOf(key), fromHex(s.sig)))
        seen.add(s.keyid);
    } catch {
      // malformed key or signature: not counted
    }
  }
  return { valid: seen.size, unauthorised };
}
