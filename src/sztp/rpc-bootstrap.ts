/** RFC 8572 §7.1 `get-bootstrapping-data` input and output (with the RFC 9646 augments), in JSON and XML. */
import {
  CSR_FORMATS,
  MODULES,
  nsOf,
  type CsrFormat,
  type CsrInput,
  type CsrSupport,
  type Encoding,
  type GetBootstrappingDataInput,
  type GetBootstrappingDataOutput,
} from './types.ts';
import { childNamed, childrenNamed, parseXml, writeXml, type XmlElement, type XmlNode } from './xml.ts';
import { b64, enc64, identity, invalid, members, parseJsonText, str, type JsonObject } from './yang-json.ts';

const M = MODULES.server;
const NS = nsOf(M);
const CSR = MODULES.csr;
const CSR_NS = nsOf(CSR);
const CODE = 'ERR_SZTP_RPC_INVALID';

function nonceOk(n: Uint8Array): Uint8Array {
  if (n.length < 16 || n.length > 32) throw invalid(CODE, 'nonce must be 16..32 bytes');
  return n;
}

function csrFormat(v: string): CsrFormat {
  const f = identity(v, [CSR, MODULES.ztpTypes], CODE, 'format-identifier');
  if (!(CSR_FORMATS as readonly string[]).includes(f)) throw invalid(CODE, `unknown CSR format ${v}`);
  return f as CsrFormat;
}

