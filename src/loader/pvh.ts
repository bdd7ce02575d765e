import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { CR0_ET, CR0_PE, SEL_CODE32, SEL_DATA, type BootState } from './boot-state.js';
import { memoryMap, placeInitrdHigh, reserveFirmwareRanges, type KernelOptions } from './bootparams.js';
import { isElf, parseElf, EM_X86_64, ET_EXEC } from './elf.js';
import { Placer, writeGdt } from './memory.js';
import { loadElfSegments } from './multiboot1.js';

/**
 * PVH direct boot (xen/include/public/arch-x86/hvm/start_info.h and Xen's docs/misc/pvh.pandoc):
 * an ELF kernel announcing a 32-bit physical entry point in a "Xen" ELF note is started in flat
 * protected mode with paging off and EBX pointing at an hvm_start_info. Linux uses this entry
 * without Xen too (QEMU's -kernel vmlinux), reading the memory map from the start info.
 */

export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
export const XEN_HVM_START_MAGIC = 0x336ec578;
const START_INFO_SIZE = 56; // version 1: with memmap_paddr / memmap_entries
const MODLIST_ENTRY_SIZE = 32;
const MEMMAP_ENTRY_SIZE = 24;
const PT_NOTE = 4;
const SHT_NOTE = 7;

const hex = (v: number) => `0x${v.toString(16)}`;

/**
 * The PVH entry from an ELF's notes, or null when there is none. Notes are looked for in
 * PT_NOTE segments first (what a loader is meant to use) and then in SHT_NOTE sections,
 * since some link scripts leave notes out of the program headers.
 */
export function findPvhEntry(file: Uint8Array): number | null {
  if (!isElf(file) || file.length < 64 || file[4] !== 2 || file[5] !== 1) return null;
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  // Offsets and sizes beyond 4 GiB cannot be inside a file we hold in memory.
  const u64 = (o: number) => (u32(o + 4) === 0 ? u32(o) : Number.MAX_SAFE_INTEGER);
  const areas: { off: number; size: number }[] = [];
  const phoff = u64(32), phentsize = u16(54), phnum = u16(56);
  for (let i = 0; i < phnum && phentsize >= 56 && phoff + (i + 1) * phentsize <= file.length; i++) {
    const p = phoff + i * phentsize;
    if (u32(p) === PT_NOTE) areas.push({ off: u64(p + 8), size: u64(p + 32) });
  }
  const shoff = u64(40), shentsize = u16(58), shnum = u16(60);
  for (let i = 0; i < shnum && shentsize >= 64 && shoff + (i + 1) * shentsize <= file.length; i++) {
    const s = shoff + i * shentsize;
    if (u32(s + 4) === SHT_NOTE) areas.push({ off: u64(s + 24), size: u64(s + 32) });
  }
  for (const a of areas) {
    const end = Math.min(a.off + a.size, file.length);
    for (let o = a.off; o + 12 <= end;) {
      const namesz = u32(o), descsz = u32(o + 4), type = u32(o + 8);
      const name = o + 12, desc = name + ((namesz + 3) & ~3);
      const next = desc + ((descsz + 3) & ~3);
      if (next > end || next <= o) break;
      const isXen = namesz === 4 && file[name] === 0x58 && file[name + 1] === 0x65 && file[name + 2] === 0x6e && file[name + 3] === 0;
      if (isXen && type === XEN_ELFNOTE_PHYS32_ENTRY) {
        // Linux emits the entry as a pointer-sized value, Xen's spec a 32-bit one.
        if (descsz === 4) return u32(desc);
        if (descsz === 8) {
          if (u32(desc + 4) !== 0) throw new UsageError('kernel: PVH entry point (Xen note 18) is above 4 GiB');
          return u32(desc);
        }
        throw new UsageError(`kernel: PVH entry note (Xen note 18) has a ${descsz}-byte value`);
      }
      o = next;
    }
  }
  return null;
}

