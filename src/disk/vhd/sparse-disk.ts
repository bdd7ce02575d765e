import { type BlockDevice, checkRange, clipRanges, unionRanges } from '../block-device.js';
import { DiskFormatError } from '../errors.js';
import type { ImageFile } from '../image-file.js';
import { putU32 } from './be.js';
import { UNUSED_BAT_ENTRY } from './dynamic-header.js';
import { DiskType } from './footer.js';
import { allSet, isSet, runLength, setRange } from './sector-bitmap.js';
import type { VhdStructure } from './structure.js';

export interface SparseOptions {
  /**
   * fsync before each new BAT entry, so that after a power loss (not just a killed
   * process) no BAT entry can point at a block whose bitmap never reached the disk.
   */
  durable?: boolean;
}

const BITMAP_CACHE_LIMIT = 8192;
const COW_GRAIN = 4096;
const DATA_ALIGN = 4096;

/**
 * Dynamic and differencing VHDs. Crash safety comes from write order alone:
 * the end footer moves past a new block before the block is written (the file never ends
 * without a footer), then data, then the block's bitmap, then its BAT entry. Until the BAT
 * entry lands the new block is unreachable leaked space, so a kill at any instant leaves a
 * consistent image; the next allocation reuses the leak.
 */
export class SparseVhd implements BlockDevice {
  readonly size: number;
  readonly readOnly: boolean;
  private readonly blockSize: number;
  private readonly bitmapBytes: number;
  private readonly bat: Uint32Array;
  private readonly batOffset: number;
  private readonly bitmaps = new Map<number, Uint8Array>();
  private readonly footerBytes: Uint8Array;
  private footerPos: number;
  private nextFree: number;
  private readonly durable: boolean;

  constructor(
    private readonly file: ImageFile,
    s: VhdStructure,
    private readonly parent: BlockDevice | null,
    opts: SparseOptions = {},
  ) {
    if (!s.header || !s.bat) throw new DiskFormatError('not a dynamic or differencing VHD');
    if (s.footer.diskType === DiskType.Differencing && !parent) throw new DiskFormatError('differencing disk opened without its parent');
    this.size = s.footer.currentSize;
    this.readOnly = file.readOnly;
    this.blockSize = s.header.blockSize;
    this.bitmapBytes = s.bitmapBytes;
    this.bat = s.bat;
    this.batOffset = s.header.tableOffset;
    this.footerPos = s.footerPos;
    this.nextFree = s.nextFree;
    this.durable = opts.durable ?? false;
    this.footerBytes = s.footerBytes;
    if (!this.readOnly) this.repair(s);
  }

  /** A writable open fixes what the structure reader tolerated: a lost end footer or a stale copy. */
  private repair(s: VhdStructure): void {
    const overlap = s.issues.find((i) => i.includes('overlaps'));
    if (overlap) throw new DiskFormatError(`refusing to write to an inconsistent image: ${overlap}`);
    if (s.recoveredFrom) {
      this.file.write(this.footerBytes, this.footerPos);
      this.file.sync();
    }
    if (s.copyMismatch || s.recoveredFrom) this.file.write(this.footerBytes, 0);
  }

  read(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    this.forEachBlock(buf, offset, (part, pos, blk, inBlock, entry) => {
      if (entry === UNUSED_BAT_ENTRY) this.readBacking(part, pos);
      else this.readAllocated(part, blk, entry, inBlock);
    });
  }

  /** Split a byte range at block boundaries: (piece, disk offset, block, offset in block, BAT entry). */
  private forEachBlock(buf: Uint8Array, offset: number, fn: (part: Uint8Array, pos: number, blk: number, inBlock: number, entry: number) => void): void {
    const bs = this.blockSize;
    let done = 0;
    while (done < buf.length) {
      const pos = offset + done;
      const blk = Math.floor(pos / bs);
      const inBlock = pos - blk * bs;
      const n = Math.min(buf.length - done, bs - inBlock);
      fn(buf.subarray(done, done + n), pos, blk, inBlock, this.bat[blk]!);
      done += n;
    }
  }

