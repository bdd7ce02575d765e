import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { CR0_ET, CR0_PE, MB1_BOOT_MAGIC, SEL_CODE32, SEL_DATA, type BootState } from './boot-state.js';
import { isElf, parseElf, physicalEntry, EM_386, EM_X86_64 } from './elf.js';
import { Placer, e820Map, memLowerUpperKiB, placeModules, putString, put, zero, writeGdt } from './memory.js';
import type { LoadOptions } from './options.js';

export const MB1_HEADER_MAGIC = 0x1badb002;
const MB1_SEARCH = 8192;

const HF_PAGE_ALIGN = 1 << 0; // modules page aligned: we always do
const HF_MEMINFO = 1 << 1; // mem_* and mmap: we always provide
const HF_VIDEO = 1 << 2; // video mode request: there is no display, ignored
const HF_AOUT_KLUDGE = 1 << 16;
const HF_SUPPORTED_REQUIRED = HF_PAGE_ALIGN | HF_MEMINFO | HF_VIDEO;

export interface Mb1Header {
  offset: number;
  flags: number;
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

/** Finds a multiboot v1 header (4-aligned, valid checksum) in the first 8 KiB, or null. */
export function findMb1Header(file: Uint8Array): Mb1Header | null {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const end = Math.min(file.length, MB1_SEARCH) - 12;
  for (let o = 0; o <= end; o += 4) {
    if (dv.getUint32(o, true) !== MB1_HEADER_MAGIC) continue;
    const flags = dv.getUint32(o + 4, true);
    if (((MB1_HEADER_MAGIC + flags + dv.getUint32(o + 8, true)) >>> 0) !== 0) continue;
    const f = (i: number) => (o + 12 + i * 4 + 4 <= file.length ? dv.getUint32(o + 12 + i * 4, true) : -1);
    return { offset: o, flags, headerAddr: f(0), loadAddr: f(1), loadEndAddr: f(2), bssEndAddr: f(3), entryAddr: f(4) };
  }
  return null;
}

/** Boots a multiboot v1 image: 32-bit protected mode, EAX = 0x2BADB002, EBX = multiboot info. */
export function loadMultiboot1(mem: PhysMem, file: Uint8Array, hdr: Mb1Header, opts: LoadOptions): BootState {
  const unknown = hdr.flags & 0xffff & ~HF_SUPPORTED_REQUIRED;
  if (unknown) throw new UsageError(`multiboot kernel requires unsupported features (header flags 0x${unknown.toString(16)})`);
  const placer = new Placer(mem.ramBytes);
  let entry: number;
  if (hdr.flags & HF_AOUT_KLUDGE) {
    entry = loadAddressFields(mem, placer, file, hdr.offset, hdr, 'multiboot');
  } else {
    if (!isElf(file)) throw new UsageError('multiboot kernel is not ELF and does not set the address fields (header flag 16)');
    const elf = parseElf(file);
    if (elf.machine !== EM_386 && elf.machine !== EM_X86_64) throw new UsageError(`multiboot kernel: ELF machine ${elf.machine} is not x86`);
    loadElfSegments(mem, placer, file, elf.segments);
    entry = physicalEntry(elf);
  }
  if (entry < 0 || entry >= 0x1_0000_0000) throw new UsageError(`multiboot kernel entry point 0x${entry.toString(16)} is not a 32-bit address`);
  const gdt = writeGdt(mem, placer);
  const mbi = writeMb1Info(mem, placer, opts);
  return {
    format: 'multiboot1', mode: 'protected32', entry,
    regs: { rax: MB1_BOOT_MAGIC, rbx: mbi },
    gdt, selectors: { cs: SEL_CODE32, ds: SEL_DATA },
    cr0: CR0_PE | CR0_ET, cr4: 0, efer: 0,
  };
}

/** Copies PT_LOAD segments to their physical addresses and zeroes the rest of each (the BSS). */
export function loadElfSegments(mem: PhysMem, placer: Placer, file: Uint8Array, segments: readonly { paddr: number; offset: number; filesz: number; memsz: number }[]): void {
  segments.forEach((s, i) => placer.reserve(s.paddr, s.memsz, `ELF segment ${i}`));
  for (const [i, s] of segments.entries()) {
    put(mem, s.paddr, file.subarray(s.offset, s.offset + s.filesz), `ELF segment ${i}`);
    zero(mem, s.paddr + s.filesz, s.memsz - s.filesz, `ELF segment ${i} BSS`);
  }
}

/**
 * The "a.out kludge" shared by multiboot v1 (header flag 16) and v2 (address tag): the header
 * says where in memory its own first byte goes, which fixes where the file is loaded from.
 * Returns the entry address (v1 only; v2 passes entryAddr separately).
 */
export function loadAddressFields(
  mem: PhysMem, placer: Placer, file: Uint8Array, headerOffset: number,
  f: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }, what: string,
): number {
  if (f.entryAddr < 0) throw new UsageError(`${what} header is truncated`);
  const loadAddr = f.loadAddr === 0xffffffff ? f.headerAddr - headerOffset : f.loadAddr;
  if (loadAddr > f.headerAddr) throw new UsageError(`${what} header: load_addr is above header_addr`);
  const fileStart = headerOffset - (f.headerAddr - loadAddr);
  if (fileStart < 0) throw new UsageError(`${what} header: load_addr is before the start of the file`);
  const loadEnd = f.loadEndAddr === 0 ? loadAddr + (file.length - fileStart) : f.loadEndAddr;
  if (loadEnd < loadAddr) throw new UsageError(`${what} header: load_end_addr is below load_addr`);
  const loadLen = loadEnd - loadAddr;
  if (fileStart + loadLen > file.length) throw new UsageError(`${what} image is truncated (load_end_addr past the end of the file)`);
  const bssEnd = f.bssEndAddr === 0 ? loadEnd : f.bssEndAddr;
  if (bssEnd < loadEnd) throw new UsageError(`${what} header: bss_end_addr is below load_end_addr`);
  placer.reserve(loadAddr, bssEnd - loadAddr, `${what} image`);
  put(mem, loadAddr, file.subarray(fileStart, fileStart + loadLen), `${what} image`);
  zero(mem, loadEnd, bssEnd - loadEnd, `${what} BSS`);
  return f.entryAddr;
}

