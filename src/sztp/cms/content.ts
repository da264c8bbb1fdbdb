/** RFC 8572 §3.1 content types: conveyed information as unsigned ContentInfo, and its unwrapping. */
import 'reflect-metadata';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { ContentInfo } from '@peculiar/asn1-cms';
import * as asn1js from 'asn1js';
import { ValidationError } from '../../core/errors.ts';
import { OID, type Encoding } from '../types.ts';
import { parseContentInfo } from './signed-data.ts';

/** The eContentType / contentType for conveyed information in an encoding. */
export function conveyedContentType(encoding: Encoding): string {
  return encoding === 'json' ? OID.conveyedJson : OID.conveyedXml;
}

/** Wraps conveyed information bytes as an unsigned ContentInfo (content is an OCTET STRING). */
export function unsignedConveyed(bytes: Uint8Array, encoding: Encoding): Uint8Array {
  const ci = new ContentInfo({
    contentType: conveyedContentType(encoding),
    content: AsnConvert.serialize(new OctetString(bytes)),
  });
  return new Uint8Array(AsnConvert.serialize(ci));
}

/** The outer CMS type of an artifact: unsigned conveyed info, SignedData or EnvelopedData. */
export type CmsKind = 'unsigned' | 'signed' | 'enveloped';

/** Which kind of CMS artifact `der` is. Throws ERR_SZTP_CMS_MALFORMED, ERR_SZTP_CMS_UNSUPPORTED. */
export function cmsKind(der: Uint8Array): CmsKind {
  const t = parseContentInfo(der).contentType;
  if (t === OID.signedData) return 'signed';
  if (t === OID.envelopedData) return 'enveloped';
  if (t === OID.conveyedJson || t === OID.conveyedXml || t === OID.data) return 'unsigned';
  throw new ValidationError('ERR_SZTP_CMS_UNSUPPORTED', `unsupported CMS content type ${t}`);
}

/** The bytes of unsigned conveyed information (content type 42, 43 or id-data). Throws ERR_SZTP_CMS_MALFORMED. */
export function unsignedContent(der: Uint8Array): { contentType: string; content: Uint8Array } {
  const ci = parseContentInfo(der);
  const parsed = asn1js.fromBER(ci.content);
  if (parsed.offset === -1 || !(parsed.result instanceof asn1js.OctetString)) {
    throw new ValidationError(
      'ERR_SZTP_CMS_MALFORMED',
      'unsigned conveyed information must be an OCTET STRING',
    );
  }
  return { contentType: ci.contentType, content: new Uint8Array(parsed.result.getValue()) };
}

/** True when a content type may carry conveyed information (42, 43, or id-data as some peers send). */
export function isConveyedType(t: string): boolean {
  return t === OID.conveyedJson || t === OID.conveyedXml || t === OID.data;
}
