/** RFC 9646 on the device: a PKCS#10 CSR for the LDevID, signed with the device's key. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import type { CsrRequest } from '../../sztp/types.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/**
 * A `make` function for PreconfiguredState.csr over a software P-256 key: CN and serialNumber from the
 * device serial. The server's selected algorithm is ignored: the device certifies the key it holds.
 */
export function softwareCsrMaker(
  serial: string,
  key: KeyObject,
): (request: CsrRequest) => Promise<Uint8Array> {
  return async () => {
    const subtle = webcrypto.subtle;
    const alg = { name: 'ECDSA', namedCurve: 'P-256' };
    const privateKey = await subtle.importKey(
      'pkcs8',
      key.export({ type: 'pkcs8', format: 'der' }),
      alg,
      true,
      ['sign'],
    );
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    const publicKey = await subtle.importKey('spki', spki, alg, true, ['verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${serial}, 2.5.4.5=${serial}`,
      keys: { privateKey, publicKey },
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    return new Uint8Array(csr.rawData);
  };
}
