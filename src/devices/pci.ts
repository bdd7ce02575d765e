// PCI bus 0 with configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8, CONFIG_DATA at
// 0xCFC-0xCFF), the interface PCI functions implement, and a reusable type-0 configuration
// header with the standard write masks and BAR sizing behaviour.

import type { IoHandler, IoSize } from './types.js';
import { allOnes } from './openbus.js';

/** A PCI function's configuration space as the bus sees it. Offsets are 0..255 and naturally aligned for `size`. */
export interface PciFunction {
  configRead(offset: number, size: IoSize): number;
  configWrite(offset: number, size: IoSize, value: number): void;
}

export type PciBarKind = 'io' | 'mem32' | 'mem64';

export interface PciBarDef {
  /** Power of two; at least 4 for I/O and 16 for memory BARs. */
  size: number;
  kind: PciBarKind;
  prefetchable?: boolean;
}

export interface PciIdent {
  vendorId: number;
  deviceId: number;
  /** Base class << 16 | subclass << 8 | programming interface. */
  classCode: number;
  revision?: number;
  /** Bit 7 set on function 0 of a multi-function device. */
  headerType?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 1 = INTA# .. 4 = INTD#, 0 = none. */
  interruptPin?: number;
}

export const PCI_COMMAND = 0x04, PCI_STATUS = 0x06, PCI_BAR0 = 0x10, PCI_CAPABILITY_LIST = 0x34, PCI_INTERRUPT_LINE = 0x3c;
export const PCI_COMMAND_IO = 0x1, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4, PCI_COMMAND_INTX_DISABLE = 0x400;

/**
 * A type-0 configuration header backed by bytes plus per-byte masks of guest-writable and
 * write-1-to-clear bits. Device models define BARs and extra registers by adjusting the masks
 * (or by overriding configRead/configWrite for side effects).
 */
export class PciConfigSpace implements PciFunction {
  readonly bytes = new Uint8Array(256);
  readonly wmask = new Uint8Array(256);
  readonly w1cmask = new Uint8Array(256);
  readonly bars: (PciBarDef | undefined)[] = new Array(6);
  /** Called after the guest moves a BAR or toggles I/O / memory decoding: the device remaps itself. `address` is -1 when not decoding. */
  onBarChange: ((index: number, address: number) => void) | null = null;
  /** Called after a write to the command register (bus mastering, INTx disable). */
  onCommandChange: ((command: number) => void) | null = null;

  constructor(id: PciIdent) {
    this.set16(0x00, id.vendorId);
    this.set16(0x02, id.deviceId);
    this.bytes[0x08] = id.revision ?? 0;
    this.bytes[0x09] = id.classCode & 0xff;
    this.bytes[0x0a] = (id.classCode >> 8) & 0xff;
    this.bytes[0x0b] = (id.classCode >> 16) & 0xff;
    this.bytes[0x0e] = id.headerType ?? 0;
    this.set16(0x2c, id.subsystemVendorId ?? 0);
    this.set16(0x2e, id.subsystemId ?? 0);
    this.bytes[0x3d] = id.interruptPin ?? 0;
    // Command: I/O, memory, bus master, parity, SERR, INTx disable.
    this.wmask[0x04] = 0x47;
    this.wmask[0x05] = 0x05;
    // Status: the error bits are write-1-to-clear.
    this.w1cmask[0x07] = 0xf9;
    this.wmask[0x0c] = 0xff; // cache line size
    this.wmask[0x0d] = 0xff; // latency timer
    this.wmask[0x3c] = 0xff; // interrupt line (scratch for the OS)
  }

  set8(o: number, v: number): void { this.bytes[o] = v & 0xff; }
  set16(o: number, v: number): void { this.bytes[o] = v & 0xff; this.bytes[o + 1] = (v >> 8) & 0xff; }
  set32(o: number, v: number): void { this.set16(o, v & 0xffff); this.set16(o + 2, v >>> 16); }
  get8(o: number): number { return this.bytes[o]; }
  get16(o: number): number { return this.bytes[o] | (this.bytes[o + 1] << 8); }
  get32(o: number): number { return (this.get16(o) | (this.get16(o + 2) << 16)) >>> 0; }

