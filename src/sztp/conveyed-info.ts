/** RFC 8572 §6.1 `ietf-sztp-conveyed-info`: redirect and onboarding information in JSON (RFC 7951) and XML. */
import {
  MODULES,
  nsOf,
  type BootImage,
  type BootstrapServer,
  type ConveyedInformation,
  type Encoding,
  type ImageVerification,
  type OnboardingInformation,
} from './types.ts';
import { childNamed, childrenNamed, parseXml, writeXml, type XmlElement, type XmlNode } from './xml.ts';
import {
  b64,
  bin,
  enc64,
  hexString,
  identity,
  invalid,
  members,
  parseJsonText,
  str,
  toHexString,
  type JsonObject,
} from './yang-json.ts';

const M = MODULES.conveyed;
const NS = nsOf(M);
const CODE = 'ERR_SZTP_CONVEYED_INFO_INVALID';

/** Parses conveyed information, sniffing JSON (`{`) versus XML (`<`). Throws ERR_SZTP_CONVEYED_INFO_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseConveyedInformation(bytes: Uint8Array | string): {
  info: ConveyedInformation;
  encoding: Encoding;
} {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const first = text.replace(/^\uFEFF/, '').trimStart()[0];
  if (first === '{') return { info: parseConveyedJson(text), encoding: 'json' };
  if (first === '<') return { info: parseConveyedXml(text), encoding: 'xml' };
  throw invalid(CODE, 'conveyed information is neither JSON nor XML');
}

/** Parses the JSON form. Throws ERR_SZTP_CONVEYED_INFO_INVALID. */
export function parseConveyedJson(text: string): ConveyedInformation {
  const doc = members(
    parseJsonText(text, CODE),
    M,
    ['redirect-information', 'onboarding-information'],
    CODE,
    'document',
  );
  const keys = Object.keys(doc);
  if (keys.length !== 1)
    throw invalid(CODE, 'document must hold exactly one of redirect-information or onboarding-information');
  if (doc['redirect-information'] !== undefined) {
    const r = members(doc['redirect-information'], M, ['bootstrap-server'], CODE, 'redirect-information');
    const list = r['bootstrap-server'];
    if (!Array.isArray(list) || list.length === 0)
      throw invalid(CODE, 'redirect-information needs at least one bootstrap-server');
    return { kind: 'redirect', redirect: { bootstrapServers: list.map(jsonServer) } };
  }
  return { kind: 'onboarding', onboarding: jsonOnboarding(doc['onboarding-information']) };
}

function jsonServer(v: unknown): BootstrapServer {
  const s = members(v, M, ['address', 'port', 'trust-anchor'], CODE, 'bootstrap-server');
  const address = str(s, 'address', CODE, 'bootstrap-server', true) ?? '';
  const port = s['port'];
  if (
    port !== undefined &&
    !(typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536)
  ) {
    throw invalid(CODE, 'bootstrap-server/port must be an integer 1..65535');
  }
  const ta = bin(s, 'trust-anchor', CODE, 'bootstrap-server');
  return {
    address,
    ...(port !== undefined ? { port } : {}),
    ...(ta !== undefined ? { trustAnchor: ta } : {}),
  };
}

function jsonOnboarding(v: unknown): OnboardingInformation {
  const o = members(
    v,
    M,
    [
      'boot-image',
      'configuration-handling',
      'pre-configuration-script',
      'configuration',
      'post-configuration-script',
    ],
    CODE,
    'onboarding-information',
  );
  const handling = str(o, 'configuration-handling', CODE, 'onboarding-information');
  const pre = bin(o, 'pre-configuration-script', CODE, 'onboarding-information');
  const cfg = bin(o, 'configuration', CODE, 'onboarding-information');
  const post = bin(o, 'post-configuration-script', CODE, 'onboarding-information');
  return {
    ...(o['boot-image'] !== undefined ? { bootImage: jsonBootImage(o['boot-image']) } : {}),
    ...(handling !== undefined ? { configurationHandling: checkHandling(handling) } : {}),
    ...(pre !== undefined ? { preConfigurationScript: pre } : {}),
    ...(cfg !== undefined ? { configuration: cfg } : {}),
    ...(post !== undefined ? { postConfigurationScript: post } : {}),
  };
}

function checkHandling(h: string): 'merge' | 'replace' {
  if (h !== 'merge' && h !== 'replace')
    throw invalid(CODE, `configuration-handling "${h}" is not merge or replace`);
  return h;
}

