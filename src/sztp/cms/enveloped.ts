/**
 * CMS EnvelopedData to a device's IDevID key: RSAES-OAEP key transport for RSA keys, and RFC 5753
 * ephemeral-static ECDH (dhSinglePass-stdDH-sha256kdf, AES-256 key wrap) for EC keys; AES-256-CBC content.
 */
import 'reflect-metadata';
import * as asn1js from 'asn1js';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  ContentInfo,
  EncryptedContent,
  EncryptedContentInfo,
  EnvelopedData,
  IssuerAndSerialNumber,
  KeyAgreeRecipientIdentifier,
  KeyAgreeRecipientInfo,
  KeyTransRecipientInfo,
  OriginatorIdentifierOrKey,
  OriginatorPublicKey,
  RecipientEncryptedKey,
  RecipientEncryptedKeys,
  RecipientIdentifier,
  RecipientInfo,
  RecipientInfos,
} from '@peculiar/asn1-cms';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
} from 'node:crypto';
import { bytesEqual, concatBytes, wipe } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import { OID } from '../types.ts';
import { parseCert, publicKeyOf, type Cert } from './certs.ts';
import { parseContentInfo } from './signed-data.ts';

const AES256_CBC = '2.16.840.1.101.3.4.1.42';
const AES256_WRAP = '2.16.840.1.101.3.4.1.45';
const RSA_OAEP = '1.2.840.113549.1.1.7';
const RSA_PKCS1 = '1.2.840.113549.1.1.1';
const ECDH_KDF: Record<string, string> = {
  '1.3.132.1.11.1': 'sha256',
  '1.3.132.1.11.2': 'sha384',
  '1.3.132.1.11.3': 'sha512',
  '1.3.133.16.840.63.0.2': 'sha1',
};
const WRAP_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

/** The device side of decryption: the private-key operations its secure element performs. */
export interface CmsDecryptor {
  /** The recipient certificate (the IDevID), used to find our RecipientInfo. */
  readonly certificate: Uint8Array;
  /** RSA key transport: decrypts the content-encryption key. */
  rsaDecrypt?(encryptedKey: Uint8Array, padding: 'oaep-sha1' | 'pkcs1'): Promise<Uint8Array>;
  /** ECDH: the shared secret Z with an originator's ephemeral public key (SPKI DER). */
  ecdh?(peerSpki: Uint8Array): Promise<Uint8Array>;
}

function ias(c: Cert): IssuerAndSerialNumber {
  return new IssuerAndSerialNumber({
    issuer: c.asn.tbsCertificate.issuer,
    serialNumber: c.asn.tbsCertificate.serialNumber,
  });
}

function sharedInfo(bits: number): Uint8Array {
  const seq = new asn1js.Sequence({
    value: [
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: AES256_WRAP })] }),
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 2 },
        value: [
          new asn1js.OctetString({
            valueHex: new Uint8Array([
              (bits >>> 24) & 255,
              (bits >>> 16) & 255,
              (bits >>> 8) & 255,
              bits & 255,
            ]),
          }),
        ],
      }),
    ],
  });
  return new Uint8Array(seq.toBER());
}

// ANSI X9.63 KDF (RFC 5753 §7.2), one block is enough for a 256-bit KEK with SHA-256 or longer.
function x963(z: Uint8Array, hash: string): Uint8Array {
  const out = createHash(hash)
    .update(z)
    .update(new Uint8Array([0, 0, 0, 1]))
    .update(sharedInfo(256))
    .digest();
  if (out.length < 32) {
    const more = createHash(hash)
      .update(z)
      .update(new Uint8Array([0, 0, 0, 2]))
      .update(sharedInfo(256))
      .digest();
    return new Uint8Array(Buffer.concat([out, more]).subarray(0, 32));
  }
  return new Uint8Array(out.subarray(0, 32));
}

/**
 * Encrypts `content` (of CMS type `contentType`, e.g. id-signedData for sign-then-encrypt) to the holder of
 * `recipientCert`. Returns the DER ContentInfo. Throws ERR_SZTP_CMS_UNSUPPORTED for other key types.
 */
