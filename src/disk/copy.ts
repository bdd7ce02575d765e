import type { BlockDevice } from './block-device.js';

const CHUNK = 1 << 20;
const PIECE = 64 * 1024;
const ZERO = new Uint8Array(PIECE);

export type Progress = (done: number, total: number) => void;

/**
 * Copies src's contents into dst, which must start out reading as zeros. Only the ranges src
 * reports as allocated are read, and all-zero 64 KiB pieces are never written, so sparse
 * destinations stay sparse and zero blocks stay unallocated.
 */
export function copyDevice(src: BlockDevice, dst: BlockDevice, progress?: Progress): void {
  const ranges = src.allocatedRanges();
  const total = ranges.reduce((n, [s, e]) => n + (e - s), 0);
  const buf = new Uint8Array(CHUNK);
  let done = 0;
  for (const [start, end] of ranges) {
    for (let pos = start; pos < end; ) {
      const n = Math.min(CHUNK, end - pos);
      const chunk = buf.subarray(0, n);
      src.read(chunk, pos);
      for (let p = 0; p < n; p += PIECE) {
        const piece = chunk.subarray(p, Math.min(n, p + PIECE));
        if (!isZero(piece)) dst.write(piece, pos + p);
      }
      pos += n;
      done += n;
      progress?.(done, total);
    }
  }
}

export function isZero(b: Uint8Array): boolean {
  return Buffer.compare(b, ZERO.subarray(0, b.length)) === 0;
}