function jsonBootImage(v: unknown): BootImage {
  const b = members(
    v,
    M,
    ['os-name', 'os-version', 'download-uri', 'image-verification'],
    CODE,
    'boot-image',
  );
  const uris = b['download-uri'] ?? [];
  if (!Array.isArray(uris) || !uris.every((u) => typeof u === 'string'))
    throw invalid(CODE, 'download-uri must be a list of strings');
  const ivs = b['image-verification'] ?? [];
  if (!Array.isArray(ivs)) throw invalid(CODE, 'image-verification must be a list');
  const imageVerification = ivs.map((iv): ImageVerification => {
    const o = members(iv, M, ['hash-algorithm', 'hash-value'], CODE, 'image-verification');
    const alg = identity(
      str(o, 'hash-algorithm', CODE, 'image-verification', true) ?? '',
      [M],
      CODE,
      'hash-algorithm',
    );
    return {
      hashAlgorithm: alg,
      hashValue: hexString(str(o, 'hash-value', CODE, 'image-verification', true) ?? '', CODE, 'hash-value'),
    };
  });
  return bootImage(
    str(b, 'os-name', CODE, 'boot-image'),
    str(b, 'os-version', CODE, 'boot-image'),
    uris,
    imageVerification,
  );
}

function bootImage(
  osName: string | undefined,
  osVersion: string | undefined,
  downloadUris: string[],
  imageVerification: ImageVerification[],
): BootImage {
  return {
    ...(osName !== undefined ? { osName } : {}),
    ...(osVersion !== undefined ? { osVersion } : {}),
    downloadUris,
    imageVerification,
  };
}

/** Parses the XML form. Throws ERR_SZTP_CONVEYED_INFO_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseConveyedXml(text: string): ConveyedInformation {
  const root = parseXml(text);
  if (root.ns !== NS) throw invalid(CODE, `root element is not in ${NS}`);
  if (root.name === 'redirect-information') {
    only(root, ['bootstrap-server']);
    const servers = childrenNamed(root, 'bootstrap-server').map((s): BootstrapServer => {
      only(s, ['address', 'port', 'trust-anchor']);
      const address = leaf(s, 'address', true) ?? '';
      const port = leaf(s, 'port');
      const ta = leaf(s, 'trust-anchor');
      if (port !== undefined && !/^[0-9]{1,5}$/.test(port))
        throw invalid(CODE, 'bootstrap-server/port must be an integer');
      return {
        address,
        ...(port !== undefined ? { port: Number(port) } : {}),
        ...(ta !== undefined ? { trustAnchor: b64(ta, CODE, 'trust-anchor') } : {}),
      };
    });
    if (servers.length === 0) throw invalid(CODE, 'redirect-information needs at least one bootstrap-server');
    return { kind: 'redirect', redirect: { bootstrapServers: servers } };
  }
  if (root.name !== 'onboarding-information') throw invalid(CODE, `unexpected root element <${root.name}>`);
  only(root, [
    'boot-image',
    'configuration-handling',
    'pre-configuration-script',
    'configuration',
    'post-configuration-script',
  ]);
  const bi = childNamed(root, 'boot-image');
  const handling = leaf(root, 'configuration-handling');
  const pre = leaf(root, 'pre-configuration-script');
  const post = leaf(root, 'post-configuration-script');
  const cfgEl = childNamed(root, 'configuration');
  return {
    kind: 'onboarding',
    onboarding: {
      ...(bi !== undefined ? { bootImage: xmlBootImage(bi) } : {}),
      ...(handling !== undefined ? { configurationHandling: checkHandling(handling) } : {}),
      ...(pre !== undefined ? { preConfigurationScript: b64(pre, CODE, 'pre-configuration-script') } : {}),
      ...(cfgEl !== undefined ? { configuration: xmlConfiguration(cfgEl) } : {}),
      ...(post !== undefined
        ? { postConfigurationScript: b64(post, CODE, 'post-configuration-script') }
        : {}),
    },
  };
}

// The leaf is `binary`, but the RFC's own XML example shows it decoded inline: keep inline XML verbatim.
function xmlConfiguration(el: XmlElement): Uint8Array {
  if (el.children.length > 0) return new TextEncoder().encode(el.inner.trim());
  return b64(el.text.trim(), CODE, 'configuration');
}

function xmlBootImage(el: XmlElement): BootImage {
  only(el, ['os-name', 'os-version', 'download-uri', 'image-verification']);
  const ivs = childrenNamed(el, 'image-verification').map((iv): ImageVerification => {
    only(iv, ['hash-algorithm', 'hash-value']);
    const raw = leaf(iv, 'hash-algorithm', true) ?? '';
    const c = raw.indexOf(':');
    if (c >= 0 && iv.children.find((x) => x.name === 'hash-algorithm')?.scope[raw.slice(0, c)] !== NS) {
      throw invalid(CODE, `hash-algorithm ${raw} is not an ${M} identity`);
    }
    return {
      hashAlgorithm: c >= 0 ? raw.slice(c + 1) : raw,
      hashValue: hexString(leaf(iv, 'hash-value', true) ?? '', CODE, 'hash-value'),
    };
  });
  const uris = childrenNamed(el, 'download-uri').map((u) => u.text.trim());
  return bootImage(leaf(el, 'os-name'), leaf(el, 'os-version'), uris, ivs);
}

function only(el: XmlElement, names: readonly string[]): void {
  for (const c of el.children) {
    if (c.ns !== NS || !names.includes(c.name))
      throw invalid(CODE, `<${el.name}>: unexpected element <${c.name}>`);
  }
}

function leaf(el: XmlElement, name: string, required = false): string | undefined {
  const c = childNamed(el, name);
  if (c === undefined) {
    if (required) throw invalid(CODE, `<${el.name}>: <${name}> is required`);
    return undefined;
  }
  if (c.children.length > 0) throw invalid(CODE, `<${name}> must be a leaf`);
  return c.text.trim();
}

/** Serialises conveyed information in the given encoding (UTF-8 bytes). */
export function serializeConveyedInformation(info: ConveyedInformation, encoding: Encoding): Uint8Array {
  const text =
    encoding === 'json' ? JSON.stringify(conveyedToJson(info), null, 2) : writeXml(conveyedToXml(info));
  return new TextEncoder().encode(text);
}

