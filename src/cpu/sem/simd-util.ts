// Shared pieces of the SSE/MMX/x87 semantics: the CR0/CR4 availability checks, v128 operand access
// for XMM/MMX registers and memory, and MXCSR exception signalling.
import { T } from '../../jit/wasm/encoder.js';
import type { Gen } from './gen.js';
import { CR0, CR4, MXCSR, FPU_ST, FPU_TOP, FPU_TW, FPU_SW } from '../state-layout.js';
import { FPU_MMX } from '../fpu-layout.js';
import { CR0_EM, CR0_TS, CR0_NE, CR0_MP, CR4_OSFXSR, CR4_OSXMMEXCPT } from '../../mmu/paging.js';
import { REG, RegClass } from '../regs.js';
import { OpKind } from '../iced.js';
import { fault, Vec } from '../exception.js';
import type { Cpu } from '../cpu.js';

/**
 * Which availability checks a block has already emitted. CR0 and CR4 cannot change inside a block
 * (writes to them end it), so one check per kind per block is enough.
 */
const checked = new WeakMap<Gen, number>();
const CHK_SSE = 1;

function once(g: Gen, bit: number): boolean {
  const d = checked.get(g) ?? 0;
  if (d & bit) return false;
  checked.set(g, d | bit);
  return true;
}

/** SDM vol. 3 §13.2: CR0.EM or CR4.OSFXSR=0 → #UD, then CR0.TS → #NM. */
export function sseCheck(g: Gen): void {
  if (!once(g, CHK_SSE)) return;
  const f = g.f;
  const cpu = g.cpu;
  f.i32(0).i32Load(CR0).i32(CR0_EM | CR0_TS).i32And();
  f.i32(0).i32Load(CR4).i32(CR4_OSFXSR).i32And().i32Eqz().i32Or();
  f.if_();
  g.callHelper(() => {
    const st = cpu.st;
    if ((st.cr0 & CR0_EM) || !(st.cr4 & CR4_OSFXSR)) throw fault(Vec.UD);
    throw fault(Vec.NM);
  });
  f.end();
}

/**
 * x87 availability (SDM vol. 1 §8.7, vol. 3 Table 2-2): CR0.EM or CR0.TS → #NM; for waiting
 * instructions, a pending unmasked exception (FSW.ES) → #MF when CR0.NE=1 (with NE=0 the PC would
 * assert FERR#/IRQ13; not modelled, the exception is then left pending).
 */
export function x87Check(g: Gen, waiting = true): void {
  const f = g.f;
  const cpu = g.cpu;
  f.i32(0).i32Load(CR0).i32(CR0_EM | CR0_TS).i32And();
  if (waiting) f.i32(0).i32Load(FPU_SW).i32(0x80).i32And().i32Or();
  f.if_();
  g.callHelper(() => {
    const st = cpu.st;
    if (st.cr0 & (CR0_EM | CR0_TS)) throw fault(Vec.NM);
    if (waiting && (st.get32(FPU_SW) & 0x80) && (st.cr0 & CR0_NE)) throw fault(Vec.MF);
  });
  f.end();
}

