/** MCUboot image format constants (boot/bootutil/include/bootutil/image.h, scripts/imgtool/image.py). */

/** Image header magic, little-endian u32 at offset 0. */
export const IMAGE_MAGIC = 0x96f3b83d;
/** Size of the fixed header structure; `hdr_size` may be larger (padding). */
export const IMAGE_HEADER_SIZE = 32;
/** TLV info magic of the unprotected (unsigned) area. */
export const TLV_INFO_MAGIC = 0x6907;
/** TLV info magic of the protected (hashed) area. */
export const TLV_PROT_INFO_MAGIC = 0x6908;
/** Size of a TLV info header and of a TLV header. */
export const TLV_HEADER_SIZE = 4;

/** Header flags. */
export const IMAGE_F = {
  PIC: 0x01,
  ENCRYPTED_AES128: 0x04,
  ENCRYPTED_AES256: 0x08,
  NON_BOOTABLE: 0x10,
  RAM_LOAD: 0x20,
  ROM_FIXED: 0x100,
  COMPRESSED_LZMA1: 0x200,
  COMPRESSED_LZMA2: 0x400,
  COMPRESSED_ARM_THUMB: 0x800,
} as const;

/** TLV type ids as imgtool 2.4 writes them. */
export const TLV = {
  KEYHASH: 0x01,
  PUBKEY: 0x02,
  SHA256: 0x10,
  SHA384: 0x11,
  SHA512: 0x12,
  RSA2048_PSS: 0x20,
  ECDSA224: 0x21,
  ECDSA_SIG: 0x22,
  RSA3072_PSS: 0x23,
  ED25519: 0x24,
  SIG_PURE: 0x25,
  ENC_RSA2048: 0x30,
  ENC_KW: 0x31,
  ENC_EC256: 0x32,
  ENC_X25519: 0x33,
  ENC_X25519_SHA512: 0x34,
  DEPENDENCY: 0x40,
  SEC_CNT: 0x50,
  BOOT_RECORD: 0x60,
  DECOMP_SIZE: 0x70,
  DECOMP_SHA: 0x71,
  DECOMP_SIGNATURE: 0x72,
  COMP_DEC_SIZE: 0x73,
  UUID_VID: 0x74,
  UUID_CID: 0x75,
} as const;

/** Vendor-reserved custom TLV range (imgtool `--custom-tlv`), always in the protected area. */
export const TLV_VENDOR_MIN = 0x00a0;
/** Upper bound of the vendor-reserved range. */
export const TLV_VENDOR_MAX = 0xfffe;

/** TLVs that must sit in the protected (hashed) area: their values are policy the signature must cover. */
export const PROTECTED_ONLY: ReadonlySet<number> = new Set([
  TLV.DEPENDENCY,
  TLV.SEC_CNT,
  TLV.BOOT_RECORD,
  TLV.DECOMP_SIZE,
  TLV.DECOMP_SHA,
  TLV.COMP_DEC_SIZE,
  TLV.UUID_VID,
  TLV.UUID_CID,
]);

/** TLVs that must sit in the unprotected area (they are computed over the hashed region). */
export const UNPROTECTED_ONLY: ReadonlySet<number> = new Set([
  TLV.KEYHASH,
  TLV.PUBKEY,
  TLV.SHA256,
  TLV.SHA384,
  TLV.SHA512,
  TLV.RSA2048_PSS,
  TLV.ECDSA224,
  TLV.ECDSA_SIG,
  TLV.RSA3072_PSS,
  TLV.ED25519,
  TLV.SIG_PURE,
  TLV.ENC_RSA2048,
  TLV.ENC_KW,
  TLV.ENC_EC256,
  TLV.ENC_X25519,
  TLV.ENC_X25519_SHA512,
]);

/** Signature TLV ids. */
export const SIGNATURE_TLVS: ReadonlySet<number> = new Set([
  TLV.RSA2048_PSS,
  TLV.ECDSA224,
  TLV.ECDSA_SIG,
  TLV.RSA3072_PSS,
  TLV.ED25519,
]);

/** Encryption-key TLV ids. */
export const ENCRYPTION_TLVS: ReadonlySet<number> = new Set([
  TLV.ENC_RSA2048,
  TLV.ENC_KW,
  TLV.ENC_EC256,
  TLV.ENC_X25519,
  TLV.ENC_X25519_SHA512,
]);

/** Exact value lengths for fixed-size TLVs; a TLV of another length is malformed. */
export const FIXED_LENGTH: ReadonlyMap<number, readonly number[]> = new Map([
  [TLV.KEYHASH, [32, 48, 64]],
  [TLV.SHA256, [32]],
  [TLV.SHA384, [48]],
  [TLV.SHA512, [64]],
  [TLV.RSA2048_PSS, [256]],
  [TLV.RSA3072_PSS, [384]],
  [TLV.ED25519, [64]],
  [TLV.SIG_PURE, [1]],
  [TLV.ENC_RSA2048, [256]],
  [TLV.ENC_KW, [24, 40]],
  [TLV.ENC_EC256, [65 + 32 + 16, 65 + 32 + 32]],
  [TLV.ENC_X25519, [32 + 32 + 16, 32 + 32 + 32]],
  [TLV.ENC_X25519_SHA512, [32 + 64 + 16, 32 + 64 + 32]],
  [TLV.DEPENDENCY, [12]],
  [TLV.SEC_CNT, [4]],
  [TLV.DECOMP_SIZE, [4]],
  [TLV.COMP_DEC_SIZE, [4]],
  [TLV.UUID_VID, [16]],
  [TLV.UUID_CID, [16]],
]);
