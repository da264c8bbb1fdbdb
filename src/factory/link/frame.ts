import { crc32 } from 'node:zlib';
import { cobsDecode, cobsEncode } from './cobs.ts';

/** Wire version of the framing (first byte of every frame). */
export const FRAME_VERSION = 1;
/** Largest decoded frame accepted (header + payload + CRC). */
export const MAX_FRAME = 8192;
/** Frame kinds. */
export const FRAME_KIND = { request: 1, response: 2 } as const;
/** One of FRAME_KIND's values. */
export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND];

/** A decoded, CRC-checked frame. */
export interface Frame {
  readonly kind: FrameKind;
  readonly seq: number;
  readonly payload: Uint8Array;
}

const HEADER = 6;
/** Longest COBS block a frame of MAX_FRAME bytes can encode to (longer runs are dropped as 'oversize'). */
const MAX_BLOCK = MAX_FRAME + MAX_FRAME / 254 + 2;

/** Encodes a frame: version, kind, seq (u32 BE), payload, CRC-32 (BE) of all that, COBS, then 0x00. */
export function encodeFrame(f: Frame): Uint8Array {
  const raw = new Uint8Array(HEADER + f.payload.length + 4);
  const v = new DataView(raw.buffer);
  raw[0] = FRAME_VERSION;
  raw[1] = f.kind;
  v.setUint32(2, f.seq >>> 0);
  raw.set(f.payload, HEADER);
  v.setUint32(HEADER + f.payload.length, crc32(raw.subarray(0, HEADER + f.payload.length)) >>> 0);
  const enc = cobsEncode(raw);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

/** Why a received block was not a frame. */
export type FrameFault = 'cobs' | 'short' | 'crc' | 'version' | 'kind' | 'oversize';

/**
 * Splits a byte stream on 0x00 and checks every block; good frames and faults are reported in order.
 * Bytes beyond MAX_FRAME without a delimiter are discarded as one 'oversize' fault.
 */
export class FrameDecoder {
  #buf: Uint8Array[] = [];
  #len = 0;
  #skipping = false;

  /** Feeds bytes; returns what they completed. */
  push(chunk: Uint8Array): (Frame | { fault: FrameFault })[] {
    const out: (Frame | { fault: FrameFault })[] = [];
    let start = 0;
    for (let i = chunk.indexOf(0); i >= 0; i = chunk.indexOf(0, start)) {
      let block: Uint8Array;
      if (this.#len === 0 && !this.#skipping && i - start <= MAX_BLOCK) {
        // The whole block is in this chunk (the usual case on TCP): decoded in place, no copies.
        block = chunk.subarray(start, i);
      } else {
        this.#append(chunk.subarray(start, i), out);
        block = this.#take();
      }
      start = i + 1;
      if (this.#skipping) this.#skipping = false;
      else if (block.length > 0) out.push(decodeBlock(block));
    }
    this.#append(chunk.subarray(start), out);
    return out;
  }

  #append(part: Uint8Array, out: (Frame | { fault: FrameFault })[]): void {
    if (part.length === 0 || this.#skipping) return;
    this.#buf.push(part.slice());
    this.#len += part.length;
    if (this.#len > MAX_BLOCK) {
      this.#take();
      this.#skipping = true;
      out.push({ fault: 'oversize' });
    }
  }

  #take(): Uint8Array {
    const b = Buffer.concat(this.#buf, this.#len);
    this.#buf = [];
    this.#len = 0;
    return b;
  }
}

function decodeBlock(block: Uint8Array): Frame | { fault: FrameFault } {
  const raw = cobsDecode(block);
  if (raw === undefined) return { fault: 'cobs' };
  if (raw.length < HEADER + 4) return { fault: 'short' };
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const body = raw.subarray(0, raw.length - 4);
  if (crc32(body) >>> 0 !== v.getUint32(raw.length - 4)) return { fault: 'crc' };
  if (raw[0] !== FRAME_VERSION) return { fault: 'version' };
  const kind = raw[1];
  if (kind !== FRAME_KIND.request && kind !== FRAME_KIND.response) return { fault: 'kind' };
  return { kind, seq: v.getUint32(2), payload: raw.subarray(HEADER, raw.length - 4) };
}
