// QEMU firmware configuration interface (docs/specs/fw_cfg.rst in QEMU): a selector port,
// a byte-wide data port, and optionally the DMA interface. SeaBIOS and test kernels read
// the machine's RAM size, CPU count and named "files" (etc/...) through it.

import type { IoHandler, IoSize } from './types.js';
import { allOnes } from './openbus.js';

/** Guest-memory access the DMA interface needs (PhysMem satisfies it). */
export interface FwCfgDmaMemory {
  read(paddr: number, size: IoSize): number;
  write(paddr: number, size: IoSize, value: number): void;
}

export const FW_CFG = {
  SIGNATURE: 0x00,
  ID: 0x01,
  UUID: 0x02,
  RAM_SIZE: 0x03,
  NOGRAPHIC: 0x04,
  NB_CPUS: 0x05,
  MACHINE_ID: 0x06,
  KERNEL_ADDR: 0x07,
  KERNEL_SIZE: 0x08,
  KERNEL_CMDLINE: 0x09,
  INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b,
  BOOT_DEVICE: 0x0c,
  NUMA: 0x0d,
  BOOT_MENU: 0x0e,
  MAX_CPUS: 0x0f,
  KERNEL_ENTRY: 0x10,
  KERNEL_DATA: 0x11,
  INITRD_DATA: 0x12,
  CMDLINE_ADDR: 0x13,
  CMDLINE_SIZE: 0x14,
  CMDLINE_DATA: 0x15,
  SETUP_ADDR: 0x16,
  SETUP_SIZE: 0x17,
  SETUP_DATA: 0x18,
  FILE_DIR: 0x19,
  FILE_FIRST: 0x20,
  /** x86-specific keys (FW_CFG_ARCH_LOCAL | n). */
  ACPI_TABLES: 0x8000,
  SMBIOS_ENTRIES: 0x8001,
  IRQ0_OVERRIDE: 0x8002,
  E820_TABLE: 0x8003,
  HPET: 0x8004,
} as const;

const FILE_NAME_LEN = 56;
const DMA_ERROR = 0x01, DMA_READ = 0x02, DMA_SKIP = 0x04, DMA_SELECT = 0x08, DMA_WRITE = 0x10;
/** What reading the DMA address register returns: "QEMU CFG" as a big-endian u64. */
const DMA_SIGNATURE_HI = 0x51454d55, DMA_SIGNATURE_LO = 0x20434647;

