import { type BlockDevice, SECTOR_SIZE } from '../block-device.js';
import { FsError } from './errors.js';

const CHUNK = 4096;
const CACHE_CHUNKS = 256;

/**
 * A byte-addressed window onto part of a disk. Filesystems ask for arbitrary offsets and
 * lengths; the device only takes whole sectors, and every offset a filesystem computes from
 * on-disk fields is untrusted, so bounds are checked here once for all of them.
 */
export class Volume {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    readonly dev: BlockDevice,
    readonly start: number,
    readonly size: number,
  ) {
    if (start % SECTOR_SIZE !== 0 || start < 0 || size < 0 || start + size > dev.size) {
      throw new FsError('corrupt', `volume ${start}+${size} does not fit the ${dev.size}-byte disk`);
    }
  }

  /** Reads LENGTH bytes at OFFSET within the volume; small reads go through a chunk cache. */
  read(offset: number, length: number): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FsError('corrupt', `read of ${length} bytes at ${offset} is outside the ${this.size}-byte volume`);
    }
    if (length === 0) return new Uint8Array(0);
    if (length <= CHUNK && Math.floor(offset / CHUNK) === Math.floor((offset + length - 1) / CHUNK)) {
      const c = this.chunk(Math.floor(offset / CHUNK));
      const o = offset % CHUNK;
      return c.slice(o, o + length);
    }
    const out = new Uint8Array(length);
    this.readInto(out, 0, offset, length);
    return out;
  }

  /** Copies straight into DST, for file contents that would only pollute the cache. */
  readInto(dst: Uint8Array, dstOff: number, offset: number, length: number): void {
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new FsError('corrupt', `read of ${length} bytes at ${offset} is outside the ${this.size}-byte volume`);
    }
    if (length === 0) return;
    const abs = this.start + offset;
    const first = Math.floor(abs / SECTOR_SIZE) * SECTOR_SIZE;
    const end = Math.min(this.dev.size, Math.ceil((abs + length) / SECTOR_SIZE) * SECTOR_SIZE);
    if (first === abs && end === abs + length && dstOff === 0 && dst.length === length) {
      this.dev.read(dst, abs);
      return;
    }
    const tmp = new Uint8Array(end - first);
    this.dev.read(tmp, first);
    dst.set(tmp.subarray(abs - first, abs - first + length), dstOff);
  }

  private chunk(i: number): Uint8Array {
    let c = this.cache.get(i);
    if (c) return c;
    const off = i * CHUNK;
    c = new Uint8Array(CHUNK);
    const n = Math.min(CHUNK, this.size - off);
    this.readInto(c, 0, off, n);
    if (this.cache.size >= CACHE_CHUNKS) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(i, c);
    return c;
  }
}

export const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
export const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
/** Little-endian u64 as a JS number; anything past 2^53 is nonsense on a disk we can address anyway. */
export const u64 = (b: Uint8Array, o: number): number => u32(b, o) + u32(b, o + 4) * 0x1_0000_0000;