/** Parses `get-bootstrapping-data` input (an empty body means no input). Throws ERR_SZTP_RPC_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseBootstrapInput(body: string, encoding: Encoding): GetBootstrappingDataInput {
  if (body.trim() === '') return { signedDataPreferred: false };
  return encoding === 'json' ? inputFromJson(body) : inputFromXml(body);
}

const INPUT_LEAVES = [
  'signed-data-preferred',
  'hw-model',
  'os-name',
  'os-version',
  'nonce',
  `${CSR}:csr-support`,
  `${CSR}:csr`,
];

function inputFromJson(body: string): GetBootstrappingDataInput {
  const top = members(parseJsonText(body, CODE), M, ['input'], CODE, 'document');
  const o = members(top['input'] ?? {}, M, INPUT_LEAVES, CODE, 'input');
  const sdp = o['signed-data-preferred'];
  if (sdp !== undefined && !(Array.isArray(sdp) && sdp.length === 1 && sdp[0] === null)) {
    throw invalid(CODE, 'signed-data-preferred is an empty leaf: [null]');
  }
  const nonce = str(o, 'nonce', CODE, 'input');
  const hw = str(o, 'hw-model', CODE, 'input');
  const osn = str(o, 'os-name', CODE, 'input');
  const osv = str(o, 'os-version', CODE, 'input');
  const cs = o[`${CSR}:csr-support`];
  const c = o[`${CSR}:csr`];
  return {
    signedDataPreferred: sdp !== undefined,
    ...(hw !== undefined ? { hwModel: hw } : {}),
    ...(osn !== undefined ? { osName: osn } : {}),
    ...(osv !== undefined ? { osVersion: osv } : {}),
    ...(nonce !== undefined ? { nonce: nonceOk(b64(nonce, CODE, 'nonce')) } : {}),
    ...(cs !== undefined ? { csrSupport: csrSupportJson(cs) } : {}),
    ...(c !== undefined ? { csr: csrJson(c) } : {}),
  };
}

function list(o: JsonObject, name: string): string[] {
  const v = o[name];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw invalid(CODE, `${name} must be a list of strings`);
  return v;
}

function csrSupportJson(v: unknown): CsrSupport {
  const o = members(v, CSR, ['key-generation', 'csr-generation'], CODE, 'csr-support');
  const cg = members(o['csr-generation'], CSR, ['supported-formats'], CODE, 'csr-generation');
  const sf = members(cg['supported-formats'], CSR, ['format-identifier'], CODE, 'supported-formats');
  const formats = list(sf, 'format-identifier').map(csrFormat);
  if (o['key-generation'] === undefined) return { supportedFormats: formats };
  const kg = members(o['key-generation'], CSR, ['supported-algorithms'], CODE, 'key-generation');
  const sa = members(kg['supported-algorithms'], CSR, ['algorithm-identifier'], CODE, 'supported-algorithms');
  return {
    supportedFormats: formats,
    supportedAlgorithms: list(sa, 'algorithm-identifier').map((a) => b64(a, CODE, 'algorithm-identifier')),
  };
}

function csrJson(v: unknown): CsrInput {
  const o = members(v, CSR, [...CSR_FORMATS], CODE, 'csr');
  const keys = Object.keys(o);
  if (keys.length !== 1) throw invalid(CODE, 'csr must hold exactly one of p10-csr, cmc-csr, cmp-csr');
  const format = keys[0] as CsrFormat;
  return { format, value: b64(str(o, format, CODE, 'csr', true) ?? '', CODE, format) };
}

function inputFromXml(body: string): GetBootstrappingDataInput {
  const root = parseXml(body);
  if (root.name !== 'input' || root.ns !== NS) throw invalid(CODE, `root must be <input xmlns="${NS}">`);
  for (const c of root.children) {
    const known =
      (c.ns === NS && INPUT_LEAVES.includes(c.name)) ||
      (c.ns === CSR_NS && ['csr-support', 'csr'].includes(c.name));
    if (!known) throw invalid(CODE, `unexpected element <${c.name}>`);
  }
  const text = (n: string) => childNamed(root, n)?.text.trim();
  const nonce = text('nonce');
  const hw = text('hw-model');
  const osn = text('os-name');
  const osv = text('os-version');
  const cs = childrenNamed(root, 'csr-support', CSR_NS)[0];
  const c = childrenNamed(root, 'csr', CSR_NS)[0];
  return {
    signedDataPreferred: childNamed(root, 'signed-data-preferred') !== undefined,
    ...(hw !== undefined ? { hwModel: hw } : {}),
    ...(osn !== undefined ? { osName: osn } : {}),
    ...(osv !== undefined ? { osVersion: osv } : {}),
    ...(nonce !== undefined ? { nonce: nonceOk(b64(nonce, CODE, 'nonce')) } : {}),
    ...(cs !== undefined ? { csrSupport: csrSupportXml(cs) } : {}),
    ...(c !== undefined ? { csr: csrXml(c) } : {}),
  };
}

function texts(el: XmlElement | undefined, path: string[]): XmlElement[] {
  let cur: XmlElement[] = el === undefined ? [] : [el];
  for (const p of path) cur = cur.flatMap((e) => childrenNamed(e, p));
  return cur;
}

function xmlIdentity(e: XmlElement): string {
  const raw = e.text.trim();
  const c = raw.indexOf(':');
  if (c < 0) return raw;
  const ns = e.scope[raw.slice(0, c)];
  const mod = ns === CSR_NS ? CSR : ns === nsOf(MODULES.ztpTypes) ? MODULES.ztpTypes : 'unknown';
  return `${mod}:${raw.slice(c + 1)}`;
}

function csrSupportXml(el: XmlElement): CsrSupport {
  const formats = texts(el, ['csr-generation', 'supported-formats', 'format-identifier']).map((e) =>
    csrFormat(xmlIdentity(e)),
  );
  const kg = childNamed(el, 'key-generation');
  if (kg === undefined) return { supportedFormats: formats };
  const algs = texts(kg, ['supported-algorithms', 'algorithm-identifier']).map((e) =>
    b64(e.text.trim(), CODE, 'algorithm-identifier'),
  );
  return { supportedFormats: formats, supportedAlgorithms: algs };
}

function csrXml(el: XmlElement): CsrInput {
  if (el.children.length !== 1) throw invalid(CODE, 'csr must hold exactly one of p10-csr, cmc-csr, cmp-csr');
  const c = el.children[0];
  if (c === undefined || !(CSR_FORMATS as readonly string[]).includes(c.name))
    throw invalid(CODE, 'unknown csr type');
  return { format: c.name as CsrFormat, value: b64(c.text.trim(), CODE, c.name) };
}

/** Serialises `get-bootstrapping-data` input. */
export function serializeBootstrapInput(input: GetBootstrappingDataInput, encoding: Encoding): string {
  if (encoding === 'json') {
    const o: JsonObject = {};
    if (input.signedDataPreferred) o['signed-data-preferred'] = [null];
    if (input.hwModel !== undefined) o['hw-model'] = input.hwModel;
    if (input.osName !== undefined) o['os-name'] = input.osName;
    if (input.osVersion !== undefined) o['os-version'] = input.osVersion;
    if (input.nonce !== undefined) o['nonce'] = enc64(input.nonce);
    const cs = input.csrSupport;
    if (cs !== undefined) {
      o[`${CSR}:csr-support`] = {
        ...(cs.supportedAlgorithms !== undefined
          ? {
              'key-generation': {
                'supported-algorithms': { 'algorithm-identifier': cs.supportedAlgorithms.map(enc64) },
              },
            }
          : {}),
        'csr-generation': {
          'supported-formats': {
            'format-identifier': cs.supportedFormats.map((f) => `${MODULES.ztpTypes}:${f}`),
          },
        },
      };
    }
    if (input.csr !== undefined) o[`${CSR}:csr`] = { [input.csr.format]: enc64(input.csr.value) };
    return JSON.stringify({ [`${M}:input`]: o });
  }
  const ch: XmlNode[] = [];
  if (input.signedDataPreferred) ch.push({ name: 'signed-data-preferred' });
  if (input.hwModel !== undefined) ch.push({ name: 'hw-model', text: input.hwModel });
  if (input.osName !== undefined) ch.push({ name: 'os-name', text: input.osName });
  if (input.osVersion !== undefined) ch.push({ name: 'os-version', text: input.osVersion });
  if (input.nonce !== undefined) ch.push({ name: 'nonce', text: enc64(input.nonce) });
  const cs = input.csrSupport;
  if (cs !== undefined) {
    const fmts = cs.supportedFormats.map((f) => ({ name: 'format-identifier', text: `zt:${f}` }));
    const algs = (cs.supportedAlgorithms ?? []).map((a) => ({
      name: 'algorithm-identifier',
      text: enc64(a),
    }));
    ch.push({
      name: 'csr-support',
      ns: CSR_NS,
      attrs: { 'xmlns:zt': nsOf(MODULES.ztpTypes) },
      children: [
        ...(cs.supportedAlgorithms !== undefined
          ? [{ name: 'key-generation', children: [{ name: 'supported-algorithms', children: algs }] }]
          : []),
        { name: 'csr-generation', children: [{ name: 'supported-formats', children: fmts }] },
      ],
    });
  }
  if (input.csr !== undefined) {
    ch.push({
      name: 'csr',
      ns: CSR_NS,
      children: [{ name: input.csr.format, text: enc64(input.csr.value) }],
    });
  }
  return writeXml({ name: 'input', ns: NS, children: ch });
}

