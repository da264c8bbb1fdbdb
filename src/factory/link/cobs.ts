/**
 * Consistent Overhead Byte Stuffing: frames never contain 0x00, so 0x00 can delimit them.
 * Runs between zeros are found with the native indexOf and copied with set (firmware chunks are
 * kilobytes of mostly non-zero bytes; a byte-at-a-time loop was the link's largest cost per chunk).
 */

/** COBS-encodes `data` (without the trailing delimiter). */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + Math.ceil(data.length / 254) + 1);
  let o = 0;
  let i = 0;
  for (;;) {
    // One block: the bytes up to the next zero (which the block's code implies) or 254 of them.
    // (The search is bounded to the block's window: a full scan per block would be quadratic.)
    const window = data.subarray(i, i + 254);
    const z = window.indexOf(0);
    const len = z < 0 ? window.length : z;
    out[o] = len + 1;
    out.set(window.subarray(0, len), o + 1);
    o += len + 1;
    if (z >= 0) i += len + 1;
    else if (len === 254)
      i += len; // a full block implies no zero
    else break;
  }
  return out.subarray(0, o);
}

/** Decodes one COBS block (delimiter removed); undefined when it is malformed. */
export function cobsDecode(data: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(data.length);
  let o = 0;
  let i = 0;
  while (i < data.length) {
    const code = data[i++]!;
    if (code === 0 || i + code - 1 > data.length) return undefined;
    const block = data.subarray(i, i + code - 1);
    if (block.includes(0)) return undefined;
    out.set(block, o);
    o += code - 1;
    i += code - 1;
    if (code !== 0xff && i < data.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
