/** Test PKI for SZTP tests: CAs and leaf certificates made with @peculiar/x509 over Node keys. */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, webcrypto, type KeyObject } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
const subtle = webcrypto.subtle;

export interface TestCert {
  readonly der: Uint8Array;
  readonly key: KeyObject;
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
}

export type TestAlg = 'p256' | 'p384' | 'rsa';

async function keyPair(alg: TestAlg): Promise<{ keys: CryptoKeyPair; signing: Algorithm }> {
  if (alg === 'rsa') {
    const a = {
      name: 'RSASSA-PKCS1-v1_5',
      hash: 'SHA-256',
      publicExponent: new Uint8Array([1, 0, 1]),
      modulusLength: 2048,
    };
    return { keys: await subtle.generateKey(a, true, ['sign', 'verify']), signing: a };
  }
  const a = { name: 'ECDSA', namedCurve: alg === 'p384' ? 'P-384' : 'P-256' };
  return {
    keys: await subtle.generateKey(a, true, ['sign', 'verify']),
    signing: { name: 'ECDSA', hash: alg === 'p384' ? 'SHA-384' : 'SHA-256' } as Algorithm,
  };
}

let serialCounter = 1;

/** Issues a certificate (self-signed when `issuer` is absent). */
export async function makeCert(
  subject: string,
  options: {
    issuer?: TestCert;
    ca?: boolean;
    alg?: TestAlg;
    notBefore?: Date;
    notAfter?: Date;
    serialAttr?: string;
  } = {},
): Promise<TestCert> {
  const { keys, signing } = await keyPair(options.alg ?? 'p256');
  const issuerAlg = options.issuer ? options.issuer.keys.privateKey.algorithm : signing;
  const signingAlg =
    issuerAlg.name === 'ECDSA'
      ? { name: 'ECDSA', hash: (issuerAlg as EcKeyAlgorithm).namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const name = options.serialAttr !== undefined ? `${subject}, 2.5.4.5=${options.serialAttr}` : subject;
  const ext: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true),
    new x509.KeyUsagesExtension(
      options.ca
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature |
            x509.KeyUsageFlags.keyAgreement |
            x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (options.issuer) ext.push(await x509.AuthorityKeyIdentifierExtension.create(options.issuer.cert));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serialCounter++).toString(16).padStart(4, '0') + Date.now().toString(16),
    subject: name,
    issuer: options.issuer ? options.issuer.cert.subject : name,
    notBefore: options.notBefore ?? new Date(Date.now() - 3600_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * 86400_000),
    signingAlgorithm: signingAlg,
    publicKey: keys.publicKey,
    signingKey: options.issuer ? options.issuer.keys.privateKey : keys.privateKey,
    extensions: ext,
  });
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return {
    der: new Uint8Array(cert.rawData),
    key: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
    keys,
    cert,
  };
}

/** PEM of a certificate. */
export function pem(c: TestCert): string {
  return c.cert.toString('pem') + '\n';
}

/** PEM (PKCS#8) of the private key. */
export function keyPem(c: TestCert): string {
  return c.key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A certificate for a public key held elsewhere (a KeyStore key), issued by `issuer`. */
export async function certForSpki(
  subject: string,
  spki: Uint8Array,
  issuer: TestCert,
  options: { ca?: boolean; dns?: string[] } = {},
): Promise<Uint8Array> {
  const alg = spkiAlgorithm(spki);
  const publicKey = await subtle.importKey('spki', spki, alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serialCounter++).toString(16).padStart(4, '0') + Date.now().toString(16),
    subject,
    issuer: issuer.cert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    ],
  });
  return new Uint8Array(cert.rawData);
}

function spkiAlgorithm(spki: Uint8Array): EcKeyImportParams | RsaHashedImportParams {
  const hex = Buffer.from(spki).toString('hex');
  if (hex.includes('2a8648ce3d030107')) return { name: 'ECDSA', namedCurve: 'P-256' };
  if (hex.includes('2b81040022')) return { name: 'ECDSA', namedCurve: 'P-384' };
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** A TLS server certificate for 127.0.0.1 and localhost. */
export async function serverCert(issuer: TestCert): Promise<TestCert> {
  const { keys } = {
    keys: await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']),
  };
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serialCounter++).toString(16).padStart(4, '0') + Date.now().toString(16),
    subject: 'CN=localhost',
    issuer: issuer.cert.subject,
    notBefore: new Date(Date.now() - 3600_000),
    notAfter: new Date(Date.now() + 365 * 86400_000),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  return {
    der: new Uint8Array(cert.rawData),
    key: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
    keys,
    cert,
  };
}
