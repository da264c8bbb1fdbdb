import { ValidationError } from '../../core/errors.ts';
import {
  FIXED_LENGTH,
  IMAGE_F,
  IMAGE_HEADER_SIZE,
  IMAGE_MAGIC,
  PROTECTED_ONLY,
  TLV,
  TLV_HEADER_SIZE,
  TLV_INFO_MAGIC,
  TLV_PROT_INFO_MAGIC,
  TLV_VENDOR_MAX,
  TLV_VENDOR_MIN,
  UNPROTECTED_ONLY,
} from './constants.ts';
import type { ImageDependency, ImageFacts, ImageHeader, ImageTlv, ParsedImage } from './types.ts';

function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new ValidationError(code, message, details === undefined ? {} : { details });
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes the 32-byte header. Throws ERR_FIRMWARE_IMAGE_TRUNCATED, ERR_FIRMWARE_BAD_MAGIC, ERR_FIRMWARE_BAD_HEADER. */
export function parseHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < IMAGE_HEADER_SIZE) {
    fail('ERR_FIRMWARE_IMAGE_TRUNCATED', 'image is shorter than its header', { length: bytes.length });
  }
  const v = view(bytes);
  if (v.getUint32(0, true) !== IMAGE_MAGIC) {
    fail('ERR_FIRMWARE_BAD_MAGIC', 'not an MCUboot image (bad header magic)');
  }
  const header: ImageHeader = {
    loadAddr: v.getUint32(4, true),
    hdrSize: v.getUint16(8, true),
    protectedTlvSize: v.getUint16(10, true),
    imgSize: v.getUint32(12, true),
    flags: v.getUint32(16, true),
    version: {
      major: v.getUint8(20),
      minor: v.getUint8(21),
      revision: v.getUint16(22, true),
      build: v.getUint32(24, true),
    },
  };
  if (header.hdrSize < IMAGE_HEADER_SIZE) {
    fail('ERR_FIRMWARE_BAD_HEADER', 'header size is below 32 bytes', { hdrSize: header.hdrSize });
  }
  if (v.getUint32(28, true) !== 0) fail('ERR_FIRMWARE_BAD_HEADER', 'reserved header word is not zero');
  if ((header.flags & IMAGE_F.ENCRYPTED_AES128) !== 0 && (header.flags & IMAGE_F.ENCRYPTED_AES256) !== 0) {
    fail('ERR_FIRMWARE_BAD_HEADER', 'both AES-128 and AES-256 encryption flags are set');
  }
  if (header.protectedTlvSize !== 0 && header.protectedTlvSize < TLV_HEADER_SIZE) {
    fail('ERR_FIRMWARE_BAD_HEADER', 'protected TLV size is smaller than its info header');
  }
  return header;
}

/**
 * The length of the image at the start of `bytes` (header + payload + TLV areas), for reading an
 * image out of a flash slot that continues with erased bytes and a trailer. Throws the parse codes.
 */
export function imageLength(bytes: Uint8Array): number {
  const h = parseHeader(bytes);
  const end = h.hdrSize + h.imgSize + h.protectedTlvSize;
  if (end + TLV_HEADER_SIZE > bytes.length) {
    fail('ERR_FIRMWARE_IMAGE_TRUNCATED', 'image runs past the end of the data');
  }
  const v = view(bytes);
  if (v.getUint16(end, true) !== TLV_INFO_MAGIC)
    fail('ERR_FIRMWARE_BAD_TLV_MAGIC', 'no TLV area after the image');
  return end + v.getUint16(end + 2, true);
}

