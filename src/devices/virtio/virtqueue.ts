// Split virtqueues (VIRTIO 1.2 §2.7) from the device side: descriptor chains (direct and
// indirect), the available ring, the used ring and notification suppression.

import type { PhysMem } from '../../mmu/physmem.js';
import { RAM_BASE } from '../../mmu/layout.js';
import {
  VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, VIRTIO_MSI_NO_VECTOR,
} from './constants.js';

/** Longest indirect table accepted: bounds the work one request can cost (Linux stays below seg_max + 2). */
const MAX_INDIRECT = 4096;

/**
 * The driver broke the ring protocol (descriptor loop, index out of range, ring outside RAM).
 * The spec's answer is DEVICE_NEEDS_RESET, which the transport sets when it catches this.
 */
export class RingError extends Error {}

/**
 * Device DMA into guest RAM. Reads go straight to the backing bytes; writes go through PhysMem
 * so the JIT drops translations of the pages the device overwrites.
 */
export class GuestRam {
  constructor(readonly phys: PhysMem) {}

  contains(addr: number, len: number): boolean {
    return addr >= 0 && len >= 0 && addr + len <= this.phys.ramBytes;
  }

  u16(addr: number): number {
    if (!this.contains(addr, 2)) throw new RingError(`ring read at 0x${addr.toString(16)} outside RAM`);
    return this.phys.view.getUint16(RAM_BASE + addr, true);
  }

  u32(addr: number): number {
    if (!this.contains(addr, 4)) throw new RingError(`ring read at 0x${addr.toString(16)} outside RAM`);
    return this.phys.view.getUint32(RAM_BASE + addr, true);
  }

  put16(addr: number, v: number): void {
    if (!this.contains(addr, 2)) throw new RingError(`ring write at 0x${addr.toString(16)} outside RAM`);
    this.phys.write16(addr, v);
  }

  put32(addr: number, v: number): void {
    if (!this.contains(addr, 4)) throw new RingError(`ring write at 0x${addr.toString(16)} outside RAM`);
    this.phys.write32(addr, v);
  }

  /** Copy guest bytes into `dst` (no allocation). False when the range is not RAM. */
  copyOut(addr: number, dst: Uint8Array): boolean {
    if (!this.contains(addr, dst.length)) return false;
    dst.set(this.phys.bytes.subarray(RAM_BASE + addr, RAM_BASE + addr + dst.length));
    return true;
  }

  copyIn(addr: number, src: Uint8Array): boolean {
    if (!this.contains(addr, src.length)) return false;
    this.phys.writeBytes(addr, src);
    return true;
  }
}

/**
 * One popped descriptor chain, flattened: the device-readable buffers form one byte stream and
 * the device-writable buffers another, because drivers may split a request's header, data and
 * status across descriptors however they like (§2.7.4.1: no assumptions about the layout).
 * Reused between requests so the hot path allocates nothing.
 */
export class DescChain {
  head = 0;
  count = 0;
  addr = new Float64Array(64);
  len = new Uint32Array(64);
  writable = new Uint8Array(64);
  readableLen = 0;
  writableLen = 0;

  clear(head: number): void {
    this.head = head;
    this.count = 0;
    this.readableLen = 0;
    this.writableLen = 0;
  }

  add(addr: number, len: number, writable: boolean): void {
    if (this.count === this.addr.length) {
      const n = this.count * 2;
      const a = new Float64Array(n); a.set(this.addr); this.addr = a;
      const l = new Uint32Array(n); l.set(this.len); this.len = l;
      const w = new Uint8Array(n); w.set(this.writable); this.writable = w;
    }
    const i = this.count++;
    this.addr[i] = addr;
    this.len[i] = len;
    this.writable[i] = writable ? 1 : 0;
    if (writable) this.writableLen += len;
    else this.readableLen += len;
  }

  /** Gather `dst.length` bytes of the readable stream from `offset`. False if out of range or not RAM. */
  read(ram: GuestRam, offset: number, dst: Uint8Array): boolean {
    return this.transfer(ram, offset, dst, false);
  }

  /** Scatter `src` into the writable stream at `offset`. */
  write(ram: GuestRam, offset: number, src: Uint8Array): boolean {
    return this.transfer(ram, offset, src, true);
  }

  private transfer(ram: GuestRam, offset: number, buf: Uint8Array, toGuest: boolean): boolean {
    const want = toGuest ? 1 : 0;
    let pos = 0; // stream position of the current segment
    let done = 0;
    const total = buf.length;
    for (let i = 0; i < this.count && done < total; i++) {
      if (this.writable[i] !== want) continue;
      const segLen = this.len[i];
      const segEnd = pos + segLen;
      const from = offset + done;
      if (from < segEnd) {
        const skip = from - pos;
        const n = Math.min(segLen - skip, total - done);
        const part = buf.subarray(done, done + n);
        const ok = toGuest ? ram.copyIn(this.addr[i] + skip, part) : ram.copyOut(this.addr[i] + skip, part);
        if (!ok) return false;
        done += n;
      }
      pos = segEnd;
    }
    return done === total;
  }
}

