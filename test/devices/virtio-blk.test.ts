import { describe, it, expect, beforeEach, vi } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { PciBus } from '../../src/devices/pci.js';
import { Piix3IsaBridge } from '../../src/devices/piix3.js';
import { createPcPlatform, type PcPlatform } from '../../src/devices/pc.js';
import { checkRange, type BlockDevice } from '../../src/disk/block-device.js';
import {
  attachVirtioBlk, VirtioBlk, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID,
  VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_WRITE_ZEROES, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP,
  VIRTIO_BLK_F_RO, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES,
} from '../../src/devices/virtio/index.js';
import { createImage, openImage } from '../../src/disk/index.js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IrqRecorder, TestClock, TestControl } from './helpers.js';

// ---- a RAM disk ----

class RamDisk implements BlockDevice {
  readonly data: Uint8Array;
  flushes = 0;
  discards: [number, number][] = [];
  constructor(readonly size: number, readonly readOnly = false) {
    this.data = new Uint8Array(size);
    for (let i = 0; i < size; i += 512) this.data[i] = (i / 512) & 0xff; // sector number in byte 0
  }
  read(buf: Uint8Array, offset: number): void { checkRange(this, offset, buf.length); buf.set(this.data.subarray(offset, offset + buf.length)); }
  write(buf: Uint8Array, offset: number): void {
    if (this.readOnly) throw new Error('read-only');
    checkRange(this, offset, buf.length);
    this.data.set(buf, offset);
  }
  flush(): void { this.flushes++; }
  discard(offset: number, length: number): void { checkRange(this, offset, length); this.discards.push([offset, length]); this.data.fill(0, offset, offset + length); }
  allocatedRanges(): Array<[number, number]> { return [[0, this.size]]; }
  close(): void {}
}

// ---- a tiny virtio-pci driver, talking to the device only through port I/O and physical memory ----

const STATUS_ACK = 1, STATUS_DRIVER = 2, STATUS_DRIVER_OK = 4, STATUS_FEATURES_OK = 8, STATUS_NEEDS_RESET = 0x40;
const F_INDIRECT = 28, F_EVENT_IDX = 29, F_VERSION_1 = 32, F_ACCESS_PLATFORM = 33;
const DESC_NEXT = 1, DESC_WRITE = 2, DESC_INDIRECT = 4;
const NO_VECTOR = 0xffff;

// Guest RAM layout used by the driver.
const RING = 0x20000; // desc table; avail at +0x1000; used at +0x2000
const INDIRECT_TABLE = 0x30000;
const HDR = 0x40000; // request headers (16 bytes each)
const STAT = 0x41000; // status bytes
const DATA = 0x100000;

interface Cap { off: number; type: number; bar: number; offset: number; length: number }
interface Buf { addr: number; len: number; write?: boolean }

class Driver {
  dev = -1;
  caps: Cap[] = [];
  msixCap = 0;
  bar = 0;
  qsize = 0;
  availIdx = 0;
  nextDesc = 0;
  usedSeen = 0;
  notifyMult = 0;

  constructor(readonly io: IoBus, readonly mem: PhysMem) {}

  private addr(reg: number): number { return (0x80000000 | (this.dev << 11) | (reg & 0xfc)) >>> 0; }
  cfgRead(reg: number, size: 1 | 2 | 4 = 4): number {
    this.io.write(0xcf8, 4, this.addr(reg));
    return this.io.read(0xcfc + (reg & 3), size) >>> 0;
  }
  cfgWrite(reg: number, size: 1 | 2 | 4, v: number): void {
    this.io.write(0xcf8, 4, this.addr(reg));
    this.io.write(0xcfc + (reg & 3), size, v);
  }

  /** Scan bus 0 for a modern virtio-blk function and walk its capability list. */
  probe(): void {
    for (let d = 0; d < 32; d++) {
      this.dev = d;
      if (this.cfgRead(0) === 0x10421af4) break;
      this.dev = -1;
    }
    if (this.dev < 0) throw new Error('no virtio-blk');
    expect(this.cfgRead(0x06, 2) & 0x10).toBe(0x10);
    for (let p = this.cfgRead(0x34, 1); p !== 0; p = this.cfgRead(p + 1, 1)) {
      const id = this.cfgRead(p, 1);
      if (id === 0x11) this.msixCap = p;
      if (id !== 0x09) continue;
      const cap = { off: p, type: this.cfgRead(p + 3, 1), bar: this.cfgRead(p + 4, 1), offset: this.cfgRead(p + 8), length: this.cfgRead(p + 12) };
      this.caps.push(cap);
      if (cap.type === 2) this.notifyMult = this.cfgRead(p + 16);
    }
  }

  cap(type: number): Cap {
    const c = this.caps.find((x) => x.type === type);
    if (!c) throw new Error(`no cap ${type}`);
    return c;
  }