/** The RFC 7951 JSON object of conveyed information. */
export function conveyedToJson(info: ConveyedInformation): JsonObject {
  if (info.kind === 'redirect') {
    return {
      [`${M}:redirect-information`]: {
        'bootstrap-server': info.redirect.bootstrapServers.map((s) => ({
          address: s.address,
          ...(s.port !== undefined ? { port: s.port } : {}),
          ...(s.trustAnchor !== undefined ? { 'trust-anchor': enc64(s.trustAnchor) } : {}),
        })),
      },
    };
  }
  const o = info.onboarding;
  const bi = o.bootImage;
  return {
    [`${M}:onboarding-information`]: {
      ...(bi !== undefined
        ? {
            'boot-image': {
              ...(bi.osName !== undefined ? { 'os-name': bi.osName } : {}),
              ...(bi.osVersion !== undefined ? { 'os-version': bi.osVersion } : {}),
              ...(bi.downloadUris.length > 0 ? { 'download-uri': bi.downloadUris } : {}),
              ...(bi.imageVerification.length > 0
                ? {
                    'image-verification': bi.imageVerification.map((iv) => ({
                      'hash-algorithm': `${M}:${iv.hashAlgorithm}`,
                      'hash-value': toHexString(iv.hashValue),
                    })),
                  }
                : {}),
            },
          }
        : {}),
      ...(o.configurationHandling !== undefined ? { 'configuration-handling': o.configurationHandling } : {}),
      ...(o.preConfigurationScript !== undefined
        ? { 'pre-configuration-script': enc64(o.preConfigurationScript) }
        : {}),
      ...(o.configuration !== undefined ? { configuration: enc64(o.configuration) } : {}),
      ...(o.postConfigurationScript !== undefined
        ? { 'post-configuration-script': enc64(o.postConfigurationScript) }
        : {}),
    },
  };
}

function t(name: string, text: string | undefined): XmlNode[] {
  return text === undefined ? [] : [{ name, text }];
}

/** The XML node tree of conveyed information. */
export function conveyedToXml(info: ConveyedInformation): XmlNode {
  if (info.kind === 'redirect') {
    return {
      name: 'redirect-information',
      ns: NS,
      children: info.redirect.bootstrapServers.map((s) => ({
        name: 'bootstrap-server',
        children: [
          { name: 'address', text: s.address },
          ...t('port', s.port?.toString()),
          ...t('trust-anchor', s.trustAnchor && enc64(s.trustAnchor)),
        ],
      })),
    };
  }
  const o = info.onboarding;
  const bi = o.bootImage;
  const b = (name: string, v: Uint8Array | undefined) => t(name, v && enc64(v));
  return {
    name: 'onboarding-information',
    ns: NS,
    children: [
      ...(bi !== undefined
        ? [
            {
              name: 'boot-image',
              children: [
                ...t('os-name', bi.osName),
                ...t('os-version', bi.osVersion),
                ...bi.downloadUris.map((u) => ({ name: 'download-uri', text: u })),
                ...bi.imageVerification.map((iv) => ({
                  name: 'image-verification',
                  children: [
                    { name: 'hash-algorithm', text: iv.hashAlgorithm },
                    { name: 'hash-value', text: toHexString(iv.hashValue) },
                  ],
                })),
              ],
            },
          ]
        : []),
      ...t('configuration-handling', o.configurationHandling),
      ...b('pre-configuration-script', o.preConfigurationScript),
      ...b('configuration', o.configuration),
      ...b('post-configuration-script', o.postConfigurationScript),
    ],
  };
}