/** Serialises `get-bootstrapping-data` output. */
export function serializeBootstrapOutput(out: GetBootstrappingDataOutput, encoding: Encoding): string {
  const fields: [string, string | undefined][] = [
    ['reporting-level', out.reportingLevel],
    ['conveyed-information', enc64(out.conveyedInformation)],
    ['owner-certificate', out.ownerCertificate && enc64(out.ownerCertificate)],
    ['ownership-voucher', out.ownershipVoucher && enc64(out.ownershipVoucher)],
  ];
  const present = fields.filter((f): f is [string, string] => f[1] !== undefined);
  if (encoding === 'json') return JSON.stringify({ [`${M}:output`]: Object.fromEntries(present) });
  return writeXml({ name: 'output', ns: NS, children: present.map(([name, text]) => ({ name, text })) });
}

/** Parses `get-bootstrapping-data` output. Throws ERR_SZTP_RPC_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseBootstrapOutput(body: string, encoding: Encoding): GetBootstrappingDataOutput {
  const names = ['reporting-level', 'conveyed-information', 'owner-certificate', 'ownership-voucher'];
  let o: Record<string, string | undefined>;
  if (encoding === 'json') {
    const top = members(parseJsonText(body, CODE), M, ['output'], CODE, 'document');
    const m = members(top['output'], M, names, CODE, 'output');
    o = Object.fromEntries(names.map((n) => [n, str(m, n, CODE, 'output')]));
  } else {
    const root = parseXml(body);
    if (root.name !== 'output' || root.ns !== NS) throw invalid(CODE, `root must be <output xmlns="${NS}">`);
    for (const c of root.children)
      if (!names.includes(c.name) || c.ns !== NS) throw invalid(CODE, `unexpected <${c.name}>`);
    o = Object.fromEntries(names.map((n) => [n, childNamed(root, n)?.text.trim()]));
  }
  const level = o['reporting-level'];
  if (level !== undefined && level !== 'minimal' && level !== 'verbose')
    throw invalid(CODE, 'bad reporting-level');
  const ci = o['conveyed-information'];
  if (ci === undefined) throw invalid(CODE, 'output has no conveyed-information');
  const oc = o['owner-certificate'];
  const ov = o['ownership-voucher'];
  if ((oc === undefined) !== (ov === undefined))
    throw invalid(CODE, 'owner-certificate and ownership-voucher come together');
  return {
    ...(level !== undefined ? { reportingLevel: level } : {}),
    conveyedInformation: b64(ci, CODE, 'conveyed-information'),
    ...(oc !== undefined ? { ownerCertificate: b64(oc, CODE, 'owner-certificate') } : {}),
    ...(ov !== undefined ? { ownershipVoucher: b64(ov, CODE, 'ownership-voucher') } : {}),
  };
}
