// virtio-blk (VIRTIO 1.2 §5.2) on a BlockDevice: one request queue, reads, writes, flush,
// GET_ID, discard and write-zeroes, processed synchronously when the driver kicks.

import { SECTOR_SIZE, type BlockDevice } from '../../disk/block-device.js';
import { VirtioPciDevice, type VirtioPciWiring } from './pci-transport.js';
import type { DescChain, SplitVirtqueue } from './virtqueue.js';
import { VIRTIO_ID_BLOCK } from './constants.js';

export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;

export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

export const VIRTIO_BLK_ID_BYTES = 20;
export const VIRTIO_BLK_CONFIG_SIZE = 72;

/** Largest single segment the driver may build (SIZE_MAX); requests are copied in bounded chunks anyway. */
const SIZE_MAX = 1 << 20;
/** One range per discard / write-zeroes request, as QEMU does. */
const MAX_DISCARD_SEG = 1;
/** Sectors per discard / write-zeroes range (QEMU's BDRV_REQUEST_MAX_SECTORS). */
const MAX_DISCARD_SECTORS = 0x3fffff;
/** Bounce buffer between guest RAM and the disk; large requests go through it piecewise. */
const CHUNK = 128 * 1024;
const WRITE_ZEROES_FLAG_UNMAP = 1;

export interface VirtioBlkOptions {
  /** GET_ID answer (ASCII, at most 20 bytes; /sys/block/vda/serial). */
  serial?: string;
  /** Ring entries the device offers (default 256, like QEMU). */
  queueSize?: number;
  /** Offer DISCARD and WRITE_ZEROES (default true; never on read-only disks). */
  discard?: boolean;
}

export class VirtioBlk extends VirtioPciDevice {
  readonly disk: BlockDevice;
  private readonly serial = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  private readonly scratch = new Uint8Array(CHUNK);
  private readonly header = new Uint8Array(16);
  private readonly headerView = new DataView(this.header.buffer);
  private readonly statusByte = new Uint8Array(1);

  constructor(wiring: VirtioPciWiring, disk: BlockDevice, opts: VirtioBlkOptions = {}) {
    const queueSize = opts.queueSize ?? 256;
    const discard = opts.discard !== false && !disk.readOnly;
    let features = (1 << VIRTIO_BLK_F_SIZE_MAX) | (1 << VIRTIO_BLK_F_SEG_MAX) | (1 << VIRTIO_BLK_F_BLK_SIZE) | (1 << VIRTIO_BLK_F_FLUSH);
    if (disk.readOnly) features |= 1 << VIRTIO_BLK_F_RO;
    if (discard) features |= (1 << VIRTIO_BLK_F_DISCARD) | (1 << VIRTIO_BLK_F_WRITE_ZEROES);
    // Class 01/00 (SCSI storage controller) is what QEMU reports for virtio-blk.
    super(wiring, { deviceType: VIRTIO_ID_BLOCK, classCode: 0x010000, numQueues: 1, queueSize, featuresLo: features, configSize: VIRTIO_BLK_CONFIG_SIZE });
    this.disk = disk;
    const id = new TextEncoder().encode(opts.serial ?? '');
    this.serial.set(id.subarray(0, VIRTIO_BLK_ID_BYTES));

    const c = this.configView;
    const sectors = Math.floor(disk.size / SECTOR_SIZE);
    c.setUint32(0, sectors % 0x1_0000_0000, true); // capacity
    c.setUint32(4, Math.floor(sectors / 0x1_0000_0000), true);
    c.setUint32(8, SIZE_MAX, true);
    // Header and status take two descriptors of a direct chain.
    c.setUint32(12, queueSize - 2, true); // seg_max
    c.setUint32(20, SECTOR_SIZE, true); // blk_size
    c.setUint16(34, 1, true); // num_queues
    if (discard) {
      c.setUint32(36, MAX_DISCARD_SECTORS, true);
      c.setUint32(40, MAX_DISCARD_SEG, true);
      c.setUint32(44, 1, true); // discard_sector_alignment, in 512-byte sectors
      c.setUint32(48, MAX_DISCARD_SECTORS, true);
      c.setUint32(52, MAX_DISCARD_SEG, true);
      this.config[56] = 0; // write_zeroes_may_unmap: zeroes are always written
    }
  }

  protected handleChain(_q: SplitVirtqueue, c: DescChain): number {
    // Without a writable byte there is nowhere to put a status; hand the buffer back untouched.
    if (c.writableLen === 0) return 0;
    let st: number;
    try {
      st = this.execute(c);
    } catch {
      st = VIRTIO_BLK_S_IOERR; // the disk layer threw (I/O error, corrupt image)
    }
    this.statusByte[0] = st;
    // The status byte is the last writable byte; if even that is not RAM, nothing was written.
    if (!c.write(this.ram, c.writableLen - 1, this.statusByte)) return 0;
    return c.writableLen;
  }

