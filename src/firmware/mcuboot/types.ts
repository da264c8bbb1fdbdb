/** Records of the MCUboot image format as Imprint reads and writes them. */

/** Image version: major.minor.revision+build (u8, u8, u16, u32 on the wire). */
export interface ImageVersion {
  readonly major: number;
  readonly minor: number;
  readonly revision: number;
  readonly build: number;
}

/** The 32-byte header, decoded. */
export interface ImageHeader {
  readonly loadAddr: number;
  /** Header size including padding: the payload starts here. */
  readonly hdrSize: number;
  /** Size of the protected TLV area including its info header, or 0 when there is none. */
  readonly protectedTlvSize: number;
  /** Payload size (excluding header and TLVs). */
  readonly imgSize: number;
  readonly flags: number;
  readonly version: ImageVersion;
}

/** One TLV record. */
export interface ImageTlv {
  readonly type: number;
  /** Offset of the value in the image. */
  readonly offset: number;
  readonly value: Uint8Array;
  /** True when the TLV lies in the protected (hashed) area. */
  readonly protected: boolean;
}

/** A dependency on another image in a multi-image setup. */
export interface ImageDependency {
  readonly imageId: number;
  readonly minVersion: ImageVersion;
}

/** A structurally valid image; nothing in it has been verified yet. */
export interface ParsedImage {
  /** The exact image bytes (no trailing data). */
  readonly bytes: Uint8Array;
  readonly header: ImageHeader;
  /** The payload as stored (ciphertext for encrypted images). */
  readonly payload: Uint8Array;
  /** Header + payload + protected TLV area: the bytes the hash covers (as stored). */
  readonly hashedLength: number;
  readonly tlvs: readonly ImageTlv[];
}

/** Everything policy needs from an image's protected TLVs. */
export interface ImageFacts {
  readonly version: ImageVersion;
  readonly securityCounter: number | undefined;
  readonly dependencies: readonly ImageDependency[];
  readonly vendorId: Uint8Array | undefined;
  readonly classId: Uint8Array | undefined;
  readonly encrypted: false | 'aes128' | 'aes256';
}

/** Formats a version the way imgtool prints it (`1.2.3+4`, build omitted when 0). */
export function formatVersion(v: ImageVersion): string {
  return `${v.major}.${v.minor}.${v.revision}${v.build === 0 ? '' : `+${v.build}`}`;
}

/** Compares two versions ignoring the build number, as MCUboot's downgrade prevention does. */
export function compareVersions(a: ImageVersion, b: ImageVersion): number {
  return a.major - b.major || a.minor - b.minor || a.revision - b.revision;
}
