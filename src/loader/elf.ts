import { UsageError } from '../cli/errors.js';

/** The parts of an ELF executable a loader needs: class, machine, entry and PT_LOAD segments. */
export interface ElfImage {
  class: 32 | 64;
  type: number;
  machine: number;
  entry: number;
  segments: ElfSegment[];
}

export interface ElfSegment {
  vaddr: number;
  paddr: number;
  offset: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const ET_EXEC = 2;
const PT_LOAD = 1;

export function isElf(file: Uint8Array): boolean {
  return file.length >= 4 && file[0] === 0x7f && file[1] === 0x45 && file[2] === 0x4c && file[3] === 0x46;
}

/**
 * Parses the ELF header and program headers, checking every offset against the file so a
 * truncated or corrupt image fails here with a one-line UsageError rather than deeper down.
 */
export function parseElf(file: Uint8Array, what = 'kernel'): ElfImage {
  if (!isElf(file)) throw new UsageError(`${what}: not an ELF file`);
  if (file.length < 52) throw new UsageError(`${what}: truncated ELF header`);
  const cls = file[4];
  if (cls !== 1 && cls !== 2) throw new UsageError(`${what}: bad ELF class ${cls}`);
  if (file[5] !== 1) throw new UsageError(`${what}: not a little-endian ELF file`);
  const is64 = cls === 2;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number, field: string): number => {
    const hi = u32(o + 4);
    // Values past 2^53 cannot be exact doubles and no RAM address is that large anyway.
    if (hi >= 0x20_0000) throw new UsageError(`${what}: ELF ${field} 0x${hi.toString(16)}${u32(o).toString(16).padStart(8, '0')} is out of range`);
    return hi * 0x1_0000_0000 + u32(o);
  };
  if (is64 && file.length < 64) throw new UsageError(`${what}: truncated ELF header`);
  const type = u16(16);
  const machine = u16(18);
  const phoff = is64 ? u64(32, 'program header offset') : u32(28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const minEnt = is64 ? 56 : 32;
  if (phnum === 0) throw new UsageError(`${what}: ELF file has no program headers`);
  if (phentsize < minEnt) throw new UsageError(`${what}: bad ELF program header size ${phentsize}`);
  if (phoff + phnum * phentsize > file.length) throw new UsageError(`${what}: truncated ELF file (program headers past the end)`);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (u32(o) !== PT_LOAD) continue;
    let seg: ElfSegment;
    if (is64) {
      seg = {
        flags: u32(o + 4),
        offset: u64(o + 8, 'segment offset'),
        vaddr: vaddr64(dv, o + 16),
        paddr: u64(o + 24, 'segment physical address'),
        filesz: u64(o + 32, 'segment size'),
        memsz: u64(o + 40, 'segment size'),
      };
    } else {
      seg = { offset: u32(o + 4), vaddr: u32(o + 8), paddr: u32(o + 12), filesz: u32(o + 16), memsz: u32(o + 20), flags: u32(o + 24) };
    }
    if (seg.memsz === 0) continue;
    if (seg.filesz > seg.memsz) throw new UsageError(`${what}: ELF segment ${i} has file size larger than memory size`);
    if (seg.offset + seg.filesz > file.length) throw new UsageError(`${what}: truncated ELF file (segment ${i} data past the end)`);
    segments.push(seg);
  }
  if (segments.length === 0) throw new UsageError(`${what}: ELF file has no loadable segments`);
  return { class: is64 ? 64 : 32, type, machine, entry: is64 ? vaddr64(dv, 24) : u32(24), segments };
}

/**
 * A 64-bit virtual address as a number. Kernel-space addresses (top 2 GiB, the -mcmodel=kernel
 * range) become negative numbers (exact), so callers can translate them; anything else past 2^53
 * is rejected.
 */
function vaddr64(dv: DataView, o: number): number {
  const lo = dv.getUint32(o, true);
  const hi = dv.getUint32(o + 4, true);
  if (hi === 0xffffffff && lo >= 0x8000_0000) return lo - 0x1_0000_0000;
  if (hi >= 0x20_0000) return Number.NaN;
  return hi * 0x1_0000_0000 + lo;
}

/**
 * The physical address of the entry point: loaders copy segments to p_paddr and start the CPU
 * with paging off (or identity mapped), so an entry given as a virtual address inside a segment
 * whose p_vaddr differs is moved by the same offset, as GRUB does.
 */
export function physicalEntry(elf: ElfImage, what = 'kernel'): number {
  for (const s of elf.segments) {
    if (elf.entry >= s.vaddr && elf.entry < s.vaddr + s.memsz) return elf.entry - s.vaddr + s.paddr;
  }
  if (!Number.isFinite(elf.entry) || elf.entry < 0) throw new UsageError(`${what}: ELF entry point is outside every loadable segment`);
  return elf.entry;
}
