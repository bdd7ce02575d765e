// Byte offsets of the architectural state inside the shared WebAssembly.Memory (CPU_STATE_BASE = 0).
// Generated Wasm addresses these as constants; src/cpu/state.ts wraps them for TypeScript.

/** General-purpose registers, in x86 encoding order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8…r15), i64 each. */
export const GPR = 0;
export const RIP = 128;
/** RFLAGS; its arithmetic bits (CF PF AF ZF SF OF) are valid only when FLAG_OP == 0. */
export const RFLAGS = 136;
/** Lazy flags: the kind of the last flag-writing operation and its operands. See src/cpu/flags.ts. */
export const FLAG_OP = 144; // i32
export const FLAG_RES = 152; // i64
export const FLAG_A = 160; // i64
export const FLAG_B = 168; // i64
export const FLAG_AUX = 176; // i64 (INC/DEC: carry before; MUL: high half nonzero)

/** Segment registers and system segments: 8 slots of SEG_SIZE bytes. */
export const SEG = 192;
export const SEG_SIZE = 32;
export const SEG_BASE = 0; // i64
export const SEG_LIMIT = 8; // i32 (byte granular, expanded)
export const SEG_SEL = 12; // i32
export const SEG_ATTR = 16; // i32: bits 0-7 access byte (type, S, DPL, P), bit 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7 }
export const segOff = (s: number, field: number): number => SEG + s * SEG_SIZE + field;

export const GDTR_BASE = 448; // i64
export const GDTR_LIMIT = 456; // i32
export const IDTR_BASE = 464;
export const IDTR_LIMIT = 472;

export const CR0 = 480;
export const CR2 = 488;
export const CR3 = 496;
export const CR4 = 504;
export const CR8 = 512;
export const EFER = 520;
export const XCR0 = 528;
export const DR = 536; // dr0..dr7, i64 each

/** Retired instructions (i64), incremented by each block by its length. */
export const ICOUNT = 600;
/** Set by helpers to ask the running block to stop at its next check (i32). */
export const EXIT_REQ = 608;
/** Mode bits of the running code (CPL, CS.L, CS.D, ...): see src/cpu/mode.ts (i32). */
export const MODE = 612;
/** Interrupt shadow after STI / MOV SS / POP SS (i32: 1 = inhibit interrupts for one instruction). */
export const INT_SHADOW = 616;
/** Physical address of the current TLB bank (supervisor or user), as a host offset (i32). */
export const TLB_BANK = 620;
/** Scratch for helpers returning 64-bit values to Wasm without BigInt (i64 × 4). */
export const RET64 = 624;
/** Arguments from generated code to TypeScript helpers (i64 × 2): e.g. a memory operand's linear address. */
export const HELPER_ARG0 = 632;
export const HELPER_ARG1 = 640;
/** Linear address of the last fault / access (for CR2) as i64. */
export const FAULT_ADDR = 656;
/** Host offset bounce: helpers write values here for cross-page or MMIO accesses. */
export const BOUNCE = 664; // 16 bytes

/** Time stamp counter offset (i64): TSC = guest ns (1 GHz) + TSC_OFFSET. */
export const TSC_OFFSET = 704;
export const TSC_AUX = 712;
export const STAR = 720;
export const LSTAR = 728;
export const CSTAR = 736;
export const FMASK = 744;
export const KERNEL_GS_BASE = 752;
export const SYSENTER_CS = 760;
export const SYSENTER_ESP = 768;
export const SYSENTER_EIP = 776;
export const PAT = 784;
export const MISC_ENABLE = 792;
export const APIC_BASE = 800;
export const MTRR_DEF_TYPE = 808;
export const MTRR_FIXED = 816; // 11 × i64 → 904
export const MTRR_VAR = 904; // 16 × i64 (8 base/mask pairs) → 1032

/**
 * Instruction count (i64) at which chained blocks must return to the dispatcher: the next timer,
 * the end of a slice, or 0 when a helper or device needs the dispatcher now (Cpu.kick).
 */
export const DEADLINE = 1040;
/** Instructions retired by hot-tier regions (a subset of ICOUNT, for --stats). */
export const HOT_ICOUNT = 1048;
/**
 * Guest nanoseconds ICOUNT does not count (time skipped while halted), rounded down (i64). With the
 * clock at 1 ns per instruction, TSC = ICOUNT + TSC_BASE + TSC_OFFSET: RDTSC reads it inline.
 */
export const TSC_BASE = 1056;

/** SSE: xmm0..xmm15 (16 bytes each), MXCSR. */
export const XMM = 1536;
export const MXCSR = 1792;
/** x87: 8 physical registers stored as f64 (approximation of 80-bit), plus control/status/tag words. */
export const FPU_ST = 1808; // 8 × f64 → 1872
export const FPU_CW = 1872; // i32
export const FPU_SW = 1876; // i32 (TOP in bits 11-13)
export const FPU_TW = 1880; // i32 (abridged: bit i = physical reg i valid)
export const FPU_TOP = 1884; // i32
export const FPU_FOP = 1888;
export const FPU_IP = 1896; // i64
export const FPU_DP = 1904; // i64

/** End of the state block (2048..4096 belongs to src/cpu/fpu-layout.ts). */
export const STATE_END = 4096;

/**
 * Or'ed into the size the runtime's TLB-miss calls pass to Cpu.tlbMissRead/Write: the access is
 * through SS in 64-bit mode (a non-canonical address raises #SS(0), not #GP(0)).
 */
export const STACK_ACCESS = 0x80;
