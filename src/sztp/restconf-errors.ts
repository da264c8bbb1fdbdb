/** RFC 8040 §7.1 `ietf-restconf:errors` documents (with the RFC 9646 `csr-request` error-info), both encodings. */
import { ImprintError } from '../core/errors.ts';
import {
  CSR_FORMATS,
  MODULES,
  nsOf,
  type CsrFormat,
  type CsrRequest,
  type Encoding,
  type RestconfError,
} from './types.ts';
import { childNamed, childrenNamed, parseXml, writeXml, type XmlNode } from './xml.ts';
import { b64, enc64, identity, invalid, isObject, members, parseJsonText, str } from './yang-json.ts';

const R = MODULES.restconf;
const CSR = MODULES.csr;
const CODE = 'ERR_SZTP_RPC_INVALID';

/** RFC 8040 §7 status code for an error-tag. */
export function statusForTag(tag: string): number {
  switch (tag) {
    case 'access-denied':
      return 403;
    case 'data-missing':
    case 'data-exists':
    case 'in-use':
    case 'lock-denied':
    case 'resource-denied':
      return 409;
    case 'too-big':
      return 413;
    case 'operation-not-supported':
      return 501;
    case 'operation-failed':
    case 'rollback-failed':
    case 'partial-operation':
      return 500;
    default:
      return 400;
  }
}

/** An ImprintError carrying the RESTCONF error to send; routes serialise it in the negotiated encoding. */
export class RestconfFailure extends ImprintError {
  readonly restconf: RestconfError;
  constructor(code: string, status: number, error: RestconfError) {
    super(code, status, error.message ?? error.tag, { details: { errorTag: error.tag } });
    this.restconf = error;
  }
}

/** Serialises an `ietf-restconf:errors` document. */
export function serializeErrors(errors: readonly RestconfError[], encoding: Encoding): string {
  if (encoding === 'json') {
    return JSON.stringify({
      [`${R}:errors`]: {
        error: errors.map((e) => ({
          'error-type': e.type,
          'error-tag': e.tag,
          ...(e.appTag !== undefined ? { 'error-app-tag': e.appTag } : {}),
          ...(e.path !== undefined ? { 'error-path': e.path } : {}),
          ...(e.message !== undefined ? { 'error-message': e.message } : {}),
          ...(e.csrRequest !== undefined
            ? { 'error-info': { [`${CSR}:csr-request`]: csrRequestJson(e.csrRequest) } }
            : {}),
        })),
      },
    });
  }
  return writeXml({
    name: 'errors',
    ns: nsOf(R),
    children: errors.map((e) => ({
      name: 'error',
      children: [
        { name: 'error-type', text: e.type },
        { name: 'error-tag', text: e.tag },
        ...(e.appTag !== undefined ? [{ name: 'error-app-tag', text: e.appTag }] : []),
        ...(e.path !== undefined ? [{ name: 'error-path', text: e.path }] : []),
        ...(e.message !== undefined ? [{ name: 'error-message', text: e.message }] : []),
        ...(e.csrRequest !== undefined
          ? [{ name: 'error-info', children: [csrRequestXml(e.csrRequest)] }]
          : []),
      ],
    })),
  });
}

function csrRequestJson(c: CsrRequest): Record<string, unknown> {
  return {
    ...(c.selectedAlgorithm !== undefined
      ? { 'key-generation': { 'selected-algorithm': { 'algorithm-identifier': enc64(c.selectedAlgorithm) } } }
      : {}),
    'csr-generation': {
      'selected-format': { 'format-identifier': `${MODULES.ztpTypes}:${c.selectedFormat}` },
    },
    ...(c.certReqInfo !== undefined ? { 'cert-req-info': enc64(c.certReqInfo) } : {}),
  };
}

function csrRequestXml(c: CsrRequest): XmlNode {
  return {
    name: 'csr-request',
    ns: nsOf(CSR),
    attrs: { 'xmlns:zt': nsOf(MODULES.ztpTypes) },
    children: [
      ...(c.selectedAlgorithm !== undefined
        ? [
            {
              name: 'key-generation',
              children: [
                {
                  name: 'selected-algorithm',
                  children: [{ name: 'algorithm-identifier', text: enc64(c.selectedAlgorithm) }],
                },
              ],
            },
          ]
        : []),
      {
        name: 'csr-generation',
        children: [
          {
            name: 'selected-format',
            children: [{ name: 'format-identifier', text: `zt:${c.selectedFormat}` }],
          },
        ],
      },
      ...(c.certReqInfo !== undefined ? [{ name: 'cert-req-info', text: enc64(c.certReqInfo) }] : []),
    ],
  };
}

function csrFormat(v: string): CsrFormat {
  const f = identity(v, [CSR, MODULES.ztpTypes], CODE, 'format-identifier');
  if (!(CSR_FORMATS as readonly string[]).includes(f)) throw invalid(CODE, `unknown CSR format ${v}`);
  return f as CsrFormat;
}

