// State offsets owned by the SIMD/x87 semantics, in the free range after STATE_END (2048..4096) of
// the state block. Kept apart from state-layout.ts so that file stays the core's.

/** Scratch v128 slots: rare paths spill operands here for TypeScript helpers (NaN fix-ups, string compares). */
export const SCR_A = 2048;
export const SCR_B = 2064;
export const SCR_R = 2080;
export const SCR_C = 2096;
/** x87 last instruction/data pointer selectors (FSTENV/FXSAVE report them; 0 in 64-bit code). */
export const FPU_CS_SEL = 2112; // i32
export const FPU_DS_SEL = 2116; // i32
/**
 * i32, 1 while the x87 register file holds MMX values (an MMX instruction ran since the last EMMS,
 * FNINIT or state restore). MMX values sit raw in the FPU_ST slots; images written by
 * FXSAVE/FNSAVE then carry them as MMX-style 80-bit values (bits 79:64 all ones).
 */
export const FPU_MMX = 2120;
/** i32 scratch for generated x87 code (the physical register index being written). */
export const FPU_TMP = 2124;

export const FPU_LAYOUT_END = 2128;

/**
 * Views over the first 4 KiB of the state block: CpuState's views stop at STATE_END, and the
 * fields above live just past it.
 */
export interface ExtViews { u8: Uint8Array; u32: Uint32Array; dv: DataView }
const views = new WeakMap<ArrayBufferLike, ExtViews>();
export function ext(cpu: { memory: WebAssembly.Memory }): ExtViews {
  const b = cpu.memory.buffer;
  let v = views.get(b);
  if (!v) { v = { u8: new Uint8Array(b, 0, 4096), u32: new Uint32Array(b, 0, 1024), dv: new DataView(b, 0, 4096) }; views.set(b, v); }
  return v;
}