export function encryptCms(contentType: string, content: Uint8Array, recipientCert: Uint8Array): Uint8Array {
  const cert = parseCert(recipientCert);
  const spki = AsnConvert.parse(cert.spki, SubjectPublicKeyInfo);
  const cek = new Uint8Array(randomBytes(32));
  const iv = randomBytes(16);
  const c = createCipheriv('aes-256-cbc', cek, iv);
  const encrypted = Buffer.concat([c.update(content), c.final()]);
  let ri: RecipientInfo;
  if (spki.algorithm.algorithm === RSA_PKCS1) {
    const ek = publicEncrypt(
      { key: publicKeyOf(cert), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
      cek,
    );
    ri = new RecipientInfo({
      ktri: new KeyTransRecipientInfo({
        version: 0,
        rid: new RecipientIdentifier({ issuerAndSerialNumber: ias(cert) }),
        keyEncryptionAlgorithm: new AlgorithmIdentifier({
          algorithm: RSA_OAEP,
          parameters: new Uint8Array([0x30, 0x00]).buffer,
        }),
        encryptedKey: new OctetString(ek),
      }),
    });
  } else if (spki.algorithm.algorithm === '1.2.840.10045.2.1') {
    const curve = publicKeyOf(cert).asymmetricKeyDetails?.namedCurve ?? 'prime256v1';
    const eph = generateKeyPairSync('ec', { namedCurve: curve });
    const z = new Uint8Array(diffieHellman({ privateKey: eph.privateKey, publicKey: publicKeyOf(cert) }));
    const kek = x963(z, 'sha256');
    const w = createCipheriv('id-aes256-wrap', kek, WRAP_IV);
    const wrapped = Buffer.concat([w.update(cek), w.final()]);
    wipe(kek);
    wipe(z);
    const ephSpki = AsnConvert.parse(
      eph.publicKey.export({ type: 'spki', format: 'der' }),
      SubjectPublicKeyInfo,
    );
    ri = new RecipientInfo({
      kari: new KeyAgreeRecipientInfo({
        version: 3,
        originator: new OriginatorIdentifierOrKey({
          originatorKey: new OriginatorPublicKey({
            algorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.2.1' }),
            publicKey: ephSpki.subjectPublicKey,
          }),
        }),
        keyEncryptionAlgorithm: new AlgorithmIdentifier({
          algorithm: '1.3.132.1.11.1',
          parameters: AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: AES256_WRAP })),
        }),
        recipientEncryptedKeys: new RecipientEncryptedKeys([
          new RecipientEncryptedKey({
            rid: new KeyAgreeRecipientIdentifier({ issuerAndSerialNumber: ias(cert) }),
            encryptedKey: new OctetString(wrapped),
          }),
        ]),
      }),
    });
  } else {
    throw new ValidationError('ERR_SZTP_CMS_UNSUPPORTED', 'recipient key must be RSA or EC');
  }
  wipe(cek);
  const ed = new EnvelopedData({
    version: ri.kari !== undefined ? 2 : 0,
    recipientInfos: new RecipientInfos([ri]),
    encryptedContentInfo: new EncryptedContentInfo({
      contentType,
      contentEncryptionAlgorithm: new AlgorithmIdentifier({
        algorithm: AES256_CBC,
        parameters: new asn1js.OctetString({ valueHex: iv }).toBER(),
      }),
      encryptedContent: new EncryptedContent({ value: new OctetString(encrypted) }),
    }),
  });
  return new Uint8Array(
    AsnConvert.serialize(
      new ContentInfo({ contentType: OID.envelopedData, content: AsnConvert.serialize(ed) }),
    ),
  );
}

/**
 * Decrypts an EnvelopedData ContentInfo with the device's key. Returns the inner content type and bytes.
 * Throws ERR_SZTP_CMS_MALFORMED, ERR_SZTP_CMS_UNSUPPORTED, ERR_SZTP_DECRYPT_FAILED.
 */
