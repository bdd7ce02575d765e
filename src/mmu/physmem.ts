import { RAM_BASE, MAX_RAM_BYTES, WASM_PAGE, GUEST_PAGE } from './layout.js';
import type { IoSize, MmioHandler } from '../devices/types.js';

interface MmioRegion {
  start: number;
  end: number; // exclusive
  handler: MmioHandler;
  name: string;
}

/**
 * The guest physical address space: RAM (inside the shared WebAssembly.Memory at RAM_BASE),
 * and MMIO regions dispatched to devices. Physical addresses are JS numbers (exact below 2^53).
 * Unbacked addresses read as all ones and ignore writes, like an open bus.
 */
export class PhysMem {
  readonly memory: WebAssembly.Memory;
  readonly ramBytes: number;
  private u8!: Uint8Array;
  private dv!: DataView;
  private readonly mmio: MmioRegion[] = [];
  /** Called before any write that goes through PhysMem (loaders, DMA) so translated code on those pages is dropped. */
  onWrite: ((paddr: number, len: number) => void) | null = null;

  constructor(ramBytes: number, memory?: WebAssembly.Memory) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % GUEST_PAGE !== 0) throw new RangeError('RAM size must be a positive multiple of 4 KiB');
    if (ramBytes > MAX_RAM_BYTES) throw new RangeError(`RAM size above ${MAX_RAM_BYTES / 2 ** 20} MiB is not supported`);
    this.ramBytes = ramBytes;
    const pages = Math.ceil((RAM_BASE + ramBytes) / WASM_PAGE);
    this.memory = memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages });
    if (this.memory.buffer.byteLength < RAM_BASE + ramBytes) this.memory.grow(pages - this.memory.buffer.byteLength / WASM_PAGE);
    this.refreshViews();
  }

  private refreshViews(): void {
    this.u8 = new Uint8Array(this.memory.buffer);
    this.dv = new DataView(this.memory.buffer);
  }

  /** The whole Wasm memory as bytes (host offsets). */
  get bytes(): Uint8Array { return this.u8; }
  get view(): DataView { return this.dv; }

  addMmio(start: number, length: number, handler: MmioHandler, name: string): void {
    const end = start + length;
    for (const r of this.mmio) {
      if (start < r.end && r.start < end) throw new Error(`MMIO region ${name} overlaps ${r.name}`);
    }
    this.mmio.push({ start, end, handler, name });
    this.mmio.sort((a, b) => a.start - b.start);
  }

  /**
   * Drop the MMIO region registered under `name` (a PCI BAR the guest moved or stopped
   * decoding). Returns whether one existed. The range then reads as whatever lies beneath it.
   */
  removeMmio(name: string): boolean {
    const i = this.mmio.findIndex((r) => r.name === name);
    if (i < 0) return false;
    this.mmio.splice(i, 1);
    return true;
  }

  /** Host offset of a RAM byte, or -1 when the address is not RAM. */
  hostOffset(paddr: number): number {
    if (paddr >= 0 && paddr < this.ramBytes && !this.findMmio(paddr)) return RAM_BASE + paddr;
    return -1;
  }

  /** True when the whole 4 KiB page is plain RAM (may be mapped by the TLB for direct access). */
  isRamPage(paddr: number): boolean {
    const page = paddr - (paddr % GUEST_PAGE);
    if (page < 0 || page + GUEST_PAGE > this.ramBytes) return false;
    for (const r of this.mmio) if (page < r.end && r.start < page + GUEST_PAGE) return false;
    return true;
  }

  /**
   * A 32-bit read for the page walker: straight from RAM below the lowest MMIO region (where page
   * tables live), else through `read`.
   */
  readTable32(paddr: number): number {
    if (paddr >= 0 && paddr + 4 <= this.ramBytes && paddr + 4 <= this.mmioLow) return this.dv.getUint32(RAM_BASE + paddr, true);
    return this.read(paddr, 4);
  }

  /** Start of the lowest MMIO region (Infinity without any). */
  private get mmioLow(): number { return this.mmio.length ? this.mmio[0].start : Infinity; }

  findMmio(paddr: number): MmioRegion | undefined {
    for (const r of this.mmio) if (paddr >= r.start && paddr < r.end) return r;
    return undefined;
  }

  read(paddr: number, size: IoSize): number {
    const r = this.findMmio(paddr);
    if (r) return r.handler.mmioRead(paddr - r.start, size) >>> 0;
    if (paddr < 0 || paddr + size > this.ramBytes) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const o = RAM_BASE + paddr;
    return size === 1 ? this.u8[o] : size === 2 ? this.dv.getUint16(o, true) : this.dv.getUint32(o, true);
  }

  write(paddr: number, size: IoSize, value: number): void {
    const r = this.findMmio(paddr);
    if (r) { r.handler.mmioWrite(paddr - r.start, size, value >>> 0); return; }
    if (paddr < 0 || paddr + size > this.ramBytes) return;
    this.onWrite?.(paddr, size);
    const o = RAM_BASE + paddr;
    if (size === 1) this.u8[o] = value;
    else if (size === 2) this.dv.setUint16(o, value, true);
    else this.dv.setUint32(o, value >>> 0, true);
  }

  read8(p: number): number { return this.read(p, 1); }
  read16(p: number): number { return this.read(p, 2); }
  read32(p: number): number { return this.read(p, 4); }
  write8(p: number, v: number): void { this.write(p, 1, v); }
  write16(p: number, v: number): void { this.write(p, 2, v); }
  write32(p: number, v: number): void { this.write(p, 4, v); }
  /** 64-bit value as a double: only for values below 2^53 (addresses, sizes). */
  write64(p: number, v: number): void { this.write32(p, v % 0x1_0000_0000); this.write32(p + 4, Math.floor(v / 0x1_0000_0000)); }
  read64(p: number): number { return this.read32(p) + this.read32(p + 4) * 0x1_0000_0000; }

  /** Copy bytes into guest physical memory (loaders, DMA). RAM only; throws RangeError past the end of RAM. */
  writeBytes(paddr: number, data: Uint8Array): void {
    if (paddr < 0 || paddr + data.length > this.ramBytes) throw new RangeError(`physical range 0x${paddr.toString(16)}+0x${data.length.toString(16)} is outside guest RAM`);
    this.onWrite?.(paddr, data.length);
    this.u8.set(data, RAM_BASE + paddr);
  }

  readBytes(paddr: number, len: number): Uint8Array {
    if (paddr < 0 || paddr + len > this.ramBytes) throw new RangeError(`physical range 0x${paddr.toString(16)}+0x${len.toString(16)} is outside guest RAM`);
    return this.u8.slice(RAM_BASE + paddr, RAM_BASE + paddr + len);
  }

  fill(paddr: number, len: number, value = 0): void {
    if (paddr < 0 || paddr + len > this.ramBytes) throw new RangeError(`physical range 0x${paddr.toString(16)}+0x${len.toString(16)} is outside guest RAM`);
    this.onWrite?.(paddr, len);
    this.u8.fill(value, RAM_BASE + paddr, RAM_BASE + paddr + len);
  }
}