const MBI_SIZE = 116;
const MBI_MEM = 1 << 0;
const MBI_CMDLINE = 1 << 2;
const MBI_MODS = 1 << 3;
const MBI_MMAP = 1 << 6;
const MBI_LOADER_NAME = 1 << 9;

/** The multiboot v1 command line: the kernel's name first, as GRUB and QEMU pass it. */
export function mb1Cmdline(opts: LoadOptions): string {
  const name = opts.kernelName ?? 'kernel';
  return opts.cmdline ? `${name} ${opts.cmdline}` : name;
}

/**
 * Writes a multiboot v1 information structure (mem, cmdline, mods, mmap, boot loader name) and
 * loads the modules; returns its physical address. Also used for vmrun's ELF64 convention.
 */
export function writeMb1Info(mem: PhysMem, placer: Placer, opts: LoadOptions): number {
  const mods = placeModules(mem, placer, opts.modules ?? []);
  const mbi = placer.alloc(MBI_SIZE, 8, 'multiboot info');
  zero(mem, mbi, MBI_SIZE, 'multiboot info');
  const { lower, upper } = memLowerUpperKiB(mem.ramBytes);
  mem.write32(mbi + 0, MBI_MEM | MBI_CMDLINE | MBI_MODS | MBI_MMAP | MBI_LOADER_NAME);
  mem.write32(mbi + 4, lower);
  mem.write32(mbi + 8, upper);
  mem.write32(mbi + 16, putString(mem, placer, mb1Cmdline(opts), 'kernel command line'));

  const modList = placer.alloc(Math.max(16 * mods.length, 1), 8, 'module list');
  mods.forEach((m, i) => {
    const e = modList + i * 16;
    mem.write32(e, m.start);
    mem.write32(e + 4, m.end);
    mem.write32(e + 8, putString(mem, placer, m.name, 'module string'));
    mem.write32(e + 12, 0);
  });
  mem.write32(mbi + 20, mods.length);
  mem.write32(mbi + 24, modList);

  // Each entry is 24 bytes: a size field (20, not counting itself), base, length, type.
  const map = e820Map(mem.ramBytes);
  const mmap = placer.alloc(24 * map.length, 8, 'memory map');
  map.forEach((r, i) => {
    const e = mmap + i * 24;
    mem.write32(e, 20);
    mem.write64(e + 4, r.base);
    mem.write64(e + 12, r.length);
    mem.write32(e + 20, r.type);
  });
  mem.write32(mbi + 44, 24 * map.length);
  mem.write32(mbi + 48, mmap);
  mem.write32(mbi + 64, putString(mem, placer, 'vmrun', 'boot loader name'));
  return mbi;
}
