/** Per-block sector bitmaps: bit 7 of byte 0 is the block's first sector (VHD spec). */

export function isSet(bm: Uint8Array, sector: number): boolean {
  return (bm[sector >>> 3]! & (0x80 >>> (sector & 7))) !== 0;
}

export function setRange(bm: Uint8Array, first: number, count: number): void {
  for (let s = first; s < first + count; s++) bm[s >>> 3]! |= 0x80 >>> (s & 7);
}

export function allSet(bm: Uint8Array, first: number, count: number): boolean {
  let s = first;
  const end = first + count;
  while (s < end && (s & 7) !== 0) if (!isSet(bm, s++)) return false;
  while (s + 8 <= end) {
    if (bm[s >>> 3] !== 0xff) return false;
    s += 8;
  }
  while (s < end) if (!isSet(bm, s++)) return false;
  return true;
}

/** Length of the run of equal bits starting at `first`, capped at `limit` sectors. */
export function runLength(bm: Uint8Array, first: number, limit: number): number {
  const bit = isSet(bm, first);
  let n = 1;
  while (n < limit && isSet(bm, first + n) === bit) n++;
  return n;
}
