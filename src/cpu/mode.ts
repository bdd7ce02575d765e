// The MODE word: everything about the current CPU mode that changes the code a block generates.
// It is part of the code-cache key; helpers that change any of it end the block and recompute it.

export const MODE_CPL_MASK = 3;
export const MODE_PE = 1 << 2;
export const MODE_VM86 = 1 << 3;
export const MODE_CS64 = 1 << 4; // CS.L in long mode: 64-bit code
export const MODE_CS32 = 1 << 5; // CS.D: default operand/address size 32
export const MODE_SS32 = 1 << 6; // SS.B: 32-bit stack pointer
export const MODE_LMA = 1 << 7;
/** Bit (MODE_NOLIMIT_SHIFT + seg) set: accesses through that segment need no limit/type check (64-bit mode, or flat 4 GiB). */
export const MODE_NOLIMIT_SHIFT = 8;
export const MODE_NOLIMIT_ALL = 0x3f << MODE_NOLIMIT_SHIFT;
/** Alignment checking active (CR0.AM && RFLAGS.AC && CPL 3). */
export const MODE_AC = 1 << 14;
/** RFLAGS.TF: single-step, one instruction per block and a #DB trap after it. */
export const MODE_TF = 1 << 15;

export function bitnessOf(mode: number): 16 | 32 | 64 {
  return mode & MODE_CS64 ? 64 : mode & MODE_CS32 ? 32 : 16;
}