  /** Size BAR 4 and place it at `address`, enabling memory decoding and bus mastering. */
  mapBar(address: number, command = 0x6): number {
    this.cfgWrite(0x04, 2, 0);
    this.cfgWrite(0x20, 4, 0xffffffff);
    this.cfgWrite(0x24, 4, 0xffffffff);
    const lo = this.cfgRead(0x20), hi = this.cfgRead(0x24);
    const size = (~(lo & ~0xf) >>> 0) + 1 + (~hi >>> 0) * 0x1_0000_0000;
    this.cfgWrite(0x20, 4, address % 0x1_0000_0000);
    this.cfgWrite(0x24, 4, Math.floor(address / 0x1_0000_0000));
    this.cfgWrite(0x04, 2, command);
    this.bar = address;
    expect(lo & 0xf).toBe(0x4); // 64-bit memory, not prefetchable
    return size;
  }

  common(o: number): number { return this.bar + this.cap(1).offset + o; }
  r8(o: number): number { return this.mem.read(this.common(o), 1); }
  r16(o: number): number { return this.mem.read(this.common(o), 2); }
  r32(o: number): number { return this.mem.read(this.common(o), 4); }
  w8(o: number, v: number): void { this.mem.write(this.common(o), 1, v); }
  w16(o: number, v: number): void { this.mem.write(this.common(o), 2, v); }
  w32(o: number, v: number): void { this.mem.write(this.common(o), 4, v); }
  deviceCfg32(o: number): number { return this.mem.read(this.bar + this.cap(4).offset + o, 4); }
  isr(): number { return this.mem.read(this.bar + this.cap(3).offset, 1); }

  deviceFeatures(): [number, number] {
    this.w32(0x00, 0); const lo = this.r32(0x04);
    this.w32(0x00, 1); const hi = this.r32(0x04);
    return [lo, hi];
  }

