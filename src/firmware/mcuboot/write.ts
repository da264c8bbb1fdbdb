import { createHash } from 'node:crypto';
import { concatBytes } from '../../core/encoding.ts';
import { ValidationError } from '../../core/errors.ts';
import {
  IMAGE_F,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  TLV,
  TLV_INFO_MAGIC,
  TLV_PROT_INFO_MAGIC,
  TLV_VENDOR_MAX,
  TLV_VENDOR_MIN,
} from './constants.ts';
import { aesCtr, newImageKey, wrapImageKey, type EncryptionRecipient } from './encrypt.ts';
import { schemeOf, type McubootPublicKey } from './keys.ts';
import type { ImageDependency, ImageVersion } from './types.ts';

/** What goes into an image besides the key: the parameters imgtool's `sign` takes. */
export interface ImageSpec {
  /** The raw firmware (without header). */
  readonly payload: Uint8Array;
  readonly version: ImageVersion;
  /** `-H`: header size including padding (default 32). */
  readonly headerSize?: number;
  /** Header padding byte (imgtool `--pad-header` uses the erased value, 0xff). */
  readonly headerPadding?: 0x00 | 0xff;
  readonly loadAddr?: number;
  readonly romFixed?: number;
  readonly nonBootable?: boolean;
  readonly securityCounter?: number;
  readonly dependencies?: readonly ImageDependency[];
  /** 16-byte vendor and class UUIDs. */
  readonly vendorId?: Uint8Array;
  readonly classId?: Uint8Array;
  /** Vendor TLVs (0x00a0..0xfffe), protected. */
  readonly customTlvs?: readonly { readonly type: number; readonly value: Uint8Array }[];
  /** `hash` writes KEYHASH (default), `full` writes PUBKEY. */
  readonly publicKeyFormat?: 'hash' | 'full';
  readonly encryption?: {
    readonly recipient: EncryptionRecipient;
    readonly keyLength?: 16 | 32;
    /** Add the key TLV and flag but leave the payload in clear (imgtool `--clear`). */
    readonly clear?: boolean;
    /** Fixed payload key, to reproduce an image; random by default. */
    readonly plainKey?: Uint8Array;
  };
}

/** An image laid out and hashed, waiting for its signature. */
export interface ImageDraft {
  /** Digest the signature covers (SHA-256, SHA-384 for P-384 keys). */
  readonly digest: Uint8Array;
  /** Header + plaintext payload + protected TLVs. */
  readonly hashedRegion: Uint8Array;
  /** Completes the image with a signature in the TLV's encoding (DER for ECDSA). */
  finish(signature: Uint8Array): Uint8Array;
  /** The same image as its four consecutive parts (header, payload, protected TLVs, TLVs), without copying the payload. */
  finishParts(signature: Uint8Array): Uint8Array[];
}

function tlv(type: number, value: Uint8Array): Uint8Array {
  const h = new Uint8Array(4);
  const v = new DataView(h.buffer);
  v.setUint16(0, type, true);
  v.setUint16(2, value.length, true);
  return concatBytes(h, value);
}

function area(magic: number, entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length === 0) return new Uint8Array(0);
  const body = concatBytes(...entries);
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint16(0, magic, true);
  new DataView(h.buffer).setUint16(2, body.length + 4, true);
  return concatBytes(h, body);
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function bad(message: string): never {
  throw new ValidationError('ERR_FIRMWARE_BAD_IMAGE_SPEC', message);
}

function protectedTlvs(spec: ImageSpec): Uint8Array[] {
  const out: Uint8Array[] = [];
  if (spec.securityCounter !== undefined) out.push(tlv(TLV.SEC_CNT, u32(spec.securityCounter)));
  for (const d of spec.dependencies ?? []) {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setUint8(0, d.imageId);
    v.setUint8(4, d.minVersion.major);
    v.setUint8(5, d.minVersion.minor);
    v.setUint16(6, d.minVersion.revision, true);
    v.setUint32(8, d.minVersion.build, true);
    out.push(tlv(TLV.DEPENDENCY, b));
  }
  if (spec.vendorId !== undefined) out.push(tlv(TLV.UUID_VID, spec.vendorId));
  if (spec.classId !== undefined) out.push(tlv(TLV.UUID_CID, spec.classId));
  for (const c of spec.customTlvs ?? []) {
    if (c.type < TLV_VENDOR_MIN || c.type > TLV_VENDOR_MAX)
      bad(`custom TLV type 0x${c.type.toString(16)} is outside the vendor range`);
    out.push(tlv(c.type, c.value));
  }
  return out;
}

