// Fixed layout of the one WebAssembly.Memory that holds everything generated code touches:
// the CPU state block, the software TLB, and guest RAM. Generated Wasm uses these offsets
// as constants; TypeScript reads the same bytes through typed arrays.

export const CPU_STATE_BASE = 0x0000_0000; // see src/cpu/state-layout.ts, 64 KiB
export const CPU_STATE_SIZE = 0x1_0000;

/** Software TLB: 2 banks (supervisor, user) × TLB_ENTRIES entries × TLB_ENTRY_SIZE bytes. */
export const TLB_BASE = 0x0001_0000;
export const TLB_ENTRIES = 4096;
export const TLB_ENTRY_SIZE = 32; // tagRead i64 @0, tagWrite i64 @8, addend i64 @16 (host = vaddr + addend)
export const TLB_BANK_SIZE = TLB_ENTRIES * TLB_ENTRY_SIZE;
export const TLB_SIZE = 2 * TLB_BANK_SIZE;

/** Scratch area for the runtime (bounce buffers for MMIO/cross-page accesses, decode windows). */
export const SCRATCH_BASE = TLB_BASE + TLB_SIZE; // 0x0005_0000
export const SCRATCH_SIZE = 0x1_0000;

/**
 * Jump cache: (RIP lo, RIP hi, MODE, CS base lo, table slot) per entry, probed by block epilogues
 * to chain to the next block inside Wasm. Filled by the dispatcher, cleared on invalidation.
 */
export const JUMP_CACHE_BASE = 0x0010_0000;
export const JUMP_CACHE_ENTRIES = 65536;
export const JUMP_CACHE_ENTRY_SIZE = 32;
/** Byte offsets of a jump-cache entry's 32-bit fields (filled by src/jit/engine.ts, read by dispatch and regions). */
export const JC = { ipLo: 0, ipHi: 4, mode: 8, csBase: 12, slot: 16, region: 20, index: 24 } as const;

/** Hot-tier execution counters: one 32-bit word per function-table slot (src/jit/engine.ts). */
export const HOT_COUNTERS = 0x0040_0000;
export const HOT_COUNTER_SLOTS = 0x10_0000;

/** Host offset of guest physical address 0. Guest RAM occupies [RAM_BASE, RAM_BASE + ramBytes). */
export const RAM_BASE = 0x0100_0000;

export const WASM_PAGE = 0x1_0000;
/** Offset masks of the page sizes a translation can have: 4 KiB, 2 MiB, 4 MiB (32-bit PSE), 1 GiB. */
export const PAGE_MASKS = [0xfff, 0x1fffff, 0x3fffff, 0x3fffffff] as const;
export const GUEST_PAGE = 0x1000;

/** Largest guest RAM we map: below the 32-bit PCI/APIC hole, and within memory32. */
export const MAX_RAM_BYTES = 3 * 1024 * 1024 * 1024;
/** Start of the MMIO hole below 4 GiB (LAPIC 0xFEE00000, IOAPIC 0xFEC00000, HPET 0xFED00000, PCI BARs). */
export const MMIO_HOLE_START = 0xc000_0000;