  private readAllocated(part: Uint8Array, blk: number, entry: number, inBlock: number): void {
    const bm = this.bitmap(blk, entry);
    const data = entry * 512 + this.bitmapBytes;
    const first = inBlock / 512;
    const count = part.length / 512;
    if (allSet(bm, first, count)) {
      this.readFile(part, data + inBlock);
      return;
    }
    let s = 0;
    while (s < count) {
      const run = runLength(bm, first + s, count - s);
      const sub = part.subarray(s * 512, (s + run) * 512);
      if (isSet(bm, first + s)) this.readFile(sub, data + (first + s) * 512);
      else this.readBacking(sub, blk * this.blockSize + (first + s) * 512);
      s += run;
    }
  }

  /** Sectors this image does not hold: the parent's, or zeros for a dynamic disk. */
  private readBacking(part: Uint8Array, pos: number): void {
    const p = this.parent;
    if (!p || pos >= p.size) {
      part.fill(0);
      return;
    }
    const n = Math.min(part.length, p.size - pos);
    p.read(n === part.length ? part : part.subarray(0, n), pos);
    if (n < part.length) part.fill(0, n);
  }

  private readFile(part: Uint8Array, pos: number): void {
    const n = this.file.read(part, pos);
    if (n < part.length) throw new DiskFormatError(`short read at offset ${pos}: the image shrank while open`);
  }

  private bitmap(blk: number, entry: number): Uint8Array {
    let bm = this.bitmaps.get(blk);
    if (!bm) {
      bm = new Uint8Array(this.bitmapBytes);
      this.readFile(bm, entry * 512);
      if (this.bitmaps.size >= BITMAP_CACHE_LIMIT) this.bitmaps.clear();
      this.bitmaps.set(blk, bm);
    }
    return bm;
  }

  write(buf: Uint8Array, offset: number): void {
    if (this.readOnly) throw new Error('disk is read-only');
    checkRange(this, offset, buf.length);
    if (this.parent && (offset % COW_GRAIN !== 0 || buf.length % COW_GRAIN !== 0)) {
      ({ buf, offset } = this.widenToGrain(buf, offset));
    }
    this.forEachBlock(buf, offset, (part, _pos, blk, inBlock, entry) => {
      if (entry === UNUSED_BAT_ENTRY) this.allocate(blk, part, inBlock);
      else this.writeAllocated(blk, entry, part, inBlock);
    });
  }

  /**
   * Differencing disks copy on write in whole 4 KiB grains, so every bitmap byte is 0x00 or
   * 0xFF. That is what Hyper-V produces, and libvhdi (20210425) misreads a byte in which a
   * set bit is followed by clear ones, showing zeros instead of the parent's sectors.
   */
  private widenToGrain(buf: Uint8Array, offset: number): { buf: Uint8Array; offset: number } {
    const start = Math.floor(offset / COW_GRAIN) * COW_GRAIN;
    const end = Math.min(this.size, Math.ceil((offset + buf.length) / COW_GRAIN) * COW_GRAIN);
    const wide = new Uint8Array(end - start);
    if (offset > start) this.read(wide.subarray(0, offset - start), start);
    const tail = offset + buf.length;
    if (end > tail) this.read(wide.subarray(tail - start), tail);
    wide.set(buf, offset - start);
    return { buf: wide, offset: start };
  }

  private writeAllocated(blk: number, entry: number, part: Uint8Array, inBlock: number): void {
    const bm = this.bitmap(blk, entry);
    this.file.write(part, entry * 512 + this.bitmapBytes + inBlock);
    const first = inBlock / 512;
    const count = part.length / 512;
    if (allSet(bm, first, count)) return;
    setRange(bm, first, count);
    // Only the bitmap sectors holding the changed bits: a sector write is atomic enough.
    const lo = Math.floor((first >>> 3) / 512) * 512;
    const hi = Math.ceil((((first + count - 1) >>> 3) + 1) / 512) * 512;
    this.file.write(bm.subarray(lo, hi), entry * 512 + lo);
  }

