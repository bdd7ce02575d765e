/**
 * Contract between the differential-testing oracle (test/oracle) and vmrun's
 * snippet runner, `src/cpu/snippet.ts`, which must export
 *
 *     export function runSnippets(batch: readonly SnippetInput[]): SnippetOutput[] | Promise<SnippetOutput[]>;
 *
 * (the types may be re-declared there structurally; importing from test/ is not
 * required). The native addon implements the very same contract on the host CPU,
 * and the differential test compares the two outputs.
 *
 * Execution environment of one snippet
 * ------------------------------------
 * - 64-bit mode, CPL 3 semantics, flat segments (FS/GS never used), paging is an
 *   implementation detail. Only user-mode general-purpose integer instructions
 *   occur: no branches, no stack instructions, no string/system/x87/SSE
 *   instructions, no LOCK prefix. `int3` (CC) and `ud2` may occur in hand-written
 *   tests.
 * - Execution starts at `code[0]` and ends normally when RIP reaches
 *   `code.length` (falling off the end). The code bytes are not readable or
 *   writable as data by the snippet.
 * - `regs` has 17 entries: the 16 GPRs in encoding order
 *   (RAX RCX RDX RBX RSP RBP RSI RDI R8 … R15) followed by RFLAGS.
 * - R15 (`regs[15]`) is reserved: on entry the runner sets it to the guest-virtual
 *   address of the scratch memory, ignoring the input value. The snippet uses R15
 *   only as a memory base (`[r15 + disp]`, 0 ≤ disp < mem.length) and never reads
 *   it as a value or writes it, so the runner may choose any address. Accesses
 *   outside the scratch area are not generated; if a hand-written test makes one,
 *   a #PF or #GP is acceptable.
 * - RSP (`regs[4]`) is never an operand and no instruction uses the stack; the
 *   runner may give the snippet any RSP (or none) and must return the input
 *   value unchanged.
 * - RFLAGS in: only the six status flags (CF PF AF ZF SF OF, mask 0x8D5) carry
 *   information; the runner sets bit 1 and IF as it likes, DF = TF = AC = 0.
 *   RFLAGS out: only the six status flags are compared.
 * - `mem` is the scratch memory (at least 4096 bytes, its length is a multiple
 *   of 8). The runner must not modify the input arrays; it returns copies.
 *
 * Output
 * ------
 * - `fault` = -1 when execution fell off the end, otherwise the x86 exception
 *   vector: 0 #DE, 1 #DB, 3 #BP, 6 #UD, 13 #GP, 14 #PF, 17 #AC.
 * - `faultOffset` = RIP − start of code as the CPU would report it in the
 *   exception frame (the faulting instruction for faults, the next instruction
 *   for traps such as `int3`), or -1 when there was no fault.
 * - `regs`, `mem` = architectural state when execution stopped; on a fault that
 *   is the state before the faulting instruction (exceptions are precise).
 *
 * Comparison (done by the test, for information): RSP and R15 are ignored;
 * registers, memory bytes and flags that the SDM leaves undefined (directly, or
 * because they were computed from undefined inputs) are masked out; `fault` and
 * `faultOffset` must match exactly.
 */

/** Number of entries in a register file: 16 GPRs + RFLAGS. */
export const REG_COUNT = 17;
/** Index of RFLAGS in a register file. */
export const RFLAGS = 16;
/** Index of the scratch-memory base register (R15). */
export const SCRATCH_BASE_REG = 15;
/** Index of RSP, which snippets never use. */
export const RSP = 4;
/** The status flags that carry information across the contract. */
export const STATUS_FLAGS_MASK = 0x8d5n;
/** Minimum scratch memory size. */
export const MIN_MEM_SIZE = 4096;

/** Exception vectors reported in `fault`. */
export const Vector = {
  None: -1,
  DE: 0,
  DB: 1,
  BP: 3,
  UD: 6,
  GP: 13,
  PF: 14,
  AC: 17,
} as const;

export interface SnippetInput {
  /** 64-bit machine code, executed from the first byte to the end. */
  readonly code: Uint8Array;
  /** 17 entries: RAX RCX RDX RBX RSP RBP RSI RDI R8..R15, RFLAGS. */
  readonly regs: BigUint64Array;
  /** Scratch memory, based at R15. */
  readonly mem: Uint8Array;
}

export interface SnippetOutput {
  /** 17 entries, same layout as the input. */
  regs: BigUint64Array;
  /** Scratch memory after execution (same length as the input). */
  mem: Uint8Array;
  /** -1, or the exception vector that stopped execution. */
  fault: number;
  /** RIP − code start pushed by the exception, or -1. */
  faultOffset: number;
}

/** Signature of `runSnippets` in src/cpu/snippet.ts (sync or async). */
export type RunSnippets = (batch: readonly SnippetInput[]) => SnippetOutput[] | Promise<SnippetOutput[]>;
