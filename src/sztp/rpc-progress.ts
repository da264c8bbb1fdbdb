/** RFC 8572 §7.1 `report-progress` input in JSON and XML. */
import {
  MODULES,
  nsOf,
  PROGRESS_TYPES,
  type Encoding,
  type ProgressType,
  type ReportProgressInput,
  type SshHostKey,
} from './types.ts';
import { childNamed, childrenNamed, parseXml, writeXml, type XmlNode } from './xml.ts';
import { b64, enc64, invalid, members, parseJsonText, str, type JsonObject } from './yang-json.ts';

const M = MODULES.server;
const NS = nsOf(M);
const CODE = 'ERR_SZTP_RPC_INVALID';

function progressType(v: string | undefined): ProgressType {
  if (v === undefined) throw invalid(CODE, 'progress-type is required');
  if (!(PROGRESS_TYPES as readonly string[]).includes(v)) throw invalid(CODE, `unknown progress-type ${v}`);
  return v as ProgressType;
}

/** Parses `report-progress` input. Throws ERR_SZTP_RPC_INVALID, ERR_SZTP_XML_MALFORMED. */
export function parseProgressInput(body: string, encoding: Encoding): ReportProgressInput {
  let type: string | undefined;
  let message: string | undefined;
  let keys: SshHostKey[] = [];
  let tas: Uint8Array[] = [];
  if (encoding === 'json') {
    const top = members(parseJsonText(body, CODE), M, ['input'], CODE, 'document');
    const o = members(
      top['input'],
      M,
      ['progress-type', 'message', 'ssh-host-keys', 'trust-anchor-certs'],
      CODE,
      'input',
    );
    type = str(o, 'progress-type', CODE, 'input', true);
    message = str(o, 'message', CODE, 'input');
    if (o['ssh-host-keys'] !== undefined) {
      const shk = members(o['ssh-host-keys'], M, ['ssh-host-key'], CODE, 'ssh-host-keys');
      const arr = shk['ssh-host-key'] ?? [];
      if (!Array.isArray(arr)) throw invalid(CODE, 'ssh-host-key must be a list');
      keys = arr.map((k) => {
        const e: JsonObject = members(k, M, ['algorithm', 'key-data'], CODE, 'ssh-host-key');
        return {
          algorithm: str(e, 'algorithm', CODE, 'ssh-host-key', true) ?? '',
          keyData: b64(str(e, 'key-data', CODE, 'ssh-host-key', true) ?? '', CODE, 'key-data'),
        };
      });
    }
    if (o['trust-anchor-certs'] !== undefined) {
      const tac = members(o['trust-anchor-certs'], M, ['trust-anchor-cert'], CODE, 'trust-anchor-certs');
      const arr = tac['trust-anchor-cert'] ?? [];
      if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string'))
        throw invalid(CODE, 'trust-anchor-cert must be a list of strings');
      tas = arr.map((x) => b64(x, CODE, 'trust-anchor-cert'));
    }
  } else {
    const root = parseXml(body);
    if (root.name !== 'input' || root.ns !== NS) throw invalid(CODE, `root must be <input xmlns="${NS}">`);
    for (const c of root.children) {
      if (
        c.ns !== NS ||
        !['progress-type', 'message', 'ssh-host-keys', 'trust-anchor-certs'].includes(c.name)
      ) {
        throw invalid(CODE, `unexpected element <${c.name}>`);
      }
    }
    type = childNamed(root, 'progress-type')?.text.trim();
    message = childNamed(root, 'message')?.text;
    const shk = childNamed(root, 'ssh-host-keys');
    keys = (shk ? childrenNamed(shk, 'ssh-host-key') : []).map((k) => ({
      algorithm: childNamed(k, 'algorithm')?.text.trim() ?? '',
      keyData: b64(childNamed(k, 'key-data')?.text.trim() ?? '', CODE, 'key-data'),
    }));
    const tac = childNamed(root, 'trust-anchor-certs');
    tas = (tac ? childrenNamed(tac, 'trust-anchor-cert') : []).map((e) =>
      b64(e.text.trim(), CODE, 'trust-anchor-cert'),
    );
  }
  return {
    progressType: progressType(type),
    ...(message !== undefined ? { message } : {}),
    ...(keys.length > 0 ? { sshHostKeys: keys } : {}),
    ...(tas.length > 0 ? { trustAnchorCerts: tas } : {}),
  };
}

/** Serialises `report-progress` input. */
export function serializeProgressInput(input: ReportProgressInput, encoding: Encoding): string {
  const keys = input.sshHostKeys ?? [];
  const tas = input.trustAnchorCerts ?? [];
  if (encoding === 'json') {
    return JSON.stringify({
      [`${M}:input`]: {
        'progress-type': input.progressType,
        ...(input.message !== undefined ? { message: input.message } : {}),
        ...(keys.length > 0
          ? {
              'ssh-host-keys': {
                'ssh-host-key': keys.map((k) => ({ algorithm: k.algorithm, 'key-data': enc64(k.keyData) })),
              },
            }
          : {}),
        ...(tas.length > 0 ? { 'trust-anchor-certs': { 'trust-anchor-cert': tas.map(enc64) } } : {}),
      },
    });
  }
  const ch: XmlNode[] = [{ name: 'progress-type', text: input.progressType }];
  if (input.message !== undefined) ch.push({ name: 'message', text: input.message });
  if (keys.length > 0) {
    ch.push({
      name: 'ssh-host-keys',
      children: keys.map((k) => ({
        name: 'ssh-host-key',
        children: [
          { name: 'algorithm', text: k.algorithm },
          { name: 'key-data', text: enc64(k.keyData) },
        ],
      })),
    });
  }
  if (tas.length > 0)
    ch.push({
      name: 'trust-anchor-certs',
      children: tas.map((t) => ({ name: 'trust-anchor-cert', text: enc64(t) })),
    });
  return writeXml({ name: 'input', ns: NS, children: ch });
}
