// Virtio over PCI, modern (non-transitional) interface (VIRTIO 1.2 §4.1): a PCI function whose
// vendor capabilities point into one 64-bit memory BAR holding the common configuration, ISR,
// device configuration, notification area and the MSI-X table/PBA. Device types subclass it
// and only handle descriptor chains and their configuration bytes.

import { PciConfigSpace, PCI_COMMAND, PCI_STATUS, PCI_COMMAND_MASTER, PCI_COMMAND_INTX_DISABLE } from '../pci.js';
import type { IoSize, MmioHandler } from '../types.js';
import type { PhysMem } from '../../mmu/physmem.js';
import { DescChain, GuestRam, RingError, SplitVirtqueue } from './virtqueue.js';
import {
  F_INDIRECT_DESC, F_RING_EVENT_IDX, F_VERSION_1, ISR_CONFIG, ISR_QUEUE, PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR,
  STATUS_DEVICE_NEEDS_RESET, STATUS_DRIVER_OK, STATUS_FEATURES_OK, VIRTIO_MSI_NO_VECTOR, VIRTIO_PCI_CAP_COMMON_CFG,
  VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_CAP_PCI_CFG,
  VIRTIO_PCI_DEVICE_BASE, VIRTIO_PCI_VENDOR,
} from './constants.js';

/** The BAR everything lives in (QEMU uses BAR 4 too, so guest-side tooling expects it there). */
export const VIRTIO_BAR = 4;
/** Layout of the BAR. MSI-X structures get their own 4 KiB page, as the PCI spec asks. */
export const BAR_COMMON = 0x0000;
export const BAR_ISR = 0x1000;
export const BAR_DEVICE = 0x2000;
export const BAR_NOTIFY = 0x3000;
export const BAR_MSIX_TABLE = 0x4000;
export const BAR_MSIX_PBA = 0x4800;
export const BAR_SIZE = 0x8000;
export const NOTIFY_OFF_MULTIPLIER = 4;
/** Common configuration through queue_reset (VIRTIO 1.2 layout). */
export const COMMON_CFG_LEN = 0x3c;
/** Addresses above the CPU's 40-bit physical space cannot be reached; such BAR values are not mapped. */
const MAX_PHYS = 2 ** 40;

/** How a virtio-pci function reaches the rest of the machine. */
export interface VirtioPciWiring {
  phys: PhysMem;
  /** Level of the function's INTA# line (routed by the chipset). */
  setIntx(level: boolean): void;
  /** A memory write of `data` to `address` below 4 GiB: an MSI-X message. */
  deliverMsi(address: number, data: number): void;
  /** Unique name for the BAR's MMIO region. */
  name: string;
}

export interface VirtioDeviceParams {
  deviceType: number;
  /** PCI class code (base << 16 | sub << 8 | prog-if). */
  classCode: number;
  numQueues: number;
  queueSize: number;
  /** Device-type feature bits 0-23 (and any above 32 in the high word); transport bits are added here. */
  featuresLo: number;
  featuresHi?: number;
  configSize: number;
}

/** Start offset of the common-configuration field covering each byte (fields are at most 4 bytes; 64-bit ones are two halves). */
const COMMON_FIELDS = [0x00, 0x04, 0x08, 0x0c, 0x10, 0x12, 0x14, 0x15, 0x16, 0x18, 0x1a, 0x1c, 0x1e, 0x20, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38, 0x3a, COMMON_CFG_LEN];
const FIELD_AT = new Int8Array(COMMON_CFG_LEN);
for (let f = 0; f + 1 < COMMON_FIELDS.length; f++) for (let o = COMMON_FIELDS[f]; o < COMMON_FIELDS[f + 1]; o++) FIELD_AT[o] = COMMON_FIELDS[f];
const fieldSize = (start: number): number => COMMON_FIELDS[COMMON_FIELDS.indexOf(start) + 1] - start;

export abstract class VirtioPciDevice extends PciConfigSpace implements MmioHandler {
  readonly ram: GuestRam;
  readonly queues: SplitVirtqueue[];
  /** MSI-X vectors: one per queue plus one for configuration changes, which is what Linux asks for first. */
  readonly msixVectors: number;
  /** Device-specific configuration bytes, read little-endian by the driver. */
  protected readonly config: Uint8Array;
  protected readonly configView: DataView;
  /** Why the device last set DEVICE_NEEDS_RESET (diagnostics). */
  lastError: string | null = null;