function le(bytes: number, v: number): Uint8Array {
  const a = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) {
    a[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return a;
}

export interface FwCfgOptions {
  ramBytes: number;
  cpuCount: number;
  /** Guest memory for the DMA interface; without it the DMA feature bit is clear. */
  dmaMemory?: FwCfgDmaMemory;
}

export class FwCfg implements IoHandler {
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number }[] = [];
  private selector = 0;
  private offset = 0;
  private current: Uint8Array | undefined;
  private readonly dma: FwCfgDmaMemory | undefined;
  /** High half of the DMA descriptor address, waiting for the low half that starts the transfer. */
  private dmaAddrHi = 0;

  constructor(opts: FwCfgOptions) {
    this.dma = opts.dmaMemory;
    this.setItem(FW_CFG.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.setU32(FW_CFG.ID, this.dma ? 3 : 1);
    this.setItem(FW_CFG.UUID, new Uint8Array(16));
    this.setU64(FW_CFG.RAM_SIZE, opts.ramBytes);
    this.setU16(FW_CFG.NOGRAPHIC, 1);
    this.setU16(FW_CFG.NB_CPUS, opts.cpuCount);
    this.setU16(FW_CFG.MAX_CPUS, opts.cpuCount);
    this.setU32(FW_CFG.MACHINE_ID, 0);
    this.setU16(FW_CFG.BOOT_MENU, 0);
    // No NUMA nodes: node count 0, then one node id per APIC id, then one size per node.
    this.setItem(FW_CFG.NUMA, new Uint8Array(8 * (1 + opts.cpuCount)));
    // Direct kernel boot is not done through fw_cfg; firmware finds these zero and boots from disk.
    for (const k of [FW_CFG.KERNEL_ADDR, FW_CFG.KERNEL_SIZE, FW_CFG.INITRD_ADDR, FW_CFG.INITRD_SIZE,
      FW_CFG.CMDLINE_ADDR, FW_CFG.CMDLINE_SIZE, FW_CFG.SETUP_ADDR, FW_CFG.SETUP_SIZE, FW_CFG.KERNEL_ENTRY]) this.setU32(k, 0);
    this.setU16(FW_CFG.BOOT_DEVICE, 0);
    // The IRQ0 -> GSI2 override is present in our MADT.
    this.setU32(FW_CFG.IRQ0_OVERRIDE, 1);
    this.rebuildDirectory();
  }

  setItem(key: number, data: Uint8Array): void {
    this.items.set(key & 0xffff, data);
    if ((key & 0x3fff) === this.selector) this.current = this.items.get(this.selector);
  }

  setU16(key: number, v: number): void { this.setItem(key, le(2, v)); }
  setU32(key: number, v: number): void { this.setItem(key, le(4, v)); }
  setU64(key: number, v: number): void { this.setItem(key, le(8, v)); }

  /** Add or replace a named file (e.g. "etc/e820"); returns its selector key. */
  addFile(name: string, data: Uint8Array): number {
    const encoded = new TextEncoder().encode(name);
    if (encoded.length >= FILE_NAME_LEN) throw new Error(`fw_cfg file name too long: ${name}`);
    let entry = this.files.find((f) => f.name === name);
    if (!entry) {
      entry = { name, key: FW_CFG.FILE_FIRST + this.files.length };
      this.files.push(entry);
    }
    this.setItem(entry.key, data);
    this.rebuildDirectory();
    return entry.key;
  }

  /** The directory is big-endian: u32 count, then {u32 size, u16 select, u16 reserved, char name[56]} sorted by name. */
  private rebuildDirectory(): void {
    const sorted = [...this.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dir = new Uint8Array(4 + 64 * sorted.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, sorted.length);
    sorted.forEach((f, i) => {
      const o = 4 + 64 * i;
      dv.setUint32(o, this.items.get(f.key)!.length);
      dv.setUint16(o + 4, f.key);
      dir.set(new TextEncoder().encode(f.name), o + 8);
    });
    this.setItem(FW_CFG.FILE_DIR, dir);
  }

  private select(key: number): void {
    this.selector = key & 0xffff;
    this.offset = 0;
    // Bit 14 selects the (unsupported) write channel of the same item.
    this.current = this.items.get(this.selector & ~0x4000);
  }

  private nextByte(): number {
    const cur = this.current;
    if (!cur || this.offset >= cur.length) return 0;
    return cur[this.offset++];
  }

  ioRead(port: number, size: IoSize): number {
    switch (port) {
      case 0x510: return this.selector;
      case 0x511: {
        let v = 0;
        for (let i = 0; i < size; i++) v |= this.nextByte() << (8 * i);
        return v >>> 0;
      }
      // The DMA address register reads back the "QEMU CFG" signature (big-endian).
      case 0x514: return this.dma ? bswap32(DMA_SIGNATURE_HI) : 0xffffffff;
      case 0x518: return this.dma ? bswap32(DMA_SIGNATURE_LO) : 0xffffffff;
      default: return allOnes(size);
    }
  }

  ioWrite(port: number, size: IoSize, value: number): void {
    switch (port) {
      case 0x510: this.select(size === 1 ? value & 0xff : value & 0xffff); return;
      case 0x511: return; // writes through the data port are not supported (QEMU ignores them too)
      case 0x514: if (size === 4) this.dmaAddrHi = bswap32(value); return;
      case 0x518: if (size === 4 && this.dma) this.runDma(this.dmaAddrHi * 0x1_0000_0000 + bswap32(value)); return;
      default: return;
    }
  }

  /** One FWCfgDmaAccess descriptor: be32 control, be32 length, be64 address. */
  private runDma(desc: number): void {
    const mem = this.dma!;
    const rd32be = (a: number): number => bswap32(mem.read(a, 4));
    let control = rd32be(desc);
    let length = rd32be(desc + 4);
    let addr = rd32be(desc + 8) * 0x1_0000_0000 + rd32be(desc + 12);
    if (control & DMA_SELECT) this.select(control >>> 16);
    control &= 0xffff;
    let status = 0;
    if (control & DMA_WRITE) {
      status = DMA_ERROR;
    } else if (control & (DMA_READ | DMA_SKIP)) {
      const cur = this.current;
      while (length > 0) {
        const b = cur && this.offset < cur.length ? cur[this.offset] : 0;
        if (cur && this.offset < cur.length) this.offset++;
        if (control & DMA_READ) mem.write(addr, 1, b);
        addr++;
        length--;
      }
    }
    mem.write(desc, 4, bswap32(status));
  }
}

function bswap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}