/** Parses an `ietf-restconf:errors` document. Throws ERR_SZTP_RPC_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseErrors(body: string, encoding: Encoding): RestconfError[] {
  if (encoding === 'json') {
    const top = members(parseJsonText(body, CODE), R, ['errors'], CODE, 'document');
    const errs = members(top['errors'], R, ['error'], CODE, 'errors')['error'];
    if (!Array.isArray(errs)) throw invalid(CODE, 'errors/error must be a list');
    return errs.map((e): RestconfError => {
      const o = members(
        e,
        R,
        ['error-type', 'error-tag', 'error-app-tag', 'error-path', 'error-message', 'error-info'],
        CODE,
        'error',
      );
      const info = o['error-info'];
      let csrRequest: CsrRequest | undefined;
      if (isObject(info) && isObject(info[`${CSR}:csr-request`])) {
        const cr = members(
          info[`${CSR}:csr-request`],
          CSR,
          ['key-generation', 'csr-generation', 'cert-req-info'],
          CODE,
          'csr-request',
        );
        const fmt = dig(cr, ['csr-generation', 'selected-format', 'format-identifier']);
        const alg = dig(cr, ['key-generation', 'selected-algorithm', 'algorithm-identifier']);
        const cri = str(cr, 'cert-req-info', CODE, 'csr-request');
        csrRequest = {
          selectedFormat: csrFormat(typeof fmt === 'string' ? fmt : ''),
          ...(typeof alg === 'string' ? { selectedAlgorithm: b64(alg, CODE, 'algorithm-identifier') } : {}),
          ...(cri !== undefined ? { certReqInfo: b64(cri, CODE, 'cert-req-info') } : {}),
        };
      }
      return build(
        str(o, 'error-type', CODE, 'error', true),
        str(o, 'error-tag', CODE, 'error', true),
        str(o, 'error-app-tag', CODE, 'error'),
        str(o, 'error-path', CODE, 'error'),
        str(o, 'error-message', CODE, 'error'),
        csrRequest,
      );
    });
  }
  const root = parseXml(body);
  if (root.name !== 'errors' || root.ns !== nsOf(R))
    throw invalid(CODE, 'root must be <errors> in the ietf-restconf namespace');
  return childrenNamed(root, 'error').map((e) => {
    const t = (n: string) => childNamed(e, n)?.text.trim();
    const cr = childNamed(e, 'error-info')?.children.find(
      (c) => c.name === 'csr-request' && c.ns === nsOf(CSR),
    );
    let csrRequest: CsrRequest | undefined;
    if (cr !== undefined) {
      const fmtEl = childNamed(
        childNamed(childNamed(cr, 'csr-generation') ?? cr, 'selected-format') ?? cr,
        'format-identifier',
      );
      const raw = fmtEl?.text.trim() ?? '';
      const alg = childNamed(
        childNamed(childNamed(cr, 'key-generation') ?? cr, 'selected-algorithm') ?? cr,
        'algorithm-identifier',
      );
      const cri = childNamed(cr, 'cert-req-info');
      csrRequest = {
        selectedFormat: csrFormat(raw.includes(':') ? raw.slice(raw.indexOf(':') + 1) : raw),
        ...(alg !== undefined
          ? { selectedAlgorithm: b64(alg.text.trim(), CODE, 'algorithm-identifier') }
          : {}),
        ...(cri !== undefined ? { certReqInfo: b64(cri.text.trim(), CODE, 'cert-req-info') } : {}),
      };
    }
    return build(
      t('error-type'),
      t('error-tag'),
      t('error-app-tag'),
      t('error-path'),
      t('error-message'),
      csrRequest,
    );
  });
}

function dig(o: unknown, path: string[]): unknown {
  let cur = o;
  for (const p of path) cur = isObject(cur) ? (cur[p] ?? cur[`${CSR}:${p}`]) : undefined;
  return cur;
}

function build(
  type: string | undefined,
  tag: string | undefined,
  appTag: string | undefined,
  path: string | undefined,
  message: string | undefined,
  csrRequest: CsrRequest | undefined,
): RestconfError {
  if (type !== 'transport' && type !== 'rpc' && type !== 'protocol' && type !== 'application')
    throw invalid(CODE, `bad error-type ${type}`);
  if (tag === undefined || tag === '') throw invalid(CODE, 'error-tag is required');
  return {
    type,
    tag,
    ...(appTag !== undefined ? { appTag } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(message !== undefined ? { message } : {}),
    ...(csrRequest !== undefined ? { csrRequest } : {}),
  };
}

/** RESTCONF `data-missing` (409): nothing to answer this device with. */
export function dataMissing(message: string): RestconfFailure {
  return new RestconfFailure('ERR_SZTP_DATA_MISSING', 409, {
    type: 'application',
    tag: 'data-missing',
    message,
  });
}