  status = 0;
  configGeneration = 0;
  isr = 0;
  private readonly deviceFeatures: [number, number];
  private readonly driverFeatures: [number, number] = [0, 0];
  private deviceFeatureSelect = 0;
  private driverFeatureSelect = 0;
  private queueSelect = 0;
  private configVector = VIRTIO_MSI_NO_VECTOR;

  private readonly msixTable: Uint8Array;
  private readonly msixView: DataView;
  private readonly pba: Uint8Array;
  private readonly msixCap: number;
  private readonly pciCfgCap: number;

  private mappedAt = -1;
  private intxLevel = false;
  /** Queues kicked while bus mastering was off; serviced once it is turned on. */
  private readonly deferredKicks: Uint8Array;
  private readonly chain = new DescChain();

  constructor(protected readonly wiring: VirtioPciWiring, p: VirtioDeviceParams) {
    super({
      vendorId: VIRTIO_PCI_VENDOR,
      deviceId: VIRTIO_PCI_DEVICE_BASE + p.deviceType,
      classCode: p.classCode,
      revision: 1,
      subsystemVendorId: VIRTIO_PCI_VENDOR,
      // Modern devices should use 0x40 or above; this is the value QEMU gives them.
      subsystemId: 0x1100,
      interruptPin: 1,
    });
    this.ram = new GuestRam(wiring.phys);
    this.queues = [];
    for (let i = 0; i < p.numQueues; i++) this.queues.push(new SplitVirtqueue(i, p.queueSize, this.ram));
    this.deferredKicks = new Uint8Array(p.numQueues);
    this.config = new Uint8Array(p.configSize);
    this.configView = new DataView(this.config.buffer);
    this.deviceFeatures = [
      (p.featuresLo | (1 << F_INDIRECT_DESC) | (1 << F_RING_EVENT_IDX)) >>> 0,
      ((p.featuresHi ?? 0) | (1 << (F_VERSION_1 - 32))) >>> 0,
    ];

    this.defineBar(VIRTIO_BAR, { size: BAR_SIZE, kind: 'mem64' });
    this.onBarChange = (i, a) => { if (i === VIRTIO_BAR) this.mapBar(a); };
    this.onCommandChange = () => this.commandChanged();

    this.msixVectors = p.numQueues + 1;
    this.msixTable = new Uint8Array(16 * this.msixVectors);
    this.msixView = new DataView(this.msixTable.buffer);
    this.pba = new Uint8Array(8 * Math.ceil(this.msixVectors / 64));
    this.maskAllVectors();
    const m = this.msixCap = this.addCapability(PCI_CAP_ID_MSIX, 12);
    this.set16(m + 2, this.msixVectors - 1);
    this.wmask[m + 3] = 0xc0; // enable, function mask
    this.set32(m + 4, BAR_MSIX_TABLE | VIRTIO_BAR);
    this.set32(m + 8, BAR_MSIX_PBA | VIRTIO_BAR);

    this.addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON, COMMON_CFG_LEN, 0);
    const n = this.addVirtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, BAR_NOTIFY, NOTIFY_OFF_MULTIPLIER * p.numQueues, 4);
    this.set32(n + 16, NOTIFY_OFF_MULTIPLIER);
    this.addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 1, 0);
    this.addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE, p.configSize, 0);
    // The spec requires this window even though Linux never uses it (it serves firmware that
    // cannot map BARs): bar, offset and length select a BAR access, pci_cfg_data performs it.
    const c = this.pciCfgCap = this.addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 4);
    this.bytes[c + 4] = 0;
    this.setWritable(c + 4, 1, 0xff);
    this.setWritable(c + 8, 4, 0xffffffff);
    this.setWritable(c + 12, 4, 0xffffffff);
    this.setWritable(c + 16, 4, 0xffffffff);
  }

  /** Handle one request; return the number of bytes written into its device-writable buffers. */
  protected abstract handleChain(q: SplitVirtqueue, c: DescChain): number;
  /** Device-type state to drop on a virtio reset. */
  protected onDeviceReset(): void {}
  /** Driver writes to device configuration; read-only by default. */
  protected writeDeviceConfig(_offset: number, _size: IoSize, _value: number): void {}

  /** Whether the driver accepted feature `bit`. */
  hasFeature(bit: number): boolean {
    return ((this.driverFeatures[bit >> 5] >>> (bit & 31)) & 1) !== 0;
  }

  offersFeature(bit: number): boolean {
    return ((this.deviceFeatures[bit >> 5] >>> (bit & 31)) & 1) !== 0;
  }

  /** Raise a configuration-change notification (after the device changed its config bytes). */
  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) & 0xff;
    this.notifyConfig();
  }

  /** Power-on state (machine reset): virtio reset plus the PCI side, BAR unmapped, MSI-X off. */
  powerOnReset(): void {
    this.virtioReset();
    this.set16(PCI_COMMAND, 0);
    for (let o = 0x10 + 4 * VIRTIO_BAR; o < 0x18 + 4 * VIRTIO_BAR; o++) this.bytes[o] &= ~this.wmask[o];
    this.bytes[0x3c] = 0;
    this.bytes[this.msixCap + 3] &= ~0xc0;
    this.msixTable.fill(0);
    this.maskAllVectors();
    this.pba.fill(0);
    this.mapBar(-1);
    this.updateIntx();
  }

  // ---- PCI configuration space ----

  override configRead(offset: number, size: IoSize): number {
    const d = this.pciCfgCap + 16;
    if (offset < d + 4 && offset + size > d) this.pciCfgAccess(false);
    return super.configRead(offset, size);
  }

  override configWrite(offset: number, size: IoSize, value: number): void {
    super.configWrite(offset, size, value);
    const ctl = this.msixCap + 2;
    if (offset < ctl + 2 && offset + size > ctl) {
      this.updateIntx();
      this.deliverUnmasked();
    }
    const d = this.pciCfgCap + 16;
    if (offset < d + 4 && offset + size > d) this.pciCfgAccess(true);
  }

  private addVirtioCap(type: number, offset: number, length: number, extra: number): number {
    const size = 16 + extra;
    const c = this.addCapability(PCI_CAP_ID_VNDR, size);
    this.bytes[c + 2] = size;
    this.bytes[c + 3] = type;
    this.bytes[c + 4] = VIRTIO_BAR;
    this.set32(c + 8, offset);
    this.set32(c + 12, length);
    return c;
  }

  private pciCfgAccess(write: boolean): void {
    const c = this.pciCfgCap;
    const bar = this.bytes[c + 4], off = this.get32(c + 8), len = this.get32(c + 12);
    if (bar !== VIRTIO_BAR || (len !== 1 && len !== 2 && len !== 4) || off % len !== 0 || off + len > BAR_SIZE) return;
    if (write) {
      const v = this.get32(c + 16);
      this.mmioWrite(off, len, len === 4 ? v : v & ((1 << (8 * len)) - 1));
    } else {
      const v = this.mmioRead(off, len);
      for (let i = 0; i < len; i++) this.bytes[c + 16 + i] = (v >>> (8 * i)) & 0xff;
    }
  }

  private mapBar(address: number): void {
    if (this.mappedAt >= 0) {
      this.wiring.phys.removeMmio(this.wiring.name);
      this.mappedAt = -1;
    }
    if (address < 0 || address + BAR_SIZE > MAX_PHYS) return;
    try {
      this.wiring.phys.addMmio(address, BAR_SIZE, this, this.wiring.name);
      this.mappedAt = address;
    } catch {
      // Overlaps another region: a decode conflict on real hardware too; the BAR stays dark.
    }
  }

  /** Guest physical address the BAR is mapped at, or -1. */
  get barMappedAt(): number { return this.mappedAt; }

  private commandChanged(): void {
    this.updateIntx();
    if (!(this.get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) return;
    for (let i = 0; i < this.deferredKicks.length; i++) {
      if (this.deferredKicks[i]) { this.deferredKicks[i] = 0; this.kick(i); }
    }
  }

  // ---- BAR ----

  mmioRead(offset: number, size: IoSize): number {
    if (offset < BAR_ISR) return offset < COMMON_CFG_LEN ? this.commonRead(offset, size) : 0;
    if (offset < BAR_DEVICE) {
      if (offset !== BAR_ISR) return 0;
      // Reading ISR acknowledges the interrupt (§4.1.4.5).
      const v = this.isr;
      this.isr = 0;
      this.updateIntx();
      return v;
    }
    if (offset < BAR_NOTIFY) return this.readBytes(this.config, offset - BAR_DEVICE, size);
    if (offset < BAR_MSIX_TABLE) return 0;
    if (offset < BAR_MSIX_PBA) return this.readBytes(this.msixTable, offset - BAR_MSIX_TABLE, size);
    return this.readBytes(this.pba, offset - BAR_MSIX_PBA, size);
  }

  mmioWrite(offset: number, size: IoSize, value: number): void {
    if (offset < BAR_ISR) { if (offset < COMMON_CFG_LEN) this.commonWrite(offset, size, value); return; }
    if (offset < BAR_DEVICE) return;
    if (offset < BAR_NOTIFY) {
      const o = offset - BAR_DEVICE;
      if (o + size <= this.config.length) this.writeDeviceConfig(o, size, value);
      return;
    }
    if (offset < BAR_MSIX_TABLE) {
      const qi = (offset - BAR_NOTIFY) / NOTIFY_OFF_MULTIPLIER;
      if (Number.isInteger(qi) && qi < this.queues.length) this.kick(qi);
      return;
    }
    if (offset < BAR_MSIX_PBA) this.msixTableWrite(offset - BAR_MSIX_TABLE, size, value);
    // The PBA is read-only.
  }

  private readBytes(b: Uint8Array, o: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) if (o + i < b.length) v |= b[o + i] << (8 * i);
    return v >>> 0;
  }

  // ---- common configuration (§4.1.4.3) ----

  private commonRead(offset: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      if (o >= COMMON_CFG_LEN) break;
      const start = FIELD_AT[o];
      v |= ((this.commonField(start) >>> (8 * (o - start))) & 0xff) << (8 * i);
    }
    return v >>> 0;
  }

  private commonWrite(offset: number, size: number, value: number): void {
    // Narrow or straddling writes merge into each field they touch, so any access width works.
    let o = offset;
    const end = Math.min(offset + size, COMMON_CFG_LEN);
    while (o < end) {
      const start = FIELD_AT[o];
      const fsize = fieldSize(start);
      let merged = this.commonField(start);
      for (let b = start; b < start + fsize; b++) {
        if (b < offset || b >= offset + size) continue;
        const shift = 8 * (b - start);
        merged = (merged & ~(0xff << shift)) | (((value >>> (8 * (b - offset))) & 0xff) << shift);
      }
      this.setCommonField(start, merged >>> 0);
      o = start + fsize;
    }
  }

  private get selectedQueue(): SplitVirtqueue | undefined {
    return this.queues[this.queueSelect];
  }

  private commonField(start: number): number {
    const q = this.selectedQueue;
    switch (start) {
      case 0x00: return this.deviceFeatureSelect;
      case 0x04: return this.deviceFeatureSelect < 2 ? this.deviceFeatures[this.deviceFeatureSelect] : 0;
      case 0x08: return this.driverFeatureSelect;
      case 0x0c: return this.driverFeatureSelect < 2 ? this.driverFeatures[this.driverFeatureSelect] : 0;
      case 0x10: return this.configVector;
      case 0x12: return this.queues.length;
      case 0x14: return this.status;
      case 0x15: return this.configGeneration;
      case 0x16: return this.queueSelect;
      case 0x18: return q ? q.size : 0;
      case 0x1a: return q ? q.msixVector : VIRTIO_MSI_NO_VECTOR;
      case 0x1c: return q && q.enabled ? 1 : 0;
      case 0x1e: return q ? q.index : 0; // queue_notify_off: one multiplier step per queue
      case 0x20: return q ? q.descAddr % 0x1_0000_0000 : 0;
      case 0x24: return q ? Math.floor(q.descAddr / 0x1_0000_0000) : 0;
      case 0x28: return q ? q.driverAddr % 0x1_0000_0000 : 0;
      case 0x2c: return q ? Math.floor(q.driverAddr / 0x1_0000_0000) : 0;
      case 0x30: return q ? q.deviceAddr % 0x1_0000_0000 : 0;
      case 0x34: return q ? Math.floor(q.deviceAddr / 0x1_0000_0000) : 0;
      case 0x38: return q ? q.index : 0; // queue_notify_data
      default: return 0; // queue_reset: VIRTIO_F_RING_RESET is not offered
    }
  }

  private setCommonField(start: number, v: number): void {
    const q = this.selectedQueue;
    // Queue fields are frozen once the queue is enabled (§4.1.4.3.2).
    const qw = q !== undefined && !q.enabled ? q : undefined;
    const lo = (a: number): number => Math.floor(a / 0x1_0000_0000) * 0x1_0000_0000 + v;
    const hi = (a: number): number => (a % 0x1_0000_0000) + v * 0x1_0000_0000;
    switch (start) {
      case 0x00: this.deviceFeatureSelect = v; return;
      case 0x08: this.driverFeatureSelect = v; return;
      case 0x0c:
        if (this.driverFeatureSelect < 2 && !(this.status & STATUS_FEATURES_OK)) this.driverFeatures[this.driverFeatureSelect] = v;
        return;
      case 0x10: this.configVector = this.validVector(v); return;
      case 0x14: this.writeStatus(v & 0xff); return;
      case 0x16: this.queueSelect = v & 0xffff; return;
      case 0x18: if (qw && v >= 1 && v <= qw.maxSize) qw.size = v; return;
      case 0x1a: if (q) q.msixVector = this.validVector(v); return;
      case 0x1c:
        if (qw && v === 1) qw.enable(this.hasFeature(F_RING_EVENT_IDX), this.hasFeature(F_INDIRECT_DESC));
        return;
      case 0x20: if (qw) qw.descAddr = lo(qw.descAddr); return;
      case 0x24: if (qw) qw.descAddr = hi(qw.descAddr); return;
      case 0x28: if (qw) qw.driverAddr = lo(qw.driverAddr); return;
      case 0x2c: if (qw) qw.driverAddr = hi(qw.driverAddr); return;
      case 0x30: if (qw) qw.deviceAddr = lo(qw.deviceAddr); return;
      case 0x34: if (qw) qw.deviceAddr = hi(qw.deviceAddr); return;
      default: return;
    }
  }

  /** A vector the table can hold, else NO_VECTOR: the driver reads it back to detect failure. */
  private validVector(v: number): number {
    return v < this.msixVectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  private writeStatus(v: number): void {
    if (v === 0) { this.virtioReset(); return; }
    if ((v & STATUS_FEATURES_OK) && !(this.status & STATUS_FEATURES_OK) && !this.featuresAcceptable()) {
      // Left clear so the driver sees the refusal when it reads the status back (§3.1.1 step 6).
      v &= ~STATUS_FEATURES_OK;
    }
    const wasOk = (this.status & STATUS_DRIVER_OK) !== 0;
    this.status = v | (this.status & STATUS_DEVICE_NEEDS_RESET);
    // Buffers made available before DRIVER_OK were not consumed (§2.1.2); do it now.
    if (!wasOk && (v & STATUS_DRIVER_OK)) for (let i = 0; i < this.queues.length; i++) this.kick(i);
  }

  private featuresAcceptable(): boolean {
    const [dl, dh] = this.driverFeatures;
    if ((dl & ~this.deviceFeatures[0]) !== 0 || (dh & ~this.deviceFeatures[1]) !== 0) return false;
    return this.hasFeature(F_VERSION_1);
  }

  private virtioReset(): void {
    this.status = 0;
    this.driverFeatures[0] = this.driverFeatures[1] = 0;
    this.deviceFeatureSelect = this.driverFeatureSelect = this.queueSelect = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    for (const q of this.queues) q.reset();
    this.deferredKicks.fill(0);
    this.pba.fill(0);
    this.isr = 0;
    this.lastError = null;
    this.onDeviceReset();
    this.updateIntx();
  }

  private needsReset(why: string): void {
    this.lastError = why;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    if (this.status & STATUS_DRIVER_OK) this.notifyConfig();
  }

  // ---- queues ----

  private kick(qi: number): void {
    const q = this.queues[qi];
    if (!q.enabled || (this.status & (STATUS_DRIVER_OK | STATUS_DEVICE_NEEDS_RESET)) !== STATUS_DRIVER_OK) return;
    if (!(this.get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) { this.deferredKicks[qi] = 1; return; }
    const c = this.chain;
    try {
      while (q.pop(c)) q.push(c.head, this.handleChain(q, c));
      if (q.finishBatch()) this.notifyQueue(q);
    } catch (e) {
      // Whatever the guest put in the ring, the emulator keeps running: the device stops
      // using the queue and asks the driver for a reset.
      this.needsReset(e instanceof RingError ? e.message : `internal error: ${String(e)}`);
    }
  }

  // ---- interrupts ----

  get msixEnabled(): boolean { return (this.bytes[this.msixCap + 3] & 0x80) !== 0; }
  private get msixFunctionMasked(): boolean { return (this.bytes[this.msixCap + 3] & 0x40) !== 0; }

  private notifyQueue(q: SplitVirtqueue): void {
    if (this.msixEnabled) { this.msixNotify(q.msixVector); return; }
    this.isr |= ISR_QUEUE;
    this.updateIntx();
  }

  private notifyConfig(): void {
    // The config bit is set even with MSI-X, so a driver polling ISR still sees it (§4.1.4.5.1).
    this.isr |= ISR_CONFIG;
    if (this.msixEnabled) this.msixNotify(this.configVector);
    else this.updateIntx();
  }

  /** INTx follows ISR while MSI-X is off; PCI status bit 3 mirrors it regardless of INTx disable. */
  private updateIntx(): void {
    const pending = !this.msixEnabled && this.isr !== 0;
    if (pending) this.bytes[PCI_STATUS] |= 0x08;
    else this.bytes[PCI_STATUS] &= ~0x08;
    const level = pending && !(this.get16(PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE);
    if (level !== this.intxLevel) {
      this.intxLevel = level;
      this.wiring.setIntx(level);
    }
  }

  private vectorMasked(v: number): boolean {
    return (this.msixTable[16 * v + 12] & 1) !== 0;
  }

  private msixNotify(v: number): void {
    if (v >= this.msixVectors) return; // NO_VECTOR: the driver asked for no interrupt
    if (this.msixFunctionMasked || this.vectorMasked(v)) this.pba[v >> 3] |= 1 << (v & 7);
    else this.msixSend(v);
  }

  private msixSend(v: number): void {
    // An MSI is a memory write by the device, so it needs bus mastering like any DMA.
    if (!(this.get16(PCI_COMMAND) & PCI_COMMAND_MASTER)) return;
    const e = 16 * v;
    const lo = this.msixView.getUint32(e, true), hi = this.msixView.getUint32(e + 4, true);
    // Only the APIC window is decoded as an interrupt; writes elsewhere are dropped.
    if (hi === 0) this.wiring.deliverMsi(lo, this.msixView.getUint32(e + 8, true));
  }

  private msixTableWrite(o: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const b = o + i;
      if (b >= this.msixTable.length) break;
      let v = (value >>> (8 * i)) & 0xff;
      const field = b & 15;
      if (field === 0) v &= 0xfc; // message address bits 1:0 are reserved
      else if (field === 12) v &= 1; // vector control: only the mask bit
      else if (field > 12) v = 0;
      this.msixTable[b] = v;
    }
    this.deliverUnmasked();
  }

  /** Send messages left pending by masking once their vector and the function are unmasked. */
  private deliverUnmasked(): void {
    if (!this.msixEnabled || this.msixFunctionMasked) return;
    for (let v = 0; v < this.msixVectors; v++) {
      const bit = 1 << (v & 7);
      if ((this.pba[v >> 3] & bit) && !this.vectorMasked(v)) {
        this.pba[v >> 3] &= ~bit;
        this.msixSend(v);
      }
    }
  }

  private maskAllVectors(): void {
    for (let v = 0; v < this.msixVectors; v++) this.msixTable[16 * v + 12] = 1;
  }
}
