import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { CR0_ET, CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, MB1_BOOT_MAGIC, SEL_CODE64, SEL_DATA, type BootState } from './boot-state.js';
import { parseElf, physicalEntry, ET_EXEC, EM_X86_64 } from './elf.js';
import { Placer, writeGdt } from './memory.js';
import { loadElfSegments, writeMb1Info } from './multiboot1.js';
import type { LoadOptions } from './options.js';

/** Bytes of stack the loader gives a plain ELF64 kernel. */
export const ELF64_STACK_BYTES = 0x4000;

/**
 * vmrun's own convention for a plain x86-64 ELF executable (QEMU has none; see README.md):
 * segments at p_paddr, long mode with 0-4 GiB identity mapped and the top 2 GiB of the address
 * space mapped to physical 0-2 GiB (so -mcmodel=kernel code linked at 0xffffffff80000000+paddr
 * runs), RIP = physical entry, RSP = top of a 16 KiB stack, RDI = multiboot v1 info,
 * RSI = 0x2BADB002.
 */
export function loadElf64(mem: PhysMem, file: Uint8Array, opts: LoadOptions): BootState {
  const elf = parseElf(file);
  if (elf.class !== 64 || elf.machine !== EM_X86_64) throw new UsageError('kernel: not an x86-64 ELF executable (and no multiboot header)');
  if (elf.type !== ET_EXEC) throw new UsageError(`kernel: ELF type ${elf.type} is not an executable (ET_EXEC)`);
  const placer = new Placer(mem.ramBytes);
  loadElfSegments(mem, placer, file, elf.segments);
  const entry = physicalEntry(elf);
  if (entry >= 0x1_0000_0000) throw new UsageError(`kernel: entry point 0x${entry.toString(16)} is above 4 GiB`);
  const cr3 = buildPageTables(mem, placer);
  const gdt = writeGdt(mem, placer);
  const stack = placer.alloc(ELF64_STACK_BYTES, 0x1000, 'boot stack');
  const mbi = writeMb1Info(mem, placer, opts);
  return {
    format: 'elf64', mode: 'long64', entry,
    regs: { rdi: mbi, rsi: MB1_BOOT_MAGIC, rax: MB1_BOOT_MAGIC, rbx: mbi, rsp: stack + ELF64_STACK_BYTES },
    gdt, selectors: { cs: SEL_CODE64, ds: SEL_DATA },
    cr0: CR0_PE | CR0_ET | CR0_PG, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA, cr3,
  };
}

const P = 1, RW = 2, PS = 0x80;

/**
 * 4-level tables with 2 MiB pages (1 GiB pages need CPUID.PDPE1GB, which a CPU model may lack):
 * PML4[0] → PDPT_low (4 × 1 GiB identity), PML4[511] → PDPT_high whose entries 510/511 reuse
 * the first two page directories. Seven pages, allocated in free RAM after the image is placed,
 * so they can never overlap it. Returns the PML4's address.
 */
function buildPageTables(mem: PhysMem, placer: Placer): number {
  const base = placer.alloc(7 * 0x1000, 0x1000, 'page tables');
  mem.fill(base, 7 * 0x1000, 0);
  const pml4 = base, pdptLow = base + 0x1000, pdptHigh = base + 0x2000, pd = base + 0x3000;
  mem.write64(pml4, pdptLow | P | RW);
  mem.write64(pml4 + 511 * 8, pdptHigh | P | RW);
  for (let g = 0; g < 4; g++) {
    mem.write64(pdptLow + g * 8, (pd + g * 0x1000) | P | RW);
    for (let i = 0; i < 512; i++) mem.write64(pd + g * 0x1000 + i * 8, (g * 0x4000_0000 + i * 0x20_0000) + (P | RW | PS));
  }
  mem.write64(pdptHigh + 510 * 8, pd | P | RW);
  mem.write64(pdptHigh + 511 * 8, (pd + 0x1000) | P | RW);
  return pml4;
}
