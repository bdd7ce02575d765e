/** Big-endian field access for VHD structures (all multi-byte VHD fields are big-endian). */

export function u32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!;
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 24) & 0xff;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function u16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function putU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

/** All ones: the VHD "no offset" marker. */
export const NO_OFFSET = -1;

/**
 * 64-bit field as a safe integer. Returns NO_OFFSET for all-ones and NaN when the value does
 * not fit in 53 bits, which callers treat as malformed: no legitimate VHD is that large.
 */
export function u64(b: Uint8Array, off: number): number {
  const hi = u32(b, off);
  const lo = u32(b, off + 4);
  if (hi === 0xffffffff && lo === 0xffffffff) return NO_OFFSET;
  if (hi > 0x1fffff) return Number.NaN;
  return hi * 0x100000000 + lo;
}

export function putU64(b: Uint8Array, off: number, v: number): void {
  if (v === NO_OFFSET) {
    putU32(b, off, 0xffffffff);
    putU32(b, off + 4, 0xffffffff);
    return;
  }
  putU32(b, off, Math.floor(v / 0x100000000));
  putU32(b, off + 4, v >>> 0);
}

export function ascii(b: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[off + i]!);
  return s;
}

export function putAscii(b: Uint8Array, off: number, s: string, len: number): void {
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) & 0xff : 0;
}

/** One's complement of the byte sum, skipping the checksum field itself (VHD spec). */
export function vhdChecksum(b: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) {
    if (i >= checksumOffset && i < checksumOffset + 4) continue;
    sum += b[i]!;
  }
  return ~sum >>> 0;
}
