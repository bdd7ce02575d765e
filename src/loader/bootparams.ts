import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { e820Map, HIGH_RAM_START, type Placer } from './memory.js';
import type { LoadOptions } from './options.js';

/** loadKernel's options: the multiboot ones plus what the Linux and PVH protocols carry. */
export interface KernelOptions extends Omit<LoadOptions, 'protocol'> {
  /** Force a protocol; otherwise multiboot v1, multiboot2, bzImage, PVH ELF, plain ELF64 in that order. */
  protocol?: LoadOptions['protocol'] | 'linux' | 'pvh';
  /** An initial RAM disk (Linux, PVH module 0); multiboot kernels get it as a last module named "initrd". */
  initrd?: Uint8Array;
  /** Physical address of the ACPI RSDP, for protocols that can pass it (Linux 2.14+, PVH). */
  rsdp?: number;
  /** Ranges the firmware side occupies (ACPI tables): reported reserved and never written by the loader. */
  reserved?: ReservedRange[];
}

/**
 * Pieces shared by the Linux (bzImage) and PVH loaders: the memory map with the firmware's
 * reserved ranges cut out, high initrd placement, and the long-mode scaffolding for the
 * 64-bit boot protocol.
 */

/** e820 / hvm_memmap types (the Xen memmap uses the same numbers). */
export const E820_RAM = 1;
export const E820_RESERVED = 2;
export const E820_ACPI = 3;

export interface MapEntry { base: number; length: number; type: number }

/** A range the machine's firmware side (ACPI tables, …) claims inside or beside RAM. */
export interface ReservedRange { base: number; length: number; type?: number }

const hex = (v: number) => `0x${v.toString(16)}`;

/**
 * The PC map the multiboot loaders report, with `reserved` ranges punched out of RAM and
 * listed with their own type, sorted by address. Holes must be cut rather than overlaid:
 * Linux trusts the first entry that covers an address when it sanitises overlaps, and would
 * otherwise hand ACPI tables to the page allocator.
 */
export function memoryMap(ramBytes: number, reserved: readonly ReservedRange[] = []): MapEntry[] {
  let map: MapEntry[] = e820Map(ramBytes).map((r) => ({ ...r }));
  for (const r of reserved) {
    if (!(r.length > 0)) continue;
    const end = r.base + r.length;
    const next: MapEntry[] = [];
    for (const e of map) {
      const eEnd = e.base + e.length;
      if (end <= e.base || eEnd <= r.base) { next.push(e); continue; }
      if (e.base < r.base) next.push({ base: e.base, length: r.base - e.base, type: e.type });
      if (end < eEnd) next.push({ base: end, length: eEnd - end, type: e.type });
    }
    next.push({ base: r.base, length: r.length, type: r.type ?? E820_RESERVED });
    map = next;
  }
  return map.sort((a, b) => a.base - b.base);
}

/**
 * Keeps the loader's own allocations off the reserved ranges that lie in usable RAM (the
 * Placer only knows the plain PC map).
 */
export function reserveFirmwareRanges(placer: Placer, ramBytes: number, reserved: readonly ReservedRange[]): void {
  for (const r of reserved) {
    for (const e of memoryMap(ramBytes).filter((m) => m.type === E820_RAM)) {
      const s = Math.max(r.base, e.base), t = Math.min(r.base + r.length, e.base + e.length);
      if (s < t) placer.reserve(s, t - s, `reserved range ${hex(r.base)}`);
    }
  }
}

/**
 * Where an initrd goes: page-aligned as high as possible below `limit` (exclusive), the way
 * GRUB and QEMU do it, so the kernel's own decompression and early allocations, which grow
 * upwards from the kernel image, do not run into it. It stays above `kernelEnd` and off the
 * `avoid` ranges (firmware tables), moving below any it would overlap.
 */
export function placeInitrdHigh(
  mem: PhysMem, placer: Placer, data: Uint8Array, limit: number, kernelEnd: number, avoid: readonly ReservedRange[] = [],
): number {
  let top = Math.min(limit, mem.ramBytes);
  const floor = Math.max(kernelEnd, HIGH_RAM_START);
  const len = Math.max(data.length, 1);
  for (;;) {
    const at = Math.floor((top - len) / 0x1000) * 0x1000;
    if (at < floor) {
      throw new UsageError(`no room for the initrd (${data.length} bytes) between the kernel's end ${hex(floor)} and ${hex(top)}: give the guest more memory`);
    }
    const hit = avoid.find((r) => r.length > 0 && at < r.base + r.length && r.base < at + len);
    if (hit) { top = hit.base; continue; }
    placer.reserve(at, len, 'initrd');
    mem.writeBytes(at, data);
    return at;
  }
}

const P = 1, RW = 2, PS = 0x80;

/**
 * Identity map of the low 4 GiB with 2 MiB pages (PML4, one PDPT, four page directories):
 * the 64-bit boot protocol only promises identity mapping of the kernel, zero page and
 * command line, but covering all of 32-bit space also covers the initrd, the ACPI tables and
 * the local APIC, whatever the RAM size. Returns the PML4's address (CR3).
 */
export function identityPageTables(mem: PhysMem, placer: Placer): number {
  const base = placer.alloc(6 * 0x1000, 0x1000, 'page tables');
  mem.fill(base, 6 * 0x1000, 0);
  const pml4 = base, pdpt = base + 0x1000, pd = base + 0x2000;
  mem.write64(pml4, pdpt | P | RW);
  for (let g = 0; g < 4; g++) {
    mem.write64(pdpt + g * 8, (pd + g * 0x1000) | P | RW);
    for (let i = 0; i < 512; i++) mem.write64(pd + g * 0x1000 + i * 8, g * 0x4000_0000 + i * 0x20_0000 + (P | RW | PS));
  }
  return pml4;
}

/** Selectors the 64-bit Linux boot protocol fixes (arch/x86/include/asm/segment.h). */
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;

/**
 * A GDT laid out as Linux's boot code expects: two unused slots, then __BOOT_CS (64-bit
 * code, flat) and __BOOT_DS (flat data). Accessed bits preset so a selector load never writes
 * the descriptor back.
 */
export function writeLinuxGdt(mem: PhysMem, placer: Placer): { base: number; limit: number } {
  const base = placer.alloc(32, 16, 'GDT');
  const desc = [
    [0, 0],
    [0, 0],
    [0x0000ffff, 0x00af9b00], // L=1 code, execute/read, present, accessed, 4 GiB
    [0x0000ffff, 0x00cf9300], // read/write data, present, accessed, 4 GiB
  ];
  desc.forEach(([lo, hi], i) => { mem.write32(base + i * 8, lo); mem.write32(base + i * 8 + 4, hi); });
  return { base, limit: desc.length * 8 - 1 };
}