/**
 * Strictly parses a whole image: exact length (no truncation, no padding after the TLVs), header
 * padding all 0x00 or all 0xff, TLV areas in bounds and non-overlapping, every TLV length exact.
 * Throws ERR_FIRMWARE_IMAGE_TRUNCATED, ERR_FIRMWARE_TRAILING_DATA, ERR_FIRMWARE_BAD_MAGIC,
 * ERR_FIRMWARE_BAD_HEADER, ERR_FIRMWARE_BAD_TLV_MAGIC, ERR_FIRMWARE_TLV_AREA_MISMATCH,
 * ERR_FIRMWARE_TLV_OUT_OF_BOUNDS, ERR_FIRMWARE_BAD_TLV_LENGTH, ERR_FIRMWARE_TLV_MISPLACED, ERR_FIRMWARE_TLV_UNKNOWN,
 * ERR_FIRMWARE_TLV_DUPLICATE.
 */
export function parseImage(bytes: Uint8Array): ParsedImage {
  const header = parseHeader(bytes);
  const pad = bytes.subarray(IMAGE_HEADER_SIZE, Math.min(header.hdrSize, bytes.length));
  if (pad.length > 0 && !(pad.every((b) => b === 0) || pad.every((b) => b === 0xff))) {
    fail('ERR_FIRMWARE_BAD_HEADER', 'header padding is neither all 0x00 nor all 0xff');
  }
  const payloadEnd = header.hdrSize + header.imgSize;
  if (payloadEnd + TLV_HEADER_SIZE > bytes.length) {
    fail('ERR_FIRMWARE_IMAGE_TRUNCATED', 'payload runs past the end of the image', {
      expected: payloadEnd + TLV_HEADER_SIZE,
      length: bytes.length,
    });
  }
  const v = view(bytes);
  const tlvs: ImageTlv[] = [];
  let offset = payloadEnd;
  const firstMagic = v.getUint16(offset, true);
  if (header.protectedTlvSize !== 0) {
    if (firstMagic !== TLV_PROT_INFO_MAGIC) {
      fail('ERR_FIRMWARE_BAD_TLV_MAGIC', 'header announces protected TLVs but none follow the payload');
    }
    const total = v.getUint16(offset + 2, true);
    if (total !== header.protectedTlvSize) {
      fail('ERR_FIRMWARE_TLV_AREA_MISMATCH', 'protected TLV size disagrees with the header', {
        header: header.protectedTlvSize,
        area: total,
      });
    }
    readArea(bytes, offset, total, true, tlvs);
    offset += total;
  } else if (firstMagic === TLV_PROT_INFO_MAGIC) {
    fail('ERR_FIRMWARE_TLV_AREA_MISMATCH', 'protected TLV area present but the header says it is empty');
  }
  if (offset + TLV_HEADER_SIZE > bytes.length) {
    fail('ERR_FIRMWARE_IMAGE_TRUNCATED', 'unprotected TLV area is missing');
  }
  if (v.getUint16(offset, true) !== TLV_INFO_MAGIC) {
    fail('ERR_FIRMWARE_BAD_TLV_MAGIC', 'unprotected TLV area has the wrong magic', { offset });
  }
  const total = v.getUint16(offset + 2, true);
  readArea(bytes, offset, total, false, tlvs);
  const end = offset + total;
  if (end !== bytes.length) {
    fail('ERR_FIRMWARE_TRAILING_DATA', 'data follows the TLV area', {
      imageLength: end,
      length: bytes.length,
    });
  }
  checkDuplicates(tlvs);
  return {
    bytes,
    header,
    payload: bytes.subarray(header.hdrSize, payloadEnd),
    hashedLength: payloadEnd + header.protectedTlvSize,
    tlvs,
  };
}

