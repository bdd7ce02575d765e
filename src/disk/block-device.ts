/** Byte ranges are always whole 512-byte sectors: device models speak in sectors anyway. */
export const SECTOR_SIZE = 512;

/**
 * What device models (IDE, AHCI, virtio-blk, blkif, storvsc) see of a disk.
 * Synchronous on purpose: guest I/O is issued from the single emulator thread, a page-cache
 * pread costs microseconds, and program order is then the on-disk write order that the
 * crash-safety argument of the VHD writer relies on.
 */
export interface BlockDevice {
  /** Virtual size in bytes, a multiple of SECTOR_SIZE. */
  readonly size: number;
  readonly readOnly: boolean;
  read(buf: Uint8Array, offset: number): void;
  write(buf: Uint8Array, offset: number): void;
  /** Returns once every earlier write is on stable storage. */
  flush(): void;
  /** Advisory: the range's contents become unspecified (zero or old data). */
  discard(offset: number, length: number): void;
  /**
   * Ascending, non-overlapping byte ranges that may hold non-zero data; everything else
   * reads as zeros. Lets copy and convert skip holes in O(allocated) time.
   */
  allocatedRanges(): Array<[number, number]>;
  close(): void;
}

export function checkRange(dev: { size: number }, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`bad disk range ${offset}+${length}`);
  }
  if (offset % SECTOR_SIZE !== 0 || length % SECTOR_SIZE !== 0) {
    throw new RangeError(`disk range ${offset}+${length} is not sector-aligned`);
  }
  if (offset + length > dev.size) {
    throw new RangeError(`disk range ${offset}+${length} goes past the end (${dev.size})`);
  }
}

/** Merges two sorted range lists, coalescing overlaps and neighbours. */
export function unionRanges(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export function clipRanges(r: Array<[number, number]>, limit: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of r) {
    if (s >= limit) break;
    out.push([s, Math.min(e, limit)]);
  }
  return out;
}
