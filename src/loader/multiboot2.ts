import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { CR0_ET, CR0_PE, MB2_BOOT_MAGIC, SEL_CODE32, SEL_DATA, type BootState } from './boot-state.js';
import { isElf, parseElf, physicalEntry, EM_386, EM_X86_64 } from './elf.js';
import { Placer, e820Map, memLowerUpperKiB, placeModules, writeGdt, zero } from './memory.js';
import { loadAddressFields, loadElfSegments, mb1Cmdline } from './multiboot1.js';
import type { LoadOptions } from './options.js';

export const MB2_HEADER_MAGIC = 0xe85250d6;
const MB2_SEARCH = 32768;

// Header tag types.
const HT_END = 0, HT_INFO_REQUEST = 1, HT_ADDRESS = 2, HT_ENTRY = 3, HT_CONSOLE_FLAGS = 4, HT_FRAMEBUFFER = 5;
const HT_MODULE_ALIGN = 6, HT_EFI_BS = 7, HT_ENTRY_EFI32 = 8, HT_ENTRY_EFI64 = 9, HT_RELOCATABLE = 10;
const TAG_OPTIONAL = 1;

// Information (MBI) tag types.
const IT_END = 0, IT_CMDLINE = 1, IT_LOADER_NAME = 2, IT_MODULE = 3, IT_BASIC_MEMINFO = 4, IT_MMAP = 6, IT_LOAD_BASE = 21;
const PROVIDED = new Set([IT_CMDLINE, IT_LOADER_NAME, IT_MODULE, IT_BASIC_MEMINFO, IT_MMAP, IT_LOAD_BASE]);

export interface Mb2Header { offset: number; length: number; arch: number }

/** Finds a multiboot2 header (8-aligned, valid checksum) in the first 32 KiB, or null. */
export function findMb2Header(file: Uint8Array): Mb2Header | null {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const end = Math.min(file.length, MB2_SEARCH) - 16;
  for (let o = 0; o <= end; o += 8) {
    if (dv.getUint32(o, true) !== MB2_HEADER_MAGIC) continue;
    const arch = dv.getUint32(o + 4, true);
    const length = dv.getUint32(o + 8, true);
    if (((MB2_HEADER_MAGIC + arch + length + dv.getUint32(o + 12, true)) >>> 0) !== 0) continue;
    return { offset: o, length, arch };
  }
  return null;
}

interface Mb2Request {
  address?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number };
  entry?: number;
}

/** Walks the header tags: records what we use, rejects required tags we cannot honour. */
function parseTags(file: Uint8Array, hdr: Mb2Header): Mb2Request {
  if (hdr.arch !== 0) throw new UsageError(`multiboot2 kernel is for architecture ${hdr.arch}, not i386 (0)`);
  if (hdr.length < 24 || hdr.offset + hdr.length > file.length) throw new UsageError('multiboot2 header is truncated');
  const dv = new DataView(file.buffer, file.byteOffset + hdr.offset, hdr.length);
  const req: Mb2Request = {};
  for (let o = 16; ;) {
    if (o + 8 > hdr.length) throw new UsageError('multiboot2 header has no end tag');
    const type = dv.getUint16(o, true);
    const optional = (dv.getUint16(o + 2, true) & TAG_OPTIONAL) !== 0;
    const size = dv.getUint32(o + 4, true);
    if (size < 8 || o + size > hdr.length) throw new UsageError(`multiboot2 header tag ${type} has a bad size ${size}`);
    const u32 = (i: number) => {
      if (8 + 4 * i + 4 > size) throw new UsageError(`multiboot2 header tag ${type} is too short`);
      return dv.getUint32(o + 8 + 4 * i, true);
    };
    switch (type) {
      case HT_END: return req;
      case HT_INFO_REQUEST:
        for (let i = 0; 8 + 4 * i + 4 <= size; i++) {
          const want = u32(i);
          if (!optional && !PROVIDED.has(want)) throw new UsageError(`multiboot2 kernel requires boot information tag ${want}, which vmrun does not provide`);
        }
        break;
      case HT_ADDRESS:
        req.address = { headerAddr: u32(0), loadAddr: u32(1), loadEndAddr: u32(2), bssEndAddr: u32(3) };
        break;
      case HT_ENTRY: req.entry = u32(0); break;
      case HT_CONSOLE_FLAGS: // only says which consoles the kernel can drive
      case HT_FRAMEBUFFER: // no display: the kernel must cope without a framebuffer tag
      case HT_MODULE_ALIGN: // modules are always page-aligned
      case HT_RELOCATABLE: // loading at the linked address is always acceptable
      case HT_EFI_BS: case HT_ENTRY_EFI32: case HT_ENTRY_EFI64: // not an EFI boot
        break;
      default:
        if (!optional) throw new UsageError(`multiboot2 kernel requires header tag ${type}, which vmrun does not support`);
    }
    o += (size + 7) & ~7;
  }
}