  private allocate(blk: number, part: Uint8Array, inBlock: number): void {
    const pos = this.slotAtOrAfter(this.nextFree);
    if (pos / 512 >= UNUSED_BAT_ENTRY) throw new DiskFormatError('image is full: a new block would lie beyond what a BAT entry can address');
    const dataStart = pos + this.bitmapBytes;
    const end = dataStart + this.blockSize;
    const oldFooter = this.footerPos;
    if (end > oldFooter) {
      this.file.write(this.footerBytes, end);
      this.footerPos = end;
    }
    // Everything before the old footer's end may hold leaked data or that footer: zero what
    // the new data area overlaps, so unwritten sectors read as zeros even to readers that
    // ignore the bitmap (QEMU does).
    const dirtyEnd = oldFooter + 512;
    if (dirtyEnd > dataStart) this.zeroFill(dataStart, Math.min(end, dirtyEnd));
    this.file.write(part, dataStart + inBlock);
    const bm = new Uint8Array(this.bitmapBytes);
    setRange(bm, inBlock / 512, part.length / 512);
    this.file.write(bm, pos);
    if (this.durable) this.file.sync();
    const e = new Uint8Array(4);
    putU32(e, 0, pos / 512);
    this.file.write(e, this.batOffset + blk * 4);
    this.bat[blk] = pos / 512;
    if (this.bitmaps.size >= BITMAP_CACHE_LIMIT) this.bitmaps.clear();
    this.bitmaps.set(blk, bm);
    this.nextFree = end;
  }

  /**
   * First block position at or after `at` whose data area starts on a 4 KiB boundary, so a
   * guest's page-sized I/O maps to one host page instead of straddling two.
   */
  private slotAtOrAfter(at: number): number {
    if (this.blockSize < DATA_ALIGN) return at;
    const misalign = (at + this.bitmapBytes) % DATA_ALIGN;
    return misalign === 0 ? at : at + DATA_ALIGN - misalign;
  }

  private zeroFill(from: number, to: number): void {
    if (to <= from) return;
    const chunk = new Uint8Array(Math.min(to - from, 1 << 20));
    for (let p = from; p < to; p += chunk.length) this.file.write(chunk.subarray(0, Math.min(chunk.length, to - p)), p);
  }

  flush(): void {
    this.file.sync();
  }

  /** Unmaps whole blocks of a dynamic disk; a differencing disk cannot, its parent would show through. */
  discard(offset: number, length: number): void {
    checkRange(this, offset, length);
    if (this.readOnly || this.parent) return;
    const bs = this.blockSize;
    const firstBlk = Math.ceil(offset / bs);
    const endBlk = Math.floor((offset + length) / bs);
    const e = new Uint8Array(4);
    putU32(e, 0, UNUSED_BAT_ENTRY);
    for (let b = firstBlk; b < endBlk; b++) {
      if (this.bat[b] === UNUSED_BAT_ENTRY) continue;
      this.file.write(e, this.batOffset + b * 4);
      this.bat[b] = UNUSED_BAT_ENTRY;
      this.bitmaps.delete(b);
    }
  }

  allocatedRanges(): Array<[number, number]> {
    const own: Array<[number, number]> = [];
    const bs = this.blockSize;
    const blocks = Math.ceil(this.size / bs);
    for (let b = 0; b < blocks; b++) {
      if (this.bat[b] === UNUSED_BAT_ENTRY) continue;
      const s = b * bs;
      const e = Math.min(s + bs, this.size);
      const last = own[own.length - 1];
      if (last && last[1] === s) last[1] = e;
      else own.push([s, e]);
    }
    if (!this.parent) return own;
    return clipRanges(unionRanges(own, this.parent.allocatedRanges()), this.size);
  }

  /** Blocks this image itself has allocated (not counting its parents). */
  allocatedBlocks(): number {
    let n = 0;
    const blocks = Math.ceil(this.size / this.blockSize);
    for (let b = 0; b < blocks; b++) if (this.bat[b] !== UNUSED_BAT_ENTRY) n++;
    return n;
  }

  close(): void {
    this.file.close();
    this.parent?.close();
  }
}