function readArea(bytes: Uint8Array, start: number, total: number, prot: boolean, out: ImageTlv[]): void {
  const v = view(bytes);
  const end = start + total;
  if (total < TLV_HEADER_SIZE)
    fail('ERR_FIRMWARE_BAD_TLV_LENGTH', 'TLV area is shorter than its info header');
  if (end > bytes.length) {
    fail('ERR_FIRMWARE_IMAGE_TRUNCATED', 'TLV area runs past the end of the image', { start, total });
  }
  let p = start + TLV_HEADER_SIZE;
  while (p < end) {
    if (p + TLV_HEADER_SIZE > end)
      fail('ERR_FIRMWARE_BAD_TLV_LENGTH', 'TLV header crosses the area end', { offset: p });
    const type = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    const valueAt = p + TLV_HEADER_SIZE;
    if (valueAt + len > end) {
      fail('ERR_FIRMWARE_TLV_OUT_OF_BOUNDS', 'TLV value runs past its area', {
        offset: p,
        type,
        length: len,
      });
    }
    const allowed = FIXED_LENGTH.get(type);
    if (allowed !== undefined && !allowed.includes(len)) {
      fail('ERR_FIRMWARE_BAD_TLV_LENGTH', `TLV 0x${type.toString(16)} has length ${len}`, {
        offset: p,
        type,
      });
    }
    if (type === TLV.ECDSA_SIG && (len < 8 || len > 139)) {
      fail('ERR_FIRMWARE_BAD_TLV_LENGTH', 'ECDSA signature TLV has an impossible length', { offset: p });
    }
    const vendor = type >= TLV_VENDOR_MIN && type <= TLV_VENDOR_MAX;
    const belongsHere = prot ? PROTECTED_ONLY.has(type) || vendor : UNPROTECTED_ONLY.has(type);
    const belongsThere = prot ? UNPROTECTED_ONLY.has(type) : PROTECTED_ONLY.has(type) || vendor;
    if (!belongsHere) {
      // Unknown ids are refused rather than skipped, so a damaged type byte cannot hide a TLV.
      fail(
        belongsThere ? 'ERR_FIRMWARE_TLV_MISPLACED' : 'ERR_FIRMWARE_TLV_UNKNOWN',
        `TLV 0x${type.toString(16)} is not allowed in the ${prot ? 'protected' : 'unprotected'} area`,
        { offset: p, type },
      );
    }
    out.push({ type, offset: valueAt, value: bytes.subarray(valueAt, valueAt + len), protected: prot });
    p = valueAt + len;
  }
}

const SINGLE = [
  TLV.SHA256,
  TLV.SHA384,
  TLV.SHA512,
  TLV.SEC_CNT,
  TLV.UUID_VID,
  TLV.UUID_CID,
  TLV.KEYHASH,
  TLV.PUBKEY,
];

function checkDuplicates(tlvs: readonly ImageTlv[]): void {
  for (const t of SINGLE) {
    if (tlvs.filter((x) => x.type === t).length > 1) {
      fail('ERR_FIRMWARE_TLV_DUPLICATE', `TLV 0x${t.toString(16)} appears more than once`, { type: t });
    }
  }
}

/** First TLV of a type, if any. */
export function findTlv(image: ParsedImage, type: number): ImageTlv | undefined {
  return image.tlvs.find((t) => t.type === type);
}

/** The policy facts carried by the image's header and protected TLVs. */
export function imageFacts(image: ParsedImage): ImageFacts {
  const sec = findTlv(image, TLV.SEC_CNT);
  const deps: ImageDependency[] = image.tlvs
    .filter((t) => t.type === TLV.DEPENDENCY)
    .map((t) => {
      const v = view(t.value);
      return {
        imageId: v.getUint8(0),
        minVersion: {
          major: v.getUint8(4),
          minor: v.getUint8(5),
          revision: v.getUint16(6, true),
          build: v.getUint32(8, true),
        },
      };
    });
  const f = image.header.flags;
  return {
    version: image.header.version,
    securityCounter: sec === undefined ? undefined : view(sec.value).getUint32(0, true),
    dependencies: deps,
    vendorId: findTlv(image, TLV.UUID_VID)?.value,
    classId: findTlv(image, TLV.UUID_CID)?.value,
    encrypted:
      (f & IMAGE_F.ENCRYPTED_AES128) !== 0
        ? 'aes128'
        : (f & IMAGE_F.ENCRYPTED_AES256) !== 0
          ? 'aes256'
          : false,
  };
}
