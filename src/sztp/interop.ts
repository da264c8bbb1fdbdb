/** Documents of other SZTP implementations that are not in RFC 8572 form, mapped to Imprint's records. */
import type { OnboardingInformation } from './types.ts';
import { hexString, identity, invalid, members, parseJsonText, str } from './yang-json.ts';

const CODE = 'ERR_SZTP_CONVEYED_INFO_INVALID';

/**
 * google/open-sztp's `onboardingData.json` (flat: os-name, os-version, download-uris, image-verifications,
 * config-handling, pre/post scripts and configuration as text) as onboarding information.
 * Throws ERR_SZTP_CONVEYED_INFO_INVALID.
 */
export function fromOpenSztpOnboarding(text: string): OnboardingInformation {
  const o = members(
    parseJsonText(text, CODE),
    'open-sztp',
    [
      'os-name',
      'os-version',
      'download-uris',
      'image-verifications',
      'config-handling',
      'pre-configuration-script',
      'configuration',
      'post-configuration-script',
    ],
    CODE,
    'onboardingData',
  );
  const uris = o['download-uris'] ?? [];
  const ivs = o['image-verifications'] ?? [];
  if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string') || !Array.isArray(ivs))
    throw invalid(CODE, 'download-uris and image-verifications must be lists');
  const handling = str(o, 'config-handling', CODE, 'onboardingData');
  if (handling !== undefined && handling !== 'merge' && handling !== 'replace')
    throw invalid(CODE, 'config-handling must be merge or replace');
  const osName = str(o, 'os-name', CODE, 'onboardingData');
  const osVersion = str(o, 'os-version', CODE, 'onboardingData');
  const enc = (k: string) => {
    const v = str(o, k, CODE, 'onboardingData');
    return v === undefined ? undefined : new TextEncoder().encode(v);
  };
  const pre = enc('pre-configuration-script');
  const cfg = enc('configuration');
  const post = enc('post-configuration-script');
  return {
    bootImage: {
      ...(osName !== undefined ? { osName } : {}),
      ...(osVersion !== undefined ? { osVersion } : {}),
      downloadUris: uris,
      imageVerification: ivs.map((iv) => {
        const m = members(iv, 'open-sztp', ['hash-algorithm', 'hash-value'], CODE, 'image-verification');
        return {
          hashAlgorithm: identity(
            str(m, 'hash-algorithm', CODE, 'image-verification', true) ?? '',
            ['ietf-sztp-conveyed-info'],
            CODE,
            'hash-algorithm',
          ),
          hashValue: hexString(
            str(m, 'hash-value', CODE, 'image-verification', true) ?? '',
            CODE,
            'hash-value',
          ),
        };
      }),
    },
    ...(handling !== undefined ? { configurationHandling: handling } : {}),
    ...(pre !== undefined ? { preConfigurationScript: pre } : {}),
    ...(cfg !== undefined ? { configuration: cfg } : {}),
    ...(post !== undefined ? { postConfigurationScript: post } : {}),
  };
}
