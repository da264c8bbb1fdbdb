/**
 * The signer issuance uses for a CA key. With a key store that offers signing handles (software keys) the
 * handle is kept for a minute, so a signature neither reads nor decrypts the key row and runs on libuv's
 * thread pool; otherwise (PKCS#11) every signature goes through KeyStore.sign as before. A kept handle does
 * not see the key being destroyed by another process; issuance therefore releases a certificate only when
 * its commit transaction finds the CA still active with that key (issue-commit.ts), and a CA key is only
 * destroyed after its CA row was taken offline.
 */
import { ConflictError } from '../core/errors.ts';
import { defaultHash } from '../keys/types.ts';
import { keyStoreSigner, type Signer } from './asn1.ts';
import { memo, type PkiContext } from './context.ts';
import type { CaRecord } from './types.ts';

/** How long a signing handle is reused before the key is resolved again. */
const HANDLE_TTL_MS = 60_000;

/** The signer for an active CA's key. Throws ERR_CA_OFFLINE, ERR_KEY_NOT_FOUND. */
export async function issuanceSigner(ctx: PkiContext, ca: CaRecord): Promise<Signer> {
  if (ca.keyId === null || ca.state !== 'active') {
    throw new ConflictError('ERR_CA_OFFLINE', `CA ${ca.name} has no online key`);
  }
  const keyId = ca.keyId;
  return memo(ctx, `signer:${keyId}`, HANDLE_TTL_MS, async (): Promise<Signer> => {
    const info = await ctx.keys.get(keyId);
    if (ctx.keys.signingHandle === undefined)
      return keyStoreSigner(ctx.keys, info.id, info.algorithm, info.publicKeyDer);
    const handle = await ctx.keys.signingHandle(keyId);
    const hash = defaultHash(info.algorithm);
    return {
      algorithm: info.algorithm,
      spki: info.publicKeyDer,
      sign: (tbs) => handle.sign(tbs, { hash, ecdsaFormat: 'der', rsaPadding: 'pkcs1' }),
    };
  });
}
