/**
 * RFC 9646 LDevID delivery: the certificate issued from the device's CSR travels inside the onboarding
 * information's configuration, as an `ietf-keystore` asymmetric key named "ldevid" whose certificate is a
 * degenerate CMS of the chain (the configuration must then be an RFC 7951 JSON object).
 */
import { ValidationError } from '../core/errors.ts';
import { cmsCertificates, degenerateCms } from './cms/signed-data.ts';
import { enc64, isObject } from './yang-json.ts';

const KEYSTORE = 'ietf-keystore:keystore';

/** Adds the LDevID chain (leaf first) to an onboarding-information JSON document. Throws ERR_SZTP_LDEVID_CONFIG. */
export function addLdevid(documentJson: string, chain: readonly Uint8Array[]): string {
  const doc = JSON.parse(documentJson) as Record<string, Record<string, unknown>>;
  const ob = doc['ietf-sztp-conveyed-info:onboarding-information'];
  if (ob === undefined)
    throw new ValidationError('ERR_SZTP_LDEVID_CONFIG', 'an LDevID goes only into onboarding information');
  let config: Record<string, unknown> = {};
  if (typeof ob['configuration'] === 'string') {
    try {
      const parsed = JSON.parse(Buffer.from(ob['configuration'], 'base64').toString('utf8')) as unknown;
      if (!isObject(parsed)) throw new Error('not an object');
      config = parsed;
    } catch {
      throw new ValidationError(
        'ERR_SZTP_LDEVID_CONFIG',
        'the configuration must be an RFC 7951 JSON object to carry an LDevID',
      );
    }
  }
  config[KEYSTORE] = {
    'asymmetric-keys': {
      'asymmetric-key': [
        {
          name: 'ldevid',
          certificates: { certificate: [{ name: 'ldevid', 'cert-data': enc64(degenerateCms(chain)) }] },
        },
      ],
    },
  };
  ob['configuration'] = Buffer.from(JSON.stringify(config)).toString('base64');
  return JSON.stringify(doc);
}

/** The LDevID chain a configuration carries, if any (device side). */
export function ldevidFromConfiguration(configuration: Uint8Array | undefined): Uint8Array[] | undefined {
  if (configuration === undefined) return undefined;
  try {
    const c = JSON.parse(new TextDecoder().decode(configuration)) as Record<
      string,
      {
        'asymmetric-keys'?: {
          'asymmetric-key'?: { name: string; certificates?: { certificate?: { 'cert-data': string }[] } }[];
        };
      }
    >;
    const key = c[KEYSTORE]?.['asymmetric-keys']?.['asymmetric-key']?.find((k) => k.name === 'ldevid');
    const data = key?.certificates?.certificate?.[0]?.['cert-data'];
    return data === undefined
      ? undefined
      : cmsCertificates(new Uint8Array(Buffer.from(data, 'base64'))).map((x) => x.der);
  } catch {
    return undefined;
  }
}
