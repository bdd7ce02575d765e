import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';

/** One e820-style memory map entry (type 1 = usable RAM, 2 = reserved). */
export interface MemRange { base: number; length: number; type: 1 | 2 }

export const LOW_RAM_END = 0x9fc00; // the last KiB below 640 KiB is the EBDA on a PC
export const HIGH_RAM_START = 0x10_0000;
/**
 * Lowest address the loaders put their own structures at (GDT, boot info, page tables, stack).
 * Below it stay the real-mode IVT/BDA and the pages hobby kernels like to use for SMP
 * trampolines (0x7000-0x9000).
 */
export const BOOT_DATA_MIN = 0x1_0000;

/** The PC memory map the loaders report: what SeaBIOS reports for the same RAM size. */
export function e820Map(ramBytes: number): MemRange[] {
  const map: MemRange[] = [{ base: 0, length: Math.min(ramBytes, LOW_RAM_END), type: 1 }];
  map.push({ base: LOW_RAM_END, length: 0xa0000 - LOW_RAM_END, type: 2 });
  map.push({ base: 0xf0000, length: 0x10000, type: 2 });
  if (ramBytes > HIGH_RAM_START) map.push({ base: HIGH_RAM_START, length: ramBytes - HIGH_RAM_START, type: 1 });
  return map;
}

/** KiB of conventional and extended memory, as multiboot's mem_lower/mem_upper want them. */
export function memLowerUpperKiB(ramBytes: number): { lower: number; upper: number } {
  return { lower: Math.floor(Math.min(ramBytes, LOW_RAM_END) / 1024), upper: Math.max(0, Math.floor((ramBytes - HIGH_RAM_START) / 1024)) };
}

const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const hex = (v: number) => `0x${v.toString(16)}`;

/**
 * Tracks which guest physical ranges are taken (kernel segments, modules, boot structures) and
 * hands out free ones, so nothing the loader writes can land on the image or on each other.
 */
export class Placer {
  private readonly used: { start: number; end: number; what: string }[] = [];
  private readonly usable: { start: number; end: number }[];

  constructor(readonly ramBytes: number) {
    this.usable = e820Map(ramBytes).filter((r) => r.type === 1).map((r) => ({ start: r.base, end: r.base + r.length }));
  }

  /** Claims a fixed range (an image segment); throws UsageError if it is outside RAM or overlaps. */
  reserve(start: number, length: number, what: string): void {
    if (!Number.isFinite(start) || start < 0 || start + length > this.ramBytes) {
      throw new UsageError(`${what} at ${hex(start)}-${hex(start + length)} is outside guest RAM (${this.ramBytes / 2 ** 20} MiB)`);
    }
    const end = start + length;
    for (const u of this.used) {
      if (start < u.end && u.start < end) throw new UsageError(`${what} at ${hex(start)}-${hex(end)} overlaps ${u.what} at ${hex(u.start)}-${hex(u.end)}`);
    }
    this.insert({ start, end, what });
  }

  /** First-fit allocation of free usable RAM at or above `min`. */
  alloc(length: number, align: number, what: string, min = BOOT_DATA_MIN): number {
    for (const r of this.usable) {
      let at = alignUp(Math.max(r.start, min), align);
      for (let moved = true; moved;) {
        moved = false;
        for (const u of this.used) {
          if (at < u.end && u.start < at + Math.max(length, 1)) { at = alignUp(u.end, align); moved = true; }
        }
      }
      if (at + length <= r.end) {
        this.insert({ start: at, end: at + length, what });
        return at;
      }
    }
    throw new UsageError(`no room in guest RAM for ${what} (${length} bytes): give the guest more memory`);
  }

  /** Highest end address of everything claimed so far. */
  highest(): number {
    return this.used.reduce((m, u) => Math.max(m, u.end), 0);
  }

  private insert(r: { start: number; end: number; what: string }): void {
    this.used.push(r);
    this.used.sort((a, b) => a.start - b.start);
  }
}

/** Writes bytes into guest RAM, turning PhysMem's RangeError into a one-line UsageError. */
export function put(mem: PhysMem, addr: number, data: Uint8Array, what: string): void {
  if (addr < 0 || addr + data.length > mem.ramBytes) throw new UsageError(`${what} at ${hex(addr)} does not fit in guest RAM`);
  mem.writeBytes(addr, data);
}

export function zero(mem: PhysMem, addr: number, length: number, what: string): void {
  if (length === 0) return;
  if (addr < 0 || addr + length > mem.ramBytes) throw new UsageError(`${what} at ${hex(addr)} does not fit in guest RAM`);
  mem.fill(addr, length, 0);
}

/** NUL-terminated string in free RAM; returns its address. */
export function putString(mem: PhysMem, placer: Placer, s: string, what: string): number {
  const bytes = new TextEncoder().encode(s + '\0');
  const addr = placer.alloc(bytes.length, 1, what);
  mem.writeBytes(addr, bytes);
  return addr;
}

export interface PlacedModule { start: number; end: number; name: string }

/**
 * Loads modules page-aligned above the kernel image (as GRUB and QEMU do), in the given order.
 * Zero-length modules still get a distinct address so mod_start < the next module's start.
 */
export function placeModules(mem: PhysMem, placer: Placer, modules: readonly { name: string; data: Uint8Array }[]): PlacedModule[] {
  const floor = alignUp(Math.max(placer.highest(), HIGH_RAM_START), 0x1000);
  return modules.map((m) => {
    const start = placer.alloc(Math.max(m.data.length, 1), 0x1000, `module ${m.name}`, floor);
    mem.writeBytes(start, m.data);
    return { start, end: start + m.data.length, name: m.name };
  });
}

/**
 * Writes the loaders' GDT (null, flat code32 0x08, flat data 0x10, code64 0x18) and returns GDTR.
 * The accessed bits are preset so loading the selectors never needs a descriptor write-back.
 */
export function writeGdt(mem: PhysMem, placer: Placer): { base: number; limit: number } {
  const base = placer.alloc(32, 16, 'GDT');
  const desc = [
    [0, 0],
    [0x0000ffff, 0x00cf9b00], // base 0, limit 4 GiB, 32-bit, execute/read, present, accessed
    [0x0000ffff, 0x00cf9300], // base 0, limit 4 GiB, read/write data, present, accessed
    [0x0000ffff, 0x00af9b00], // L=1 64-bit code, present, accessed
  ];
  desc.forEach(([lo, hi], i) => { mem.write32(base + i * 8, lo); mem.write32(base + i * 8 + 4, hi); });
  return { base, limit: desc.length * 8 - 1 };
}