/** Device-side state of one split virtqueue. */
export class SplitVirtqueue {
  size: number;
  enabled = false;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  msixVector = VIRTIO_MSI_NO_VECTOR;
  /** Negotiated features that change ring behaviour, latched when the queue is enabled. */
  eventIdx = false;
  indirect = false;
  private lastAvail = 0;
  private usedIdx = 0;
  /** Used index when the driver was last considered for an interrupt (event-index suppression). */
  private signalledUsed = 0;
  /** Buffers returned since the last interrupt decision. */
  private pendingUsed = 0;

  constructor(readonly index: number, readonly maxSize: number, private readonly ram: GuestRam) {
    this.size = maxSize;
  }

  reset(): void {
    this.size = this.maxSize;
    this.enabled = false;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.msixVector = VIRTIO_MSI_NO_VECTOR;
    this.eventIdx = this.indirect = false;
    this.lastAvail = this.usedIdx = this.signalledUsed = this.pendingUsed = 0;
  }

  enable(eventIdx: boolean, indirect: boolean): void {
    this.enabled = true;
    this.eventIdx = eventIdx;
    this.indirect = indirect;
    // The driver zeroes the rings before enabling, so both indices start at 0.
    this.lastAvail = this.usedIdx = this.signalledUsed = this.pendingUsed = 0;
  }

  /** Take the next available chain into `c`. False when the driver has queued nothing new. */
  pop(c: DescChain): boolean {
    const ram = this.ram;
    const availIdx = ram.u16(this.driverAddr + 2);
    if (availIdx === this.lastAvail) return false;
    if (((availIdx - this.lastAvail) & 0xffff) > this.size) throw new RingError(`avail index ${availIdx} runs ${((availIdx - this.lastAvail) & 0xffff)} ahead of a ${this.size}-entry ring`);
    const head = ram.u16(this.driverAddr + 4 + 2 * (this.lastAvail % this.size));
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    if (head >= this.size) throw new RingError(`avail ring names descriptor ${head} of ${this.size}`);
    c.clear(head);

    let table = this.descAddr;
    let tableSize = this.size;
    let budget = tableSize; // a chain longer than its table must loop
    let inIndirect = false;
    let i = head;
    for (;;) {
      const d = table + 16 * i;
      const addr = ram.u32(d) + ram.u32(d + 4) * 0x1_0000_0000;
      const len = ram.u32(d + 8);
      const flags = ram.u16(d + 12);
      const next = ram.u16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect || inIndirect || (flags & VIRTQ_DESC_F_NEXT)) throw new RingError('misplaced indirect descriptor');
        if (len === 0 || len % 16 !== 0 || len > 16 * MAX_INDIRECT) throw new RingError(`indirect table length ${len}`);
        table = addr;
        tableSize = budget = len / 16;
        inIndirect = true;
        i = 0;
        continue;
      }
      c.add(addr, len, (flags & VIRTQ_DESC_F_WRITE) !== 0);
      if (!(flags & VIRTQ_DESC_F_NEXT)) return true;
      if (next >= tableSize) throw new RingError(`descriptor next ${next} outside a ${tableSize}-entry table`);
      if (--budget <= 0) throw new RingError('descriptor chain loops');
      i = next;
    }
  }

  /** Return a chain to the driver with `written` bytes stored in its writable part. */
  push(head: number, written: number): void {
    const e = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.ram.put32(e, head);
    this.ram.put32(e + 4, written);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.ram.put16(this.deviceAddr + 2, this.usedIdx);
    this.pendingUsed++;
  }

  /**
   * After a batch: tell the driver where to kick next (event index), and decide whether the
   * returned buffers warrant an interrupt (§2.7.7 / §2.7.10).
   */
  finishBatch(): boolean {
    if (this.eventIdx) this.ram.put16(this.deviceAddr + 4 + 8 * this.size, this.lastAvail);
    if (this.pendingUsed === 0) return false;
    this.pendingUsed = 0;
    if (!this.eventIdx) return (this.ram.u16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const old = this.signalledUsed, now = this.usedIdx;
    this.signalledUsed = now;
    const usedEvent = this.ram.u16(this.driverAddr + 4 + 2 * this.size);
    return ((now - usedEvent - 1) & 0xffff) < ((now - old) & 0xffff);
  }
}