/**
 * Loads an x86-64 ELF kernel at its physical addresses and starts it at its PVH entry:
 * protected mode, paging off, CS 0x08 / data 0x10 flat, EBX = hvm_start_info (version 1).
 */
export function loadPvh(mem: PhysMem, file: Uint8Array, entry: number, opts: KernelOptions): BootState {
  const elf = parseElf(file);
  if (elf.class !== 64 || elf.machine !== EM_X86_64) throw new UsageError('kernel: PVH kernel is not an x86-64 ELF file');
  if (elf.type !== ET_EXEC) throw new UsageError(`kernel: ELF type ${elf.type} is not an executable (ET_EXEC)`);
  if (opts.modules?.length) throw new UsageError('kernel: a PVH kernel takes --initrd, not multiboot modules');
  const reserved = opts.reserved ?? [];
  const placer = new Placer(mem.ramBytes);
  reserveFirmwareRanges(placer, mem.ramBytes, reserved);
  loadElfSegments(mem, placer, file, elf.segments);
  const inImage = elf.segments.some((s) => entry >= s.paddr && entry < s.paddr + s.filesz);
  if (!inImage) throw new UsageError(`kernel: PVH entry point ${hex(entry)} is outside the loaded image`);

  const gdt = writeGdt(mem, placer);
  const info = placer.alloc(START_INFO_SIZE, 8, 'hvm_start_info');
  mem.fill(info, START_INFO_SIZE, 0);
  const cmdline = new TextEncoder().encode((opts.cmdline ?? '') + '\0');
  const cmdAddr = placer.alloc(cmdline.length, 8, 'kernel command line');
  mem.writeBytes(cmdAddr, cmdline);

  let nrModules = 0, modlist = 0;
  if (opts.initrd) {
    const imageEnd = elf.segments.reduce((m, s) => Math.max(m, s.paddr + s.memsz), 0);
    // Below 4 GiB is all the 32-bit entry code can reach; Linux wants the initrd mapped early, high is fine.
    const at = placeInitrdHigh(mem, placer, opts.initrd, 0x1_0000_0000, imageEnd, reserved);
    modlist = placer.alloc(MODLIST_ENTRY_SIZE, 8, 'PVH module list');
    const modCmd = new TextEncoder().encode('initrd\0');
    const modCmdAddr = placer.alloc(modCmd.length, 8, 'module command line');
    mem.writeBytes(modCmdAddr, modCmd);
    mem.write64(modlist, at);
    mem.write64(modlist + 8, opts.initrd.length);
    mem.write64(modlist + 16, modCmdAddr);
    mem.write64(modlist + 24, 0);
    nrModules = 1;
  }

  const map = memoryMap(mem.ramBytes, reserved);
  const memmap = placer.alloc(map.length * MEMMAP_ENTRY_SIZE, 8, 'PVH memory map');
  map.forEach((r, i) => {
    const e = memmap + i * MEMMAP_ENTRY_SIZE;
    mem.write64(e, r.base);
    mem.write64(e + 8, r.length);
    mem.write32(e + 16, r.type);
    mem.write32(e + 20, 0);
  });

  mem.write32(info + 0, XEN_HVM_START_MAGIC);
  mem.write32(info + 4, 1);
  mem.write32(info + 8, 0); // flags: not privileged, no console event channel
  mem.write32(info + 12, nrModules);
  mem.write64(info + 16, modlist);
  mem.write64(info + 24, cmdAddr);
  mem.write64(info + 32, opts.rsdp ?? 0);
  mem.write64(info + 40, memmap);
  mem.write32(info + 48, map.length);
  mem.write32(info + 52, 0);

  return {
    format: 'pvh', mode: 'protected32', entry,
    regs: { rbx: info },
    gdt, selectors: { cs: SEL_CODE32, ds: SEL_DATA },
    cr0: CR0_PE | CR0_ET, cr4: 0, efer: 0,
  };
}
