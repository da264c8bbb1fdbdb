/**
 * A small strict XML reader and writer for the YANG-modelled SZTP documents (RFC 7950 §7 XML encoding).
 * No DTDs, no external entities, namespaces resolved; enough for RESTCONF bodies and conveyed information.
 */
import { ValidationError } from '../core/errors.ts';

/** One parsed element: its local name, resolved namespace, attributes, children and text. */
export interface XmlElement {
  readonly name: string;
  readonly ns: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** Concatenated character data directly inside this element. */
  readonly text: string;
  /** The source text between the start and end tags (anydata content kept verbatim). */
  readonly inner: string;
  /** Namespace prefix bindings in scope at this element (for re-serialising `inner`). */
  readonly scope: Readonly<Record<string, string>>;
}

const MAX_DEPTH = 64;
const MAX_BYTES = 4 * 1024 * 1024;

function bad(message: string): ValidationError {
  return new ValidationError('ERR_SZTP_XML_MALFORMED', `malformed XML: ${message}`);
}

function decodeEntities(s: string): string {
  return s.replace(
    /&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);|&/g,
    (m: string, e: string | undefined) => {
      if (e === undefined) throw bad('bare "&"');
      if (e === 'lt') return '<';
      if (e === 'gt') return '>';
      if (e === 'amp') return '&';
      if (e === 'quot') return '"';
      if (e === 'apos') return "'";
      const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      if (!Number.isFinite(code) || code > 0x10ffff) throw bad(`bad character reference ${m}`);
      return String.fromCodePoint(code);
    },
  );
}

/** Escapes text or attribute content for XML output. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Parses one XML document into its root element. Throws ERR_SZTP_XML_MALFORMED. */
export function parseXml(source: string): XmlElement {
  if (source.length > MAX_BYTES) throw bad('document too large');
  const p = { s: source, i: 0 };
  skipProlog(p);
  if (p.s[p.i] !== '<') throw bad('no root element');
  const root = parseElement(p, { xml: 'http://www.w3.org/XML/1998/namespace' }, 0);
  skipMisc(p);
  if (p.i !== p.s.length) throw bad('content after the root element');
  return root;
}

interface Cursor {
  s: string;
  i: number;
}

function skipWs(p: Cursor): void {
  while (p.i < p.s.length && /\s/.test(p.s[p.i] ?? '')) p.i++;
}

function skipMisc(p: Cursor): void {
  for (;;) {
    skipWs(p);
    if (p.s.startsWith('<!--', p.i)) skipComment(p);
    else if (p.s.startsWith('<?', p.i)) skipPi(p);
    else return;
  }
}

function skipProlog(p: Cursor): void {
  if (p.s.charCodeAt(0) === 0xfeff) p.i = 1;
  skipMisc(p);
  if (p.s.startsWith('<!DOCTYPE', p.i)) throw bad('DOCTYPE is not allowed');
}

function skipComment(p: Cursor): void {
  const end = p.s.indexOf('-->', p.i + 4);
  if (end < 0) throw bad('unterminated comment');
  p.i = end + 3;
}

function skipPi(p: Cursor): void {
  const end = p.s.indexOf('?>', p.i + 2);
  if (end < 0) throw bad('unterminated processing instruction');
  p.i = end + 2;
}