  /** Steps 1-6 of §3.1.1. Returns whether FEATURES_OK stuck. */
  negotiate(lo: number, hi: number): boolean {
    this.w8(0x14, 0);
    this.w8(0x14, STATUS_ACK);
    this.w8(0x14, STATUS_ACK | STATUS_DRIVER);
    this.w32(0x08, 0); this.w32(0x0c, lo);
    this.w32(0x08, 1); this.w32(0x0c, hi);
    this.w8(0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
    return (this.r8(0x14) & STATUS_FEATURES_OK) !== 0;
  }

  get desc(): number { return RING; }
  get avail(): number { return RING + 0x1000; }
  get used(): number { return RING + 0x2000; }

  setupQueue(size: number, vector = NO_VECTOR): void {
    this.w16(0x16, 0);
    expect(this.r16(0x18)).toBe(256);
    this.w16(0x18, size);
    this.qsize = size;
    this.mem.fill(RING, 0x3000);
    this.w32(0x20, this.desc); this.w32(0x24, 0);
    this.w32(0x28, this.avail); this.w32(0x2c, 0);
    this.w32(0x30, this.used); this.w32(0x34, 0);
    this.w16(0x1a, vector);
    this.w16(0x1c, 1);
    this.availIdx = this.nextDesc = this.usedSeen = 0;
  }

  init(features: [number, number] = [(1 << F_INDIRECT) >>> 0, 1], queueSize = 16, vector = NO_VECTOR): void {
    expect(this.negotiate(features[0], features[1])).toBe(true);
    this.setupQueue(queueSize, vector);
    this.w8(0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  writeDesc(table: number, i: number, b: Buf, next: number | null, extraFlags = 0): void {
    const d = table + 16 * i;
    this.mem.write64(d, b.addr);
    this.mem.write32(d + 8, b.len);
    this.mem.write16(d + 12, (b.write ? DESC_WRITE : 0) | (next !== null ? DESC_NEXT : 0) | extraFlags);
    this.mem.write16(d + 14, next ?? 0);
  }

  /** Put a chain on the ring (optionally through an indirect table) without notifying. Returns the head. */
  queue(bufs: Buf[], indirect = false): number {
    const head = this.nextDesc % this.qsize;
    if (indirect) {
      bufs.forEach((b, i) => this.writeDesc(INDIRECT_TABLE, i, b, i + 1 < bufs.length ? i + 1 : null));
      this.writeDesc(this.desc, head, { addr: INDIRECT_TABLE, len: 16 * bufs.length }, null, DESC_INDIRECT);
      this.nextDesc++;
    } else {
      for (let i = 0; i < bufs.length; i++) {
        const idx = (this.nextDesc + i) % this.qsize;
        this.writeDesc(this.desc, idx, bufs[i], i + 1 < bufs.length ? (idx + 1) % this.qsize : null);
      }
      this.nextDesc += bufs.length;
    }
    this.mem.write16(this.avail + 4 + 2 * (this.availIdx % this.qsize), head);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    this.mem.write16(this.avail + 2, this.availIdx);
    return head;
  }

  notify(): void {
    const qoff = (this.w16(0x16, 0), this.r16(0x1e));
    this.mem.write(this.bar + this.cap(2).offset + qoff * this.notifyMult, 2, 0);
  }

  usedIdx(): number { return this.mem.read16(this.used + 2); }
  usedElem(n: number): { id: number; len: number } {
    const e = this.used + 4 + 8 * (n % this.qsize);
    return { id: this.mem.read32(e), len: this.mem.read32(e + 4) };
  }

  /** One virtio-blk request; data buffers are the middle of the chain. Returns the status byte. */
  blk(type: number, sector: number, data: Buf[], opts: { indirect?: boolean; slot?: number } = {}): number {
    const slot = opts.slot ?? 0;
    const hdr = HDR + 16 * slot, st = STAT + slot;
    this.mem.write32(hdr, type);
    this.mem.write32(hdr + 4, 0);
    this.mem.write64(hdr + 8, sector);
    this.mem.write8(st, 0xee);
    const head = this.queue([{ addr: hdr, len: 16 }, ...data, { addr: st, len: 1, write: true }], opts.indirect);
    this.notify();
    const used = this.usedIdx();
    expect(used).toBe((this.usedSeen + 1) & 0xffff);
    expect(this.usedElem(this.usedSeen).id).toBe(head);
    this.usedSeen = used;
    return this.mem.read8(st);
  }

  msixTable(): number { return this.bar + (this.cfgRead(this.msixCap + 4) & ~7); }
  msixPba(): number { return this.bar + (this.cfgRead(this.msixCap + 8) & ~7); }
  programVector(v: number, address: number, data: number, masked = false): void {
    const e = this.msixTable() + 16 * v;
    this.mem.write32(e, address);
    this.mem.write32(e + 4, 0);
    this.mem.write32(e + 8, data);
    this.mem.write32(e + 12, masked ? 1 : 0);
  }
  msixControl(enable: boolean, functionMask = false): void {
    this.cfgWrite(this.msixCap + 2, 2, (enable ? 0x8000 : 0) | (functionMask ? 0x4000 : 0));
  }
}

function fill(mem: PhysMem, addr: number, len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed + (i >> 9)) & 0xff;
  mem.writeBytes(addr, b);
  return b;
}

const BAR_ADDR = 0xe000_0000;

function makePc(disk: BlockDevice, opts: Parameters<typeof attachVirtioBlk>[3] = {}) {
  const io = new IoBus();
  const mem = new PhysMem(16 * 1024 * 1024);
  const pc = createPcPlatform({ io, mem, clock: new TestClock(), control: new TestControl(), ramBytes: mem.ramBytes, serialOut: () => {} });
  const dev = attachVirtioBlk(pc, mem, disk, opts);
  const drv = new Driver(io, mem);
  drv.probe();
  return { io, mem, pc, dev, drv };
}

describe('virtio-pci transport', () => {
  let disk: RamDisk;
  let mem: PhysMem;
  let pc: PcPlatform;
  let dev: VirtioBlk;
  let drv: Driver;

  beforeEach(() => {
    disk = new RamDisk(1 << 20);
    ({ mem, pc, dev, drv } = makePc(disk, { serial: 'SERIAL-1234' }));
  });

  it('enumerates as a modern virtio-blk function with the five virtio capabilities and MSI-X', () => {
    expect(drv.dev).toBe(4);
    expect(drv.cfgRead(0x08) >>> 8).toBe(0x010000);
    expect(drv.cfgRead(0x08, 1)).toBe(1); // revision 1: non-transitional
    expect(drv.cfgRead(0x2c, 2)).toBe(0x1af4);
    expect(drv.cfgRead(0x2e, 2)).toBeGreaterThanOrEqual(0x40);
    expect(drv.cfgRead(0x3d, 1)).toBe(1);
    expect(drv.caps.map((c) => c.type).sort()).toEqual([1, 2, 3, 4, 5]);
    for (const c of drv.caps.filter((x) => x.type !== 5)) expect(c.bar).toBe(4);
    expect(drv.cap(1).length).toBeGreaterThanOrEqual(0x38);
    expect(drv.cap(3).length).toBeGreaterThanOrEqual(1);
    expect(drv.cap(4).length).toBeGreaterThanOrEqual(24);
    expect(drv.notifyMult).toBe(4);
    expect(drv.msixCap).not.toBe(0);
    expect((drv.cfgRead(drv.msixCap + 2, 2) & 0x7ff) + 1).toBe(2); // config + one queue
    expect(drv.cfgRead(drv.msixCap + 4) & 7).toBe(4);
    const size = drv.mapBar(BAR_ADDR);
    expect(size).toBe(0x8000);
    expect(dev.barMappedAt).toBe(BAR_ADDR);
    // every structure fits in the BAR
    for (const c of drv.caps.filter((x) => x.type !== 5)) expect(c.offset + c.length).toBeLessThanOrEqual(size);
    expect((drv.cfgRead(drv.msixCap + 8) & ~7) + 8).toBeLessThanOrEqual(size);
  });

  it('negotiates features: VERSION_1 required, unoffered bits refused, ACCESS_PLATFORM not offered', () => {
    drv.mapBar(BAR_ADDR);
    const [lo, hi] = drv.deviceFeatures();
    expect(hi & 1).toBe(1); // VERSION_1
    expect(hi & (1 << (F_ACCESS_PLATFORM - 32))).toBe(0);
    expect((lo >>> F_INDIRECT) & 1).toBe(1);
    expect((lo >>> F_EVENT_IDX) & 1).toBe(1);
    expect((lo >>> VIRTIO_BLK_F_FLUSH) & 1).toBe(1);
    expect((lo >>> VIRTIO_BLK_F_RO) & 1).toBe(0);
    expect((lo >>> VIRTIO_BLK_F_DISCARD) & 1).toBe(1);
    expect(drv.r16(0x12)).toBe(1); // num_queues
    expect(drv.negotiate(lo, 0)).toBe(false);
    expect(drv.negotiate(0, 1 | (1 << (F_ACCESS_PLATFORM - 32)))).toBe(false);
    expect(drv.negotiate(lo, hi)).toBe(true);
    // driver features are frozen after FEATURES_OK
    drv.w32(0x08, 0); drv.w32(0x0c, 0);
    expect(drv.r32(0x0c)).toBe(lo);
    expect(dev.hasFeature(F_VERSION_1)).toBe(true);
    // reset clears everything
    drv.w8(0x14, 0);
    expect(drv.r8(0x14)).toBe(0);
    expect(dev.hasFeature(F_VERSION_1)).toBe(false);
  });

  it('exposes the block configuration', () => {
    drv.mapBar(BAR_ADDR);
    expect(drv.deviceCfg32(0)).toBe(2048); // capacity in sectors
    expect(drv.deviceCfg32(4)).toBe(0);
    expect(drv.deviceCfg32(8)).toBeGreaterThanOrEqual(4096); // size_max
    expect(drv.deviceCfg32(12)).toBe(254); // seg_max
    expect(drv.deviceCfg32(20)).toBe(512); // blk_size
    expect(drv.r8(0x15)).toBe(0); // config generation
  });

  it('writes and reads through scattered buffers, completing with MSI-X messages', () => {
    drv.mapBar(BAR_ADDR);
    const msi = vi.spyOn(pc.apicBus, 'deliverMsi');
    drv.init(undefined, 16, 1);
    drv.w16(0x10, 0); // config vector 0
    expect(drv.r16(0x10)).toBe(0);
    drv.programVector(0, 0xfee00000, 0x40);
    drv.programVector(1, 0xfee00000, 0x51);
    drv.msixControl(true);
    mem.write32(0xfee000f0, 0x1ff); // software-enable the BSP's local APIC

    const src = fill(mem, DATA, 3 * 512, 3);
    expect(drv.blk(VIRTIO_BLK_T_OUT, 5, [{ addr: DATA, len: 700 }, { addr: DATA + 700, len: 3 * 512 - 700 }])).toBe(VIRTIO_BLK_S_OK);
    expect(disk.data.subarray(5 * 512, 8 * 512)).toEqual(src);
    expect(drv.usedElem(0).len).toBe(1);
    expect(msi).toHaveBeenCalledTimes(1);
    expect(msi).toHaveBeenLastCalledWith(0xfee00000, 0x51);
    expect(pc.intc.hasInterrupt()).toBe(true);
    expect(pc.intc.acknowledge()).toBe(0x51);

    const dst = 0x200000;
    mem.fill(dst, 4096, 0xcc);
    expect(drv.blk(VIRTIO_BLK_T_IN, 4, [{ addr: dst, len: 100, write: true }, { addr: dst + 1000, len: 924, write: true }, { addr: dst + 3000, len: 512, write: true }])).toBe(VIRTIO_BLK_S_OK);
    expect(drv.usedElem(1).len).toBe(3 * 512 + 1);
    const got = new Uint8Array([...mem.readBytes(dst, 100), ...mem.readBytes(dst + 1000, 924), ...mem.readBytes(dst + 3000, 512)]);
    expect(got.subarray(0, 512)).toEqual(disk.data.subarray(4 * 512, 5 * 512));
    expect(got.subarray(512)).toEqual(src.subarray(0, 1024));
    expect(mem.read8(dst + 100)).toBe(0xcc); // nothing written outside the buffers
    expect(msi).toHaveBeenCalledTimes(2);
    // ISR is not used for queue interrupts with MSI-X
    expect(drv.isr()).toBe(0);
  });

  it('follows indirect descriptor tables', () => {
    drv.mapBar(BAR_ADDR);
    drv.init();
    const src = fill(mem, DATA, 1024, 9);
    expect(drv.blk(VIRTIO_BLK_T_OUT, 100, [{ addr: DATA, len: 512 }, { addr: DATA + 512, len: 512 }], { indirect: true })).toBe(VIRTIO_BLK_S_OK);
    expect(disk.data.subarray(100 * 512, 102 * 512)).toEqual(src);
    expect(drv.blk(VIRTIO_BLK_T_IN, 100, [{ addr: 0x300000, len: 1024, write: true }], { indirect: true })).toBe(VIRTIO_BLK_S_OK);
    expect(mem.readBytes(0x300000, 1024)).toEqual(src);
  });

  it('refuses indirect descriptors when the feature was not negotiated', () => {
    drv.mapBar(BAR_ADDR);
    drv.init([0, 1]);
    drv.queue([{ addr: HDR, len: 16 }, { addr: STAT, len: 1, write: true }], true);
    drv.notify();
    expect(drv.r8(0x14) & STATUS_NEEDS_RESET).toBe(STATUS_NEEDS_RESET);
  });

  it('handles flush, GET_ID and bad requests with status bytes', () => {
    drv.mapBar(BAR_ADDR);
    drv.init();
    expect(drv.blk(VIRTIO_BLK_T_FLUSH, 0, [])).toBe(VIRTIO_BLK_S_OK);
    expect(disk.flushes).toBe(1);
    mem.fill(DATA, 32, 0xff);
    expect(drv.blk(VIRTIO_BLK_T_GET_ID, 0, [{ addr: DATA, len: 20, write: true }])).toBe(VIRTIO_BLK_S_OK);
    expect(new TextDecoder().decode(mem.readBytes(DATA, 11))).toBe('SERIAL-1234');
    expect(mem.read8(DATA + 11)).toBe(0);
    // past the end, straddling the end, partial sector, unknown type
    expect(drv.blk(VIRTIO_BLK_T_IN, 2048, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_IOERR);
    expect(drv.blk(VIRTIO_BLK_T_OUT, 2047, [{ addr: DATA, len: 1024 }])).toBe(VIRTIO_BLK_S_IOERR);
    expect(drv.blk(VIRTIO_BLK_T_IN, 0, [{ addr: DATA, len: 100, write: true }])).toBe(VIRTIO_BLK_S_IOERR);
    expect(drv.blk(VIRTIO_BLK_T_IN, 2 ** 40, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_IOERR);
    expect(drv.blk(99, 0, [])).toBe(VIRTIO_BLK_S_UNSUPP);
    // a data buffer outside guest RAM
    expect(drv.blk(VIRTIO_BLK_T_IN, 0, [{ addr: 0x4000_0000, len: 512, write: true }])).toBe(VIRTIO_BLK_S_IOERR);
    // a header split over two descriptors is fine
    mem.write32(HDR, VIRTIO_BLK_T_IN); mem.write32(HDR + 4, 0); mem.write64(HDR + 8, 7);
    const head = drv.queue([{ addr: HDR, len: 10 }, { addr: HDR + 10, len: 6 }, { addr: DATA, len: 512, write: true }, { addr: STAT, len: 1, write: true }]);
    drv.notify();
    expect(drv.usedElem(drv.usedSeen).id).toBe(head);
    drv.usedSeen++;
    expect(mem.read8(STAT)).toBe(VIRTIO_BLK_S_OK);
    expect(mem.read8(DATA)).toBe(7);
    // a header too short
    mem.write8(STAT, 0xee);
    drv.queue([{ addr: HDR, len: 8 }, { addr: STAT, len: 1, write: true }]);
    drv.notify();
    drv.usedSeen++;
    expect(mem.read8(STAT)).toBe(VIRTIO_BLK_S_IOERR);
    // the device is still healthy
    expect(drv.r8(0x14) & STATUS_NEEDS_RESET).toBe(0);
    expect(drv.blk(VIRTIO_BLK_T_IN, 3, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_OK);
    expect(mem.read8(DATA)).toBe(3);
  });

  it('discards and writes zeroes', () => {
    drv.mapBar(BAR_ADDR);
    const [lo, hi] = drv.deviceFeatures();
    drv.init([lo, hi]);
    expect(drv.deviceCfg32(36)).toBeGreaterThan(0); // max_discard_sectors
    expect(drv.deviceCfg32(40)).toBe(1); // max_discard_seg
    const seg = (sector: number, n: number, flags: number): Buf => {
      mem.write64(DATA, sector); mem.write32(DATA + 8, n); mem.write32(DATA + 12, flags);
      return { addr: DATA, len: 16 };
    };
    expect(drv.blk(VIRTIO_BLK_T_DISCARD, 0, [seg(10, 4, 0)])).toBe(VIRTIO_BLK_S_OK);
    expect(disk.discards).toEqual([[10 * 512, 4 * 512]]);
    expect(drv.blk(VIRTIO_BLK_T_DISCARD, 0, [seg(10, 4, 1)])).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(drv.blk(VIRTIO_BLK_T_DISCARD, 0, [seg(2047, 4, 0)])).toBe(VIRTIO_BLK_S_IOERR);
    expect(disk.data[20 * 512]).toBe(20);
    expect(drv.blk(VIRTIO_BLK_T_WRITE_ZEROES, 0, [seg(20, 2, 1)])).toBe(VIRTIO_BLK_S_OK);
    expect(disk.data[20 * 512]).toBe(0);
    expect(disk.data[21 * 512]).toBe(0);
    expect(disk.data[22 * 512]).toBe(22);
  });

  it('sets DEVICE_NEEDS_RESET on a descriptor loop, signals a config change, and recovers after reset', () => {
    drv.mapBar(BAR_ADDR);
    const msi = vi.spyOn(pc.apicBus, 'deliverMsi');
    drv.init(undefined, 16, 1);
    drv.w16(0x10, 0);
    drv.programVector(0, 0xfee00000, 0x60);
    drv.programVector(1, 0xfee00000, 0x61);
    drv.msixControl(true);
    drv.writeDesc(drv.desc, 0, { addr: HDR, len: 16 }, 1);
    drv.writeDesc(drv.desc, 1, { addr: DATA, len: 512 }, 0); // back to 0: a loop
    mem.write16(drv.avail + 4, 0);
    mem.write16(drv.avail + 2, 1);
    drv.notify();
    expect(drv.r8(0x14) & STATUS_NEEDS_RESET).toBe(STATUS_NEEDS_RESET);
    expect(dev.lastError).toMatch(/loop/);
    expect(msi).toHaveBeenCalledWith(0xfee00000, 0x60);
    expect(drv.isr() & 2).toBe(2);
    // further kicks are ignored until reset
    drv.notify();
    expect(drv.usedIdx()).toBe(0);
    drv.w8(0x14, 0);
    expect(drv.r8(0x14)).toBe(0);
    expect(drv.r16(0x10)).toBe(NO_VECTOR);
    drv.w16(0x16, 0);
    expect(drv.r16(0x1c)).toBe(0);
    expect(drv.r16(0x1a)).toBe(NO_VECTOR);
    drv.init();
    expect(drv.blk(VIRTIO_BLK_T_IN, 1, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_OK);
  });

  it('honours MSI-X vector and function masking with the pending bit array', () => {
    drv.mapBar(BAR_ADDR);
    const msi = vi.spyOn(pc.apicBus, 'deliverMsi');
    drv.init(undefined, 16, 1);
    drv.programVector(1, 0xfee00000, 0x70, true);
    drv.msixControl(true);
    expect(drv.blk(VIRTIO_BLK_T_FLUSH, 0, [])).toBe(VIRTIO_BLK_S_OK);
    expect(msi).not.toHaveBeenCalled();
    expect(mem.read32(drv.msixPba()) & 2).toBe(2);
    mem.write32(drv.msixTable() + 16 + 12, 0); // unmask vector 1
    expect(msi).toHaveBeenCalledTimes(1);
    expect(msi).toHaveBeenLastCalledWith(0xfee00000, 0x70);
    expect(mem.read32(drv.msixPba())).toBe(0);
    // function mask
    drv.msixControl(true, true);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).toHaveBeenCalledTimes(1);
    drv.msixControl(true, false);
    expect(msi).toHaveBeenCalledTimes(2);
    // NO_VECTOR: no interrupt at all; an out-of-range vector reads back as NO_VECTOR
    drv.w16(0x16, 0);
    drv.w16(0x1a, 7);
    expect(drv.r16(0x1a)).toBe(NO_VECTOR);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).toHaveBeenCalledTimes(2);
    expect(mem.read32(drv.msixPba())).toBe(0);
  });

  it('suppresses interrupts with VIRTQ_AVAIL_F_NO_INTERRUPT and with event indices', () => {
    drv.mapBar(BAR_ADDR);
    const msi = vi.spyOn(pc.apicBus, 'deliverMsi');
    drv.init(undefined, 16, 1);
    drv.programVector(1, 0xfee00000, 0x70);
    drv.msixControl(true);
    mem.write16(drv.avail, 1); // NO_INTERRUPT
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).not.toHaveBeenCalled();
    mem.write16(drv.avail, 0);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).toHaveBeenCalledTimes(1);

    // event index: interrupt only when the used index passes used_event
    drv.w8(0x14, 0);
    drv.init([((1 << F_EVENT_IDX) | (1 << F_INDIRECT)) >>> 0, 1], 16, 1);
    const usedEvent = drv.avail + 4 + 2 * 16;
    const availEvent = drv.used + 4 + 8 * 16;
    mem.write16(usedEvent, 2); // interrupt when the 3rd buffer is used
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(mem.read16(availEvent)).toBe(1);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).toHaveBeenCalledTimes(1);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(msi).toHaveBeenCalledTimes(2);
    expect(mem.read16(availEvent)).toBe(3);
    // two buffers in one kick crossing used_event: one interrupt
    mem.write16(usedEvent, 3);
    mem.write8(STAT, 0xee); mem.write8(STAT + 1, 0xee);
    mem.write32(HDR, VIRTIO_BLK_T_FLUSH); mem.write32(HDR + 16, VIRTIO_BLK_T_FLUSH);
    drv.queue([{ addr: HDR, len: 16 }, { addr: STAT, len: 1, write: true }]);
    drv.queue([{ addr: HDR + 16, len: 16 }, { addr: STAT + 1, len: 1, write: true }]);
    drv.notify();
    expect(drv.usedIdx()).toBe(5);
    expect(msi).toHaveBeenCalledTimes(3);
  });

  it('waits for DRIVER_OK and bus mastering before consuming buffers', () => {
    drv.mapBar(BAR_ADDR, 0x2); // memory decoding only
    expect(drv.negotiate((1 << F_INDIRECT) >>> 0, 1)).toBe(true);
    drv.setupQueue(16);
    mem.write32(HDR, VIRTIO_BLK_T_FLUSH);
    drv.queue([{ addr: HDR, len: 16 }, { addr: STAT, len: 1, write: true }]);
    drv.notify();
    expect(drv.usedIdx()).toBe(0);
    drv.w8(0x14, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    expect(drv.usedIdx()).toBe(0); // still no bus master
    drv.cfgWrite(0x04, 2, 0x6);
    expect(drv.usedIdx()).toBe(1);
    expect(disk.flushes).toBe(1);
  });

  it('remaps the BAR when the guest moves it, including above 4 GiB, and unmaps it when decoding is off', () => {
    drv.mapBar(BAR_ADDR);
    expect(drv.r16(0x12)).toBe(1);
    const high = 0x8_0000_0000;
    drv.mapBar(high);
    expect(dev.barMappedAt).toBe(high);
    expect(mem.read(BAR_ADDR + 0x12, 2)).toBe(0xffff);
    expect(drv.r16(0x12)).toBe(1);
    drv.cfgWrite(0x04, 2, 0);
    expect(dev.barMappedAt).toBe(-1);
    expect(mem.read(high + 0x12, 2)).toBe(0xffff);
    // a BAR placed over another device does not map (and does not throw)
    drv.mapBar(0xfec00000);
    expect(dev.barMappedAt).toBe(-1);
    drv.mapBar(BAR_ADDR);
    expect(drv.r16(0x12)).toBe(1);
    expect(mem.removeMmio('no such region')).toBe(false);
  });

  it('answers BAR accesses through the VIRTIO_PCI_CAP_PCI_CFG window', () => {
    drv.mapBar(BAR_ADDR);
    const c = drv.cap(5).off;
    drv.cfgWrite(c + 4, 1, 4);
    drv.cfgWrite(c + 8, 4, drv.cap(1).offset + 0x12); // num_queues
    drv.cfgWrite(c + 12, 4, 2);
    expect(drv.cfgRead(c + 16, 2)).toBe(1);
    drv.cfgWrite(c + 8, 4, drv.cap(1).offset + 0x14); // device_status
    drv.cfgWrite(c + 12, 4, 1);
    drv.cfgWrite(c + 16, 1, STATUS_ACK);
    expect(drv.r8(0x14)).toBe(STATUS_ACK);
  });

  it('sets up INTx routing the way SeaBIOS would', () => {
    expect(drv.cfgRead(0x3c, 1)).toBe(11); // slot 4 INTA# -> PIRQD -> IRQ 11
    expect(pc.isaBridge.pirqRoute(3)).toBe(11);
    expect(pc.pic.ioRead(0x4d1, 1) & (1 << 3)).toBe(1 << 3); // level-triggered
  });
});

describe('virtio-pci INTx', () => {
  it('raises INTA# through the PIIX3 while ISR is set; reading ISR lowers it', () => {
    const io = new IoBus();
    const mem = new PhysMem(16 * 1024 * 1024);
    const pci = new PciBus();
    io.register(0xcf8, 8, pci);
    const irq = new IrqRecorder();
    const isaBridge = new Piix3IsaBridge(irq, new TestControl());
    pci.register(1, 0, isaBridge);
    isaBridge.attach(pci);
    const msis: number[][] = [];
    const disk = new RamDisk(64 * 1024);
    attachVirtioBlk({ pci, isaBridge, apicBus: { deliverMsi: (a, d) => msis.push([a, d]) } }, mem, disk, { slot: 6 });
    const drv = new Driver(io, mem);
    drv.probe();
    expect(drv.dev).toBe(6);
    const line = drv.cfgRead(0x3c, 1);
    expect(line).toBe(10); // slot 6 INTA# -> PIRQB -> IRQ 10
    drv.mapBar(BAR_ADDR);
    drv.init();

    expect(drv.blk(VIRTIO_BLK_T_IN, 1, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_OK);
    expect(irq.level(line)).toBe(true);
    expect(drv.cfgRead(0x06, 2) & 0x08).toBe(0x08); // interrupt status
    expect(drv.isr()).toBe(1);
    expect(irq.level(line)).toBe(false);
    expect(drv.isr()).toBe(0);
    expect(drv.cfgRead(0x06, 2) & 0x08).toBe(0);

    // INTx disable keeps the line low but the status bit still reports it
    drv.cfgWrite(0x04, 2, 0x406);
    drv.blk(VIRTIO_BLK_T_FLUSH, 0, []);
    expect(irq.level(line)).toBe(false);
    expect(drv.cfgRead(0x06, 2) & 0x08).toBe(0x08);
    drv.cfgWrite(0x04, 2, 0x006);
    expect(irq.level(line)).toBe(true);
    // enabling MSI-X takes the line away from INTx
    drv.msixControl(true);
    expect(irq.level(line)).toBe(false);
    drv.msixControl(false);
    expect(irq.level(line)).toBe(true);
    drv.isr();
    expect(irq.level(line)).toBe(false);
    expect(msis).toEqual([]);
  });

  it('reports a read-only image with VIRTIO_BLK_F_RO and fails writes', () => {
    const disk = new RamDisk(64 * 1024, true);
    const { mem, drv } = makePc(disk);
    drv.mapBar(BAR_ADDR);
    const [lo] = drv.deviceFeatures();
    expect((lo >>> VIRTIO_BLK_F_RO) & 1).toBe(1);
    expect((lo >>> VIRTIO_BLK_F_DISCARD) & 1).toBe(0);
    expect((lo >>> VIRTIO_BLK_F_WRITE_ZEROES) & 1).toBe(0);
    drv.init();
    fill(mem, DATA, 512, 1);
    expect(drv.blk(VIRTIO_BLK_T_OUT, 0, [{ addr: DATA, len: 512 }])).toBe(VIRTIO_BLK_S_IOERR);
    expect(disk.data[1]).toBe(0);
    expect(drv.blk(VIRTIO_BLK_T_DISCARD, 0, [{ addr: DATA, len: 16 }])).toBe(VIRTIO_BLK_S_UNSUPP);
    expect(drv.blk(VIRTIO_BLK_T_IN, 0, [{ addr: DATA, len: 512, write: true }])).toBe(VIRTIO_BLK_S_OK);
  });

  it('serves a large request across many segments and chunk boundaries', () => {
    const disk = new RamDisk(1 << 20);
    for (let i = 0; i < disk.size; i++) disk.data[i] = (i * 13 + (i >> 11)) & 0xff;
    const { mem, drv } = makePc(disk);
    drv.mapBar(BAR_ADDR);
    drv.init(undefined, 256);
    const bufs: Buf[] = [];
    let total = 0;
    for (let i = 0; i < 100; i++) { const len = 512 * (1 + (i % 7)); bufs.push({ addr: DATA + total + i * 64, len, write: true }); total += len; }
    expect(drv.blk(VIRTIO_BLK_T_IN, 33, bufs)).toBe(VIRTIO_BLK_S_OK);
    let pos = 33 * 512;
    for (const b of bufs) {
      expect(mem.readBytes(b.addr, b.len)).toEqual(disk.data.subarray(pos, pos + b.len));
      pos += b.len;
    }
    expect(total).toBeGreaterThan(128 * 1024);
  });
});

describe('virtio-blk on a real image', () => {
  it('writes through to a dynamic VHD that reads back after reopening', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmrun-virtio-'));
    try {
      const file = path.join(dir, 'disk.vhd');
      createImage(file, { type: 'dynamic', size: 8 << 20 });
      let img = openImage(file);
      const { mem, drv } = makePc(img.device);
      drv.mapBar(BAR_ADDR);
      drv.init();
      expect(drv.deviceCfg32(0)).toBe(img.device.size / 512);
      const src = fill(mem, DATA, 4096, 42);
      expect(drv.blk(VIRTIO_BLK_T_OUT, 3000, [{ addr: DATA, len: 4096 }])).toBe(VIRTIO_BLK_S_OK);
      expect(drv.blk(VIRTIO_BLK_T_FLUSH, 0, [])).toBe(VIRTIO_BLK_S_OK);
      img.device.close();
      img = openImage(file, { readOnly: true });
      const back = new Uint8Array(4096);
      img.device.read(back, 3000 * 512);
      expect(back).toEqual(src);
      img.device.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PhysMem.removeMmio', () => {
  it('drops exactly the named region and lets the range be claimed again', () => {
    const mem = new PhysMem(1 << 20);
    const a = { mmioRead: () => 0x11, mmioWrite: () => {} };
    const b = { mmioRead: () => 0x22, mmioWrite: () => {} };
    mem.addMmio(0xd000_0000, 0x1000, a, 'a');
    mem.addMmio(0xd000_1000, 0x1000, b, 'b');
    expect(mem.read(0xd000_0000, 1)).toBe(0x11);
    expect(mem.removeMmio('a')).toBe(true);
    expect(mem.removeMmio('a')).toBe(false);
    expect(mem.read(0xd000_0000, 1)).toBe(0xff);
    expect(mem.read(0xd000_1000, 1)).toBe(0x22);
    mem.addMmio(0xd000_0800, 0x800, a, 'a');
    expect(mem.read(0xd000_0800, 1)).toBe(0x11);
  });
});
