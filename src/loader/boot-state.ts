/**
 * The hand-off from a kernel loader to the CPU: everything the CPU must set before it executes
 * the first guest instruction of a directly loaded kernel (no firmware runs first).
 *
 * Common to both modes: EFLAGS = 0x2 (IF clear), interrupts and NMIs not yet expected, IDTR and
 * TR/LDTR null, every segment register loaded from `gdt` as a flat 4 GiB segment (CS from
 * `selectors.cs`, DS/ES/SS/FS/GS from `selectors.ds`, FS/GS bases 0), A20 enabled.
 * Registers not listed in `regs` are 0.
 */
export interface BootState {
  /** Which loader produced this, for logs and diagnostics. */
  format: 'multiboot1' | 'multiboot2' | 'elf64' | 'linux' | 'pvh';
  /**
   * protected32: CR0.PE=1, paging off, CS is a 32-bit code segment.
   * long64: CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CR3 = `cr3`, CS is a 64-bit code segment.
   */
  mode: 'protected32' | 'long64';
  /** EIP / RIP of the first instruction (a physical address: identity mapped in long64). */
  entry: number;
  regs: Partial<Record<'rax' | 'rbx' | 'rcx' | 'rdx' | 'rsi' | 'rdi' | 'rsp' | 'rbp', number>>;
  /** A GDT the loader wrote into guest RAM; GDTR is loaded with it. */
  gdt: { base: number; limit: number };
  /** Flat selectors in that GDT (RPL 0). `ds` is also used for ES, SS, FS and GS. */
  selectors: { cs: number; ds: number };
  /** Control registers to load, spelled out so the CPU need not derive them from `mode`. */
  cr0: number;
  cr4: number;
  efer: number;
  /** long64 only: physical address of the PML4 the loader built (see src/loader/README.md). */
  cr3?: number;
}

/** Values the multiboot specifications put in EAX at entry. */
export const MB1_BOOT_MAGIC = 0x2badb002;
export const MB2_BOOT_MAGIC = 0x36d76289;

/** GDT layout every loader writes (see gdt.ts): null, code32, data, code64. */
export const SEL_CODE32 = 0x08;
export const SEL_DATA = 0x10;
export const SEL_CODE64 = 0x18;

export const CR0_PE = 1 << 0;
export const CR0_ET = 1 << 4;
export const CR0_PG = 0x8000_0000;
export const CR4_PAE = 1 << 5;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