const NAME = /[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?/y;

function readName(p: Cursor): string {
  NAME.lastIndex = p.i;
  const m = NAME.exec(p.s);
  if (m === null) throw bad(`expected a name at offset ${p.i}`);
  p.i += m[0].length;
  return m[0];
}

function splitName(qname: string): [string | undefined, string] {
  const c = qname.indexOf(':');
  return c < 0 ? [undefined, qname] : [qname.slice(0, c), qname.slice(c + 1)];
}

function parseElement(p: Cursor, parentScope: Record<string, string>, depth: number): XmlElement {
  if (depth > MAX_DEPTH) throw bad('nesting too deep');
  p.i++; // '<'
  const qname = readName(p);
  const rawAttrs: [string, string][] = [];
  for (;;) {
    skipWs(p);
    const c = p.s[p.i];
    if (c === '/' || c === '>') break;
    if (c === undefined) throw bad('unterminated start tag');
    const an = readName(p);
    skipWs(p);
    if (p.s[p.i] !== '=') throw bad(`attribute ${an} without value`);
    p.i++;
    skipWs(p);
    const q = p.s[p.i];
    if (q !== '"' && q !== "'") throw bad('unquoted attribute');
    const end = p.s.indexOf(q, p.i + 1);
    if (end < 0) throw bad('unterminated attribute');
    const v = p.s.slice(p.i + 1, end);
    if (v.includes('<')) throw bad('"<" in attribute');
    rawAttrs.push([an, decodeEntities(v)]);
    p.i = end + 1;
  }
  const scope: Record<string, string> = { ...parentScope };
  const attrs: Record<string, string> = {};
  for (const [an, v] of rawAttrs) {
    if (an === 'xmlns') scope[''] = v;
    else if (an.startsWith('xmlns:')) scope[an.slice(6)] = v;
  }
  for (const [an, v] of rawAttrs) {
    if (an === 'xmlns' || an.startsWith('xmlns:')) continue;
    if (an in attrs) throw bad(`duplicate attribute ${an}`);
    attrs[an] = v;
  }
  const [prefix, name] = splitName(qname);
  const ns = scope[prefix ?? ''];
  if (prefix !== undefined && ns === undefined) throw bad(`unbound prefix ${prefix}`);
  if (p.s[p.i] === '/') {
    if (p.s[p.i + 1] !== '>') throw bad('bad empty-element tag');
    p.i += 2;
    return { name, ns: ns ?? '', attrs, children: [], text: '', inner: '', scope };
  }
  p.i++; // '>'
  const start = p.i;
  const children: XmlElement[] = [];
  let text = '';
  for (;;) {
    const lt = p.s.indexOf('<', p.i);
    if (lt < 0) throw bad(`unclosed element ${qname}`);
    text += decodeEntities(p.s.slice(p.i, lt));
    p.i = lt;
    if (p.s.startsWith('</', p.i)) {
      const end = p.i;
      p.i += 2;
      const closing = readName(p);
      if (closing !== qname) throw bad(`</${closing}> closes <${qname}>`);
      skipWs(p);
      if (p.s[p.i] !== '>') throw bad('bad end tag');
      p.i++;
      return { name, ns: ns ?? '', attrs, children, text, inner: p.s.slice(start, end), scope };
    }
    if (p.s.startsWith('<!--', p.i)) skipComment(p);
    else if (p.s.startsWith('<![CDATA[', p.i)) {
      const end = p.s.indexOf(']]>', p.i);
      if (end < 0) throw bad('unterminated CDATA');
      text += p.s.slice(p.i + 9, end);
      p.i = end + 3;
    } else if (p.s.startsWith('<?', p.i)) skipPi(p);
    else if (p.s.startsWith('<!', p.i)) throw bad('declarations are not allowed');
    else children.push(parseElement(p, scope, depth + 1));
  }
}

/** A node to serialise: element name, optional namespace (emitted when it differs from the parent's), content. */
export interface XmlNode {
  readonly name: string;
  readonly ns?: string;
  /** Text content (escaped on output), child nodes, or raw pre-serialised XML. */
  readonly text?: string;
  readonly children?: readonly XmlNode[];
  readonly raw?: string;
  /** Extra attributes (e.g. prefix bindings for identityref values). */
  readonly attrs?: Readonly<Record<string, string>>;
}

/** Serialises a node tree with two-space indentation and an XML declaration-free header. */
export function writeXml(node: XmlNode, parentNs = '', indent = ''): string {
  const extra = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const nsAttr =
    (node.ns !== undefined && node.ns !== parentNs ? ` xmlns="${escapeXml(node.ns)}"` : '') + extra;
  const ns = node.ns ?? parentNs;
  const open = `${indent}<${node.name}${nsAttr}`;
  if (node.raw !== undefined) return `${open}>${node.raw}</${node.name}>\n`;
  if (node.children !== undefined && node.children.length > 0) {
    const inner = node.children.map((c) => writeXml(c, ns, `${indent}  `)).join('');
    return `${open}>\n${inner}${indent}</${node.name}>\n`;
  }
  if (node.text === undefined || node.text === '') return `${open}/>\n`;
  return `${open}>${escapeXml(node.text)}</${node.name}>\n`;
}

/** The children of `el` named `name` (in `el`'s namespace unless given). */
export function childrenNamed(el: XmlElement, name: string, ns?: string): XmlElement[] {
  return el.children.filter((c) => c.name === name && (ns === undefined || c.ns === ns));
}

/** The single child named `name`, or undefined. Throws ERR_SZTP_XML_MALFORMED on duplicates. */
export function childNamed(el: XmlElement, name: string): XmlElement | undefined {
  const all = childrenNamed(el, name);
  if (all.length > 1) throw bad(`<${name}> appears more than once`);
  return all[0];
}