  private execute(c: DescChain): number {
    if (c.readableLen < 16 || !c.read(this.ram, 0, this.header)) return VIRTIO_BLK_S_IOERR;
    const h = this.headerView;
    const type = h.getUint32(0, true);
    const sectorLo = h.getUint32(8, true), sectorHi = h.getUint32(12, true);
    switch (type) {
      case VIRTIO_BLK_T_IN: return this.readRequest(c, sectorLo, sectorHi);
      case VIRTIO_BLK_T_OUT: return this.writeRequest(c, sectorLo, sectorHi);
      case VIRTIO_BLK_T_FLUSH:
        this.disk.flush();
        return VIRTIO_BLK_S_OK;
      case VIRTIO_BLK_T_GET_ID: {
        const n = Math.min(VIRTIO_BLK_ID_BYTES, c.writableLen - 1);
        return c.write(this.ram, 0, this.serial.subarray(0, n)) ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
      }
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES:
        return this.rangeRequest(c, type);
      default:
        return VIRTIO_BLK_S_UNSUPP;
    }
  }

  /** Byte offset of a request, or -1 if [sector, +len) is not inside the disk or not whole sectors. */
  private byteRange(sectorLo: number, sectorHi: number, len: number): number {
    if (len % SECTOR_SIZE !== 0 || sectorHi >= 0x10000) return -1;
    const off = (sectorHi * 0x1_0000_0000 + sectorLo) * SECTOR_SIZE;
    return off + len <= this.disk.size ? off : -1;
  }

  private readRequest(c: DescChain, sectorLo: number, sectorHi: number): number {
    const len = c.writableLen - 1;
    const off = this.byteRange(sectorLo, sectorHi, len);
    if (off < 0) return VIRTIO_BLK_S_IOERR;
    for (let done = 0; done < len; done += CHUNK) {
      const part = this.scratch.subarray(0, Math.min(CHUNK, len - done));
      this.disk.read(part, off + done);
      if (!c.write(this.ram, done, part)) return VIRTIO_BLK_S_IOERR;
    }
    return VIRTIO_BLK_S_OK;
  }

  private writeRequest(c: DescChain, sectorLo: number, sectorHi: number): number {
    if (this.disk.readOnly) return VIRTIO_BLK_S_IOERR;
    const len = c.readableLen - 16;
    const off = this.byteRange(sectorLo, sectorHi, len);
    if (off < 0) return VIRTIO_BLK_S_IOERR;
    for (let done = 0; done < len; done += CHUNK) {
      const part = this.scratch.subarray(0, Math.min(CHUNK, len - done));
      if (!c.read(this.ram, 16 + done, part)) return VIRTIO_BLK_S_IOERR;
      this.disk.write(part, off + done);
    }
    return VIRTIO_BLK_S_OK;
  }

  /** DISCARD / WRITE_ZEROES: the readable stream after the header is an array of 16-byte ranges. */
  private rangeRequest(c: DescChain, type: number): number {
    const discard = type === VIRTIO_BLK_T_DISCARD;
    if (!this.hasFeature(discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES)) return VIRTIO_BLK_S_UNSUPP;
    if (this.disk.readOnly) return VIRTIO_BLK_S_IOERR;
    const bytes = c.readableLen - 16;
    if (bytes === 0 || bytes % 16 !== 0 || bytes / 16 > MAX_DISCARD_SEG) return VIRTIO_BLK_S_IOERR;
    for (let s = 0; s < bytes / 16; s++) {
      if (!c.read(this.ram, 16 + 16 * s, this.header)) return VIRTIO_BLK_S_IOERR;
      const h = this.headerView;
      const sectorLo = h.getUint32(0, true), sectorHi = h.getUint32(4, true);
      const count = h.getUint32(8, true), flags = h.getUint32(12, true);
      // Unknown flags, and unmap on a discard, are refused (§5.2.6.2).
      if (flags & ~WRITE_ZEROES_FLAG_UNMAP || (discard && flags !== 0)) return VIRTIO_BLK_S_UNSUPP;
      if (count > MAX_DISCARD_SECTORS) return VIRTIO_BLK_S_IOERR;
      const len = count * SECTOR_SIZE;
      const off = this.byteRange(sectorLo, sectorHi, len);
      if (off < 0) return VIRTIO_BLK_S_IOERR;
      if (discard) {
        this.disk.discard(off, len);
      } else {
        const zero = this.scratch;
        zero.fill(0);
        for (let done = 0; done < len; done += CHUNK) this.disk.write(zero.subarray(0, Math.min(CHUNK, len - done)), off + done);
      }
    }
    return VIRTIO_BLK_S_OK;
  }
}