function validate(spec: ImageSpec, headerSize: number): void {
  const sc = spec.securityCounter;
  if (headerSize < IMAGE_HEADER_SIZE || headerSize > 0xffff) bad('header size must be 32..65535');
  if (sc !== undefined && (!Number.isInteger(sc) || sc < 0 || sc > 0xffffffff))
    bad('security counter must be a u32');
  for (const id of [spec.vendorId, spec.classId])
    if (id !== undefined && id.length !== 16) bad('UUIDs are 16 bytes');
  if (spec.loadAddr !== undefined && spec.romFixed !== undefined)
    bad('load address and ROM-fixed address are exclusive');
}

/**
 * Lays out an image exactly as imgtool 2.4 does for the same inputs and hashes it; the caller signs
 * `digest` (possibly after approvals) and calls `finish`. Throws ERR_FIRMWARE_BAD_IMAGE_SPEC.
 */
export function draftImage(spec: ImageSpec, key: McubootPublicKey): ImageDraft {
  const headerSize = spec.headerSize ?? IMAGE_HEADER_SIZE;
  validate(spec, headerSize);
  const enc = spec.encryption;
  const keyLength = enc?.keyLength ?? 16;
  let payload = spec.payload;
  // imgtool zero-pads an encrypted payload to the AES block size, even with --clear.
  if (enc !== undefined && payload.length % 16 !== 0)
    payload = concatBytes(payload, new Uint8Array(16 - (payload.length % 16)));
  const prot = area(TLV_PROT_INFO_MAGIC, protectedTlvs(spec));
  if (prot.length > 0xffff) bad('protected TLV area exceeds 64 KiB');
  let flags = 0;
  if (enc !== undefined) flags |= keyLength === 32 ? IMAGE_F.ENCRYPTED_AES256 : IMAGE_F.ENCRYPTED_AES128;
  if ((spec.loadAddr ?? 0) !== 0) flags |= IMAGE_F.RAM_LOAD;
  if (spec.romFixed !== undefined) flags |= IMAGE_F.ROM_FIXED;
  if (spec.nonBootable === true) flags |= IMAGE_F.NON_BOOTABLE;
  const header = new Uint8Array(headerSize).fill(spec.headerPadding ?? 0xff);
  const v = new DataView(header.buffer);
  v.setUint32(0, IMAGE_MAGIC, true);
  v.setUint32(4, spec.romFixed ?? spec.loadAddr ?? 0, true);
  v.setUint16(8, headerSize, true);
  v.setUint16(10, prot.length, true);
  v.setUint32(12, payload.length, true);
  v.setUint32(16, flags, true);
  v.setUint8(20, spec.version.major);
  v.setUint8(21, spec.version.minor);
  v.setUint16(22, spec.version.revision, true);
  v.setUint32(24, spec.version.build, true);
  v.setUint32(28, 0, true);
  const { sigTlv, hash } = schemeOf(key.type);
  const h = createHash(hash).update(header).update(payload).update(prot).digest();
  const digest = new Uint8Array(h);
  return {
    digest,
    // Built on demand: copying a 16 MiB payload only to compare it would halve signing throughput.
    get hashedRegion() {
      return concatBytes(header, payload, prot);
    },
    finish(signature: Uint8Array): Uint8Array {
      return concatBytes(...this.finishParts(signature));
    },
    finishParts(signature: Uint8Array): Uint8Array[] {
      const hashTlv = hash === 'sha384' ? TLV.SHA384 : TLV.SHA256;
      const unprot = [
        tlv(hashTlv, digest),
        spec.publicKeyFormat === 'full' ? tlv(TLV.PUBKEY, key.bytes) : tlv(TLV.KEYHASH, key.hash),
        tlv(sigTlv, signature),
      ];
      let body = payload;
      if (enc !== undefined) {
        const plainKey = enc.plainKey ?? newImageKey(keyLength);
        if (plainKey.length !== keyLength) bad('payload key length does not match the key length');
        const wrapped = wrapImageKey(enc.recipient, plainKey);
        unprot.push(tlv(wrapped.type, wrapped.value));
        if (enc.clear !== true) body = aesCtr(plainKey, payload);
        if (enc.plainKey === undefined) plainKey.fill(0);
      }
      return [header, body, prot, area(TLV_INFO_MAGIC, unprot)];
    },
  };
}