  /** Make bits guest-writable (an extra device register). */
  setWritable(o: number, size: IoSize, mask: number): void {
    for (let i = 0; i < size; i++) this.wmask[o + i] = (mask >>> (8 * i)) & 0xff;
  }

  /** Next free byte for capabilities (they live in the device-specific area from 0x40). */
  private capNext = 0x40;

  /**
   * Append a capability of `size` bytes (ID and next pointer included) to the capability
   * list and return its offset; the caller fills in the body and write masks.
   */
  addCapability(id: number, size: number): number {
    const off = (this.capNext + 3) & ~3;
    if (off + size > 0x100) throw new Error('PCI capability does not fit in configuration space');
    this.capNext = off + size;
    this.bytes[off] = id;
    this.bytes[off + 1] = 0;
    // Link from the end of the current list.
    if (!(this.bytes[PCI_STATUS] & 0x10)) {
      this.bytes[PCI_STATUS] |= 0x10;
      this.bytes[PCI_CAPABILITY_LIST] = off;
    } else {
      let p = this.bytes[PCI_CAPABILITY_LIST];
      while (this.bytes[p + 1] !== 0) p = this.bytes[p + 1];
      this.bytes[p + 1] = off;
    }
    return off;
  }

  defineBar(index: number, def: PciBarDef): void {
    const min = def.kind === 'io' ? 4 : 16;
    if (def.size < min || (def.size & (def.size - 1)) !== 0) throw new Error(`PCI BAR size must be a power of two >= ${min}`);
    if (def.kind === 'mem64' && index === 5) throw new Error('a 64-bit BAR needs two slots');
    this.bars[index] = def;
    const o = PCI_BAR0 + 4 * index;
    let flags: number, mask: number;
    if (def.kind === 'io') {
      flags = 0x1;
      mask = ~(def.size - 1) & 0xfffffffc;
    } else {
      flags = (def.kind === 'mem64' ? 0x4 : 0) | (def.prefetchable ? 0x8 : 0);
      mask = def.size >= 0x1_0000_0000 ? 0 : ~(def.size - 1) & 0xfffffff0;
    }
    this.set32(o, flags);
    this.setWritable(o, 4, mask >>> 0);
    if (def.kind === 'mem64') {
      this.set32(o + 4, 0);
      const hiMask = def.size > 0x1_0000_0000 ? ~(def.size / 0x1_0000_0000 - 1) : 0xffffffff;
      this.setWritable(o + 4, 4, hiMask >>> 0);
    }
  }

  /** Address a BAR currently decodes at, or -1 if unprogrammed or decoding of its space is off. */
  barAddress(index: number): number {
    const def = this.bars[index];
    if (!def) return -1;
    const o = PCI_BAR0 + 4 * index;
    const cmd = this.get16(PCI_COMMAND);
    if (def.kind === 'io') {
      if (!(cmd & PCI_COMMAND_IO)) return -1;
      const a = this.get32(o) & 0xfffffffc;
      return a === 0 ? -1 : a;
    }
    if (!(cmd & PCI_COMMAND_MEMORY)) return -1;
    let a = (this.get32(o) & 0xfffffff0) >>> 0;
    if (def.kind === 'mem64') a += this.get32(o + 4) * 0x1_0000_0000;
    return a === 0 ? -1 : a;
  }

  configRead(offset: number, size: IoSize): number {
    return size === 1 ? this.get8(offset) : size === 2 ? this.get16(offset) : this.get32(offset);
  }