/** FWAIT: #NM only when both MP and TS are set; then pending #MF. */
export function fwaitCheck(g: Gen): void {
  const f = g.f;
  const cpu = g.cpu;
  f.i32(0).i32Load(CR0).i32(CR0_MP | CR0_TS).i32And().i32(CR0_MP | CR0_TS).i32Eq();
  f.i32(0).i32Load(FPU_SW).i32(0x80).i32And().i32Or();
  f.if_();
  g.callHelper(() => {
    const st = cpu.st;
    if ((st.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw fault(Vec.NM);
    if ((st.get32(FPU_SW) & 0x80) && (st.cr0 & CR0_NE)) throw fault(Vec.MF);
  });
  f.end();
}

/**
 * MMX instructions: CR0.EM → #UD, CR0.TS → #NM, pending x87 exception → #MF; then the x87 state
 * switches to MMX use (TOP=0, all tags valid).
 */
export function mmxCheck(g: Gen): void {
  const f = g.f;
  const cpu = g.cpu;
  f.i32(0).i32Load(CR0).i32(CR0_EM | CR0_TS).i32And();
  f.i32(0).i32Load(FPU_SW).i32(0x80).i32And().i32Or();
  f.if_();
  g.callHelper(() => {
    const st = cpu.st;
    if (st.cr0 & CR0_EM) throw fault(Vec.UD);
    if (st.cr0 & CR0_TS) throw fault(Vec.NM);
    if ((st.get32(FPU_SW) & 0x80) && (st.cr0 & CR0_NE)) throw fault(Vec.MF);
  });
  f.end();
  f.i32(0).i32(0).i32Store(FPU_TOP);
  f.i32(0).i32(0xff).i32Store(FPU_TW);
  f.i32(0).i32(1).i32Store(FPU_MMX);
}

export const regClass = (g: Gen, i: number): RegClass =>
  g.insn.opKind[i] === OpKind.Register ? REG[g.insn.opReg[i]].cls : RegClass.None;

/** True when any operand is an MMX register (the MMX form of a mnemonic shared with SSE). */
export function isMmx(g: Gen): boolean {
  for (let i = 0; i < g.insn.opCount; i++) if (regClass(g, i) === RegClass.Mm) return true;
  return false;
}

export const v128 = (g: Gen): number => g.f.local(T.v128);

/** Raise #GP(0) unless the i64 address in `addr` is aligned to `n` bytes. */
export function alignCheck(g: Gen, addr: number, n: number): void {
  const f = g.f;
  f.get(addr).i32WrapI64().i32(n - 1).i32And().if_();
  g.raise(Vec.GP, 0);
  f.end();
}

/** Linear address of the memory operand plus `k` in a new local. */
function addrPlus(g: Gen, addr: number, k: number): number {
  const t = g.tmp64();
  g.f.get(addr).i64(k, 0).i64Add().set(t);
  return t;
}

/**
 * Push operand i as a v128. Memory operands read `bytes` (16, 8, 4, 2) into the low lanes,
 * zeroing the rest; `align` enforces the SSE alignment rule for 16-byte accesses.
 */
export function readV(g: Gen, i: number, bytes = 16, align = false): void {
  const f = g.f;
  const d = g.insn;
  const k = d.opKind[i];
  if (k === OpKind.Register) {
    const info = REG[d.opReg[i]];
    if (info.cls === RegClass.Xmm) { f.i32(0).v128Load(g.xmmOff(d.opReg[i])); return; }
    if (info.cls === RegClass.Mm) { f.i32(0).v128Load64Zero(FPU_ST + info.idx * 8); return; }
    if (info.cls === RegClass.Gpr) {
      g.getReg(d.opReg[i]);
      const t = g.tmp64();
      f.set(t).v128Zero().get(t).i64x2ReplaceLane(0);
      return;
    }
    throw new Error(`readV: register class ${info.cls}`);
  }
  if (k !== OpKind.Memory) throw new Error(`readV: operand kind ${k}`);
  const addr = g.memLinear(false, bytes);
  if (bytes === 16) {
    if (align) alignCheck(g, addr, 16);
    const lo = g.tmp64(), hi = g.tmp64();
    g.load(addr, 8); f.set(lo);
    g.load(addrPlus(g, addr, 8), 8); f.set(hi);
    f.get(lo).i64x2Splat().get(hi).i64x2ReplaceLane(1);
    return;
  }
  const t = g.tmp64();
  g.load(addr, bytes); f.set(t);
  if (bytes === 8) f.v128Zero().get(t).i64x2ReplaceLane(0);
  else f.v128Zero().get(t).i32WrapI64().i32x4ReplaceLane(0);
}

/** readV into a new local. */
export function readVL(g: Gen, i: number, bytes = 16, align = false): number {
  const l = v128(g);
  readV(g, i, bytes, align);
  g.f.set(l);
  return l;
}

/**
 * Write the v128 in `val` to operand i: XMM registers take all 16 bytes, MMX registers the low 8;
 * memory takes the low `bytes`.
 */
export function writeV(g: Gen, i: number, val: number, bytes = 16, align = false): void {
  const f = g.f;
  const d = g.insn;
  const k = d.opKind[i];
  if (k === OpKind.Register) {
    const info = REG[d.opReg[i]];
    if (info.cls === RegClass.Xmm) { f.i32(0).get(val).v128Store(g.xmmOff(d.opReg[i])); return; }
    if (info.cls === RegClass.Mm) { f.i32(0).get(val).i64x2ExtractLane(0).i64Store(FPU_ST + info.idx * 8); return; }
    throw new Error(`writeV: register class ${info.cls}`);
  }
  const addr = g.memLinear(true, bytes);
  if (bytes === 16 && align) alignCheck(g, addr, 16);
  const t = g.tmp64();
  if (bytes === 16) {
    f.get(val).i64x2ExtractLane(0).set(t);
    g.store(addr, 8, t);
    f.get(val).i64x2ExtractLane(1).set(t);
    g.store(addrPlus(g, addr, 8), 8, t);
    return;
  }
  if (bytes === 8) f.get(val).i64x2ExtractLane(0).set(t);
  else f.get(val).i32x4ExtractLane(0).i64ExtendI32U().set(t);
  g.store(addr, bytes, t);
}

/** Width in bytes of a vector operand (16 for XMM/memory-as-XMM, 8 for MMX). */
export const vecBytes = (g: Gen): number => (isMmx(g) ? 8 : 16);

// ---- MXCSR ---------------------------------------------------------------------------------------

export const MX_IE = 1, MX_DE = 2, MX_ZE = 4, MX_OE = 8, MX_UE = 16, MX_PE = 32;

/**
 * Record SIMD floating-point exception flags; an unmasked one raises #XM (or #UD when
 * CR4.OSXMMEXCPT=0) before the destination is written (SDM vol. 1 §11.5.3).
 */
export function mxcsrSignal(cpu: Cpu, flags: number): void {
  if (!flags) return;
  const st = cpu.st;
  const m = st.get32(MXCSR);
  st.set32(MXCSR, m | flags);
  if (flags & ~(m >>> 7) & 0x3f) throw fault(st.cr4 & CR4_OSXMMEXCPT ? Vec.XM : Vec.UD);
}

/** Push MXCSR.RC (0 nearest, 1 down, 2 up, 3 truncate) as i32. */
export function mxcsrRc(g: Gen): void {
  g.f.i32(0).i32Load(MXCSR).i32(13).i32ShrU().i32(3).i32And();
}

export { ext, type ExtViews } from '../fpu-layout.js';