export async function decryptCms(
  der: Uint8Array,
  me: CmsDecryptor,
): Promise<{ contentType: string; content: Uint8Array }> {
  const ci = parseContentInfo(der);
  if (ci.contentType !== OID.envelopedData)
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'not a CMS EnvelopedData');
  let ed: EnvelopedData;
  try {
    ed = AsnConvert.parse(ci.content, EnvelopedData);
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_CMS_MALFORMED', 'malformed EnvelopedData', { cause });
  }
  const cert = parseCert(me.certificate);
  const mine = (id: IssuerAndSerialNumber | undefined) =>
    id !== undefined &&
    bytesEqual(new Uint8Array(AsnConvert.serialize(id.issuer)), cert.issuerDer) &&
    bytesEqual(new Uint8Array(id.serialNumber), cert.serial);
  let cek: Uint8Array | undefined;
  try {
    for (const ri of ed.recipientInfos) {
      if (ri.ktri !== undefined && mine(ri.ktri.rid.issuerAndSerialNumber) && me.rsaDecrypt !== undefined) {
        const alg = ri.ktri.keyEncryptionAlgorithm.algorithm;
        if (alg !== RSA_OAEP && alg !== RSA_PKCS1)
          throw new ValidationError('ERR_SZTP_CMS_UNSUPPORTED', `key transport ${alg}`);
        cek = await me.rsaDecrypt(
          new Uint8Array(ri.ktri.encryptedKey.buffer),
          alg === RSA_OAEP ? 'oaep-sha1' : 'pkcs1',
        );
        break;
      }
      const kari = ri.kari;
      if (kari !== undefined && me.ecdh !== undefined) {
        const rek = kari.recipientEncryptedKeys.find((k) => mine(k.rid.issuerAndSerialNumber));
        const ok = kari.originator.originatorKey;
        if (rek === undefined || ok === undefined) continue;
        const hash = ECDH_KDF[kari.keyEncryptionAlgorithm.algorithm];
        const wrapAlg =
          kari.keyEncryptionAlgorithm.parameters &&
          AsnConvert.parse(kari.keyEncryptionAlgorithm.parameters, AlgorithmIdentifier).algorithm;
        if (hash === undefined || wrapAlg !== AES256_WRAP || kari.ukm !== undefined) {
          throw new ValidationError('ERR_SZTP_CMS_UNSUPPORTED', 'unsupported key agreement parameters');
        }
        const mySpki = AsnConvert.parse(cert.spki, SubjectPublicKeyInfo);
        const peer = new SubjectPublicKeyInfo({
          algorithm: mySpki.algorithm,
          subjectPublicKey: ok.publicKey,
        });
        const z = await me.ecdh(new Uint8Array(AsnConvert.serialize(peer)));
        const kek = x963(z, hash);
        const d = createDecipheriv('id-aes256-wrap', kek, WRAP_IV);
        cek = new Uint8Array(Buffer.concat([d.update(new Uint8Array(rek.encryptedKey.buffer)), d.final()]));
        wipe(kek);
        wipe(z);
        break;
      }
    }
  } catch (cause) {
    if (cause instanceof ValidationError) throw cause;
    throw new ValidationError('ERR_SZTP_DECRYPT_FAILED', 'cannot recover the content-encryption key', {
      cause,
    });
  }
  if (cek === undefined)
    throw new ValidationError('ERR_SZTP_DECRYPT_FAILED', 'no recipient info for this device');
  const eci = ed.encryptedContentInfo;
  if (
    eci.contentEncryptionAlgorithm.algorithm !== AES256_CBC &&
    eci.contentEncryptionAlgorithm.algorithm !== '2.16.840.1.101.3.4.1.2'
  ) {
    throw new ValidationError(
      'ERR_SZTP_CMS_UNSUPPORTED',
      `content encryption ${eci.contentEncryptionAlgorithm.algorithm}`,
    );
  }
  const params = eci.contentEncryptionAlgorithm.parameters;
  const iv = params
    ? new Uint8Array((asn1js.fromBER(params).result as asn1js.OctetString).getValue())
    : new Uint8Array();
  const body = eci.encryptedContent?.value
    ? new Uint8Array(eci.encryptedContent.value.buffer)
    : concatBytes(...(eci.encryptedContent?.constructedValue ?? []).map((o) => new Uint8Array(o.buffer)));
  try {
    const cipher = eci.contentEncryptionAlgorithm.algorithm === AES256_CBC ? 'aes-256-cbc' : 'aes-128-cbc';
    const d = createDecipheriv(cipher, cek, iv);
    return {
      contentType: eci.contentType,
      content: new Uint8Array(Buffer.concat([d.update(body), d.final()])),
    };
  } catch (cause) {
    throw new ValidationError('ERR_SZTP_DECRYPT_FAILED', 'content decryption failed', { cause });
  } finally {
    wipe(cek);
  }
}