  configWrite(offset: number, size: IoSize, value: number): void {
    const before = this.decodeSnapshot(offset, size);
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const v = (value >>> (8 * i)) & 0xff;
      const w = this.wmask[o], c = this.w1cmask[o];
      this.bytes[o] = ((this.bytes[o] & ~w) | (v & w)) & ~(v & c);
    }
    if (offset < PCI_COMMAND + 2 && offset + size > PCI_COMMAND) this.onCommandChange?.(this.get16(PCI_COMMAND));
    if (before !== null) this.notifyBars(before);
  }

  /** BAR addresses before a write that may move them (command register or a BAR), else null. */
  private decodeSnapshot(offset: number, size: number): number[] | null {
    const touchesCmd = offset < PCI_COMMAND + 2 && offset + size > PCI_COMMAND;
    const touchesBar = offset < PCI_BAR0 + 24 && offset + size > PCI_BAR0;
    if (!this.onBarChange || (!touchesCmd && !touchesBar)) return null;
    const out: number[] = [];
    for (let i = 0; i < 6; i++) out.push(this.barAddress(i));
    return out;
  }

  private notifyBars(before: number[]): void {
    for (let i = 0; i < 6; i++) {
      if (!this.bars[i]) continue;
      const now = this.barAddress(i);
      if (now !== before[i]) this.onBarChange?.(i, now);
    }
  }
}

/** Routes a function's INTx pin to an interrupt line (installed by the chipset's ISA bridge). */
export type PciIntxRouter = (devfn: number, pin: number, level: boolean) => void;

/** Bus 0 and configuration mechanism #1. Bus numbers other than 0 have no devices. */
export class PciBus implements IoHandler {
  private readonly functions: (PciFunction | undefined)[] = new Array(256);
  /** CONFIG_ADDRESS latch. */
  configAddress = 0;
  intxRouter: PciIntxRouter | null = null;
  /** Byte accesses to 0xCF9 (PIIX reset control), handed to the chipset. */
  resetControl: IoHandler | null = null;

  register(dev: number, fn: number, f: PciFunction): void {
    const devfn = (dev << 3) | fn;
    if (dev > 31 || fn > 7) throw new RangeError('PCI device 0-31, function 0-7');
    if (this.functions[devfn]) throw new Error(`PCI 00:${dev.toString(16).padStart(2, '0')}.${fn} already present`);
    this.functions[devfn] = f;
  }

  get(dev: number, fn: number): PciFunction | undefined {
    return this.functions[(dev << 3) | fn];
  }

  /** A device's INTx# line (pin 0 = INTA# .. 3 = INTD#). Level-triggered, active while `level`. */
  setIntx(devfn: number, pin: number, level: boolean): void {
    this.intxRouter?.(devfn, pin, level);
  }

  /** Configuration access by address (also what an ECAM window would use). Absent functions read all ones. */
  readConfig(bus: number, devfn: number, offset: number, size: IoSize): number {
    const f = bus === 0 ? this.functions[devfn] : undefined;
    if (!f) return allOnes(size);
    return f.configRead(offset, size);
  }

  writeConfig(bus: number, devfn: number, offset: number, size: IoSize, value: number): void {
    const f = bus === 0 ? this.functions[devfn] : undefined;
    f?.configWrite(offset, size, value);
  }

  ioRead(port: number, size: IoSize): number {
    if (port < 0xcfc) {
      if (port === 0xcf8 && size === 4) return this.configAddress;
      if (port === 0xcf9 && size === 1 && this.resetControl) return this.resetControl.ioRead(port, size);
      return allOnes(size);
    }
    const a = this.configAddress;
    if (!(a & 0x80000000)) return allOnes(size);
    return this.readConfig((a >>> 16) & 0xff, (a >>> 8) & 0xff, (a & 0xfc) | (port & 3), size);
  }

  ioWrite(port: number, size: IoSize, value: number): void {
    if (port < 0xcfc) {
      // Only dword writes hit CONFIG_ADDRESS; byte writes to 0xCF9 are the chipset's reset control.
      if (port === 0xcf8 && size === 4) this.configAddress = (value & 0x80fffffc) >>> 0;
      else if (port === 0xcf9 && size === 1) this.resetControl?.ioWrite(port, size, value);
      return;
    }
    const a = this.configAddress;
    if (!(a & 0x80000000)) return;
    this.writeConfig((a >>> 16) & 0xff, (a >>> 8) & 0xff, (a & 0xfc) | (port & 3), size, value);
  }
}