/** Boots a multiboot2 image: 32-bit protected mode, EAX = 0x36D76289, EBX = boot information. */
export function loadMultiboot2(mem: PhysMem, file: Uint8Array, hdr: Mb2Header, opts: LoadOptions): BootState {
  const req = parseTags(file, hdr);
  const placer = new Placer(mem.ramBytes);
  let entry: number;
  let loadBase: number;
  if (req.address) {
    if (req.entry === undefined) throw new UsageError('multiboot2 header has an address tag but no entry address tag');
    loadAddressFields(mem, placer, file, hdr.offset, { ...req.address, entryAddr: req.entry }, 'multiboot2');
    loadBase = req.address.loadAddr === 0xffffffff ? req.address.headerAddr - hdr.offset : req.address.loadAddr;
    entry = req.entry;
  } else {
    if (!isElf(file)) throw new UsageError('multiboot2 kernel is not ELF and has no address tag');
    const elf = parseElf(file);
    if (elf.machine !== EM_386 && elf.machine !== EM_X86_64) throw new UsageError(`multiboot2 kernel: ELF machine ${elf.machine} is not x86`);
    loadElfSegments(mem, placer, file, elf.segments);
    loadBase = Math.min(...elf.segments.map((s) => s.paddr));
    entry = req.entry ?? physicalEntry(elf);
  }
  if (entry < 0 || entry >= 0x1_0000_0000) throw new UsageError(`multiboot2 kernel entry point 0x${entry.toString(16)} is not a 32-bit address`);
  const gdt = writeGdt(mem, placer);
  const mbi = writeMb2Info(mem, placer, opts, loadBase);
  return {
    format: 'multiboot2', mode: 'protected32', entry,
    regs: { rax: MB2_BOOT_MAGIC, rbx: mbi },
    gdt, selectors: { cs: SEL_CODE32, ds: SEL_DATA },
    cr0: CR0_PE | CR0_ET, cr4: 0, efer: 0,
  };
}

/** Builds the multiboot2 boot information (8-aligned tags after an 8-byte fixed part). */
function writeMb2Info(mem: PhysMem, placer: Placer, opts: LoadOptions, loadBase: number): number {
  const mods = placeModules(mem, placer, opts.modules ?? []);
  const enc = new TextEncoder();
  const tags: Uint8Array[] = [];
  const tag = (type: number, body: Uint8Array) => {
    const t = new Uint8Array((8 + body.length + 7) & ~7);
    const dv = new DataView(t.buffer);
    dv.setUint32(0, type, true);
    dv.setUint32(4, 8 + body.length, true);
    t.set(body, 8);
    tags.push(t);
  };
  const str = (s: string) => enc.encode(s + '\0');
  const words = (...v: number[]) => {
    const b = new Uint8Array(4 * v.length);
    const dv = new DataView(b.buffer);
    v.forEach((x, i) => dv.setUint32(4 * i, x, true));
    return b;
  };
  const cat = (...parts: Uint8Array[]) => {
    const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { b.set(p, o); o += p.length; }
    return b;
  };
  tag(IT_CMDLINE, str(mb1Cmdline(opts)));
  tag(IT_LOADER_NAME, str('vmrun'));
  for (const m of mods) tag(IT_MODULE, cat(words(m.start, m.end), str(m.name)));
  const { lower, upper } = memLowerUpperKiB(mem.ramBytes);
  tag(IT_BASIC_MEMINFO, words(lower, upper));
  const map = e820Map(mem.ramBytes);
  const entries = map.map((r) => words(r.base % 0x1_0000_0000, Math.floor(r.base / 0x1_0000_0000), r.length % 0x1_0000_0000, Math.floor(r.length / 0x1_0000_0000), r.type, 0));
  tag(IT_MMAP, cat(words(24, 0), ...entries));
  tag(IT_LOAD_BASE, words(loadBase));
  tag(IT_END, new Uint8Array(0));
  const body = cat(...tags);
  const total = 8 + body.length;
  const addr = placer.alloc(total, 8, 'multiboot2 information');
  zero(mem, addr, total, 'multiboot2 information');
  mem.write32(addr, total);
  mem.write32(addr + 4, 0);
  mem.writeBytes(addr + 8, body);
  return addr;
}
