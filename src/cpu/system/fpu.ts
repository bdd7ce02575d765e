// x87 support in TypeScript: 80-bit ⇄ f64 conversion, tag words, the FSTENV/FSAVE and FXSAVE/XSAVE
// memory images, and the flag helpers the generated code calls on rare paths.
//
// Precision model: the eight registers hold IEEE doubles (FPU_ST). Loading an 80-bit value rounds
// it to double (ties to even); storing one is exact. Precision control is ignored (always 53 bits).
import type { Cpu } from '../cpu.js';
import * as L from '../state-layout.js';
import { FPU_MMX, ext } from '../fpu-layout.js';
import { fault, Vec } from '../exception.js';
import { MODE_CS64 } from '../mode.js';

export const SW_IE = 1, SW_DE = 2, SW_ZE = 4, SW_OE = 8, SW_UE = 0x10, SW_PE = 0x20, SW_SF = 0x40, SW_ES = 0x80;
export const SW_C0 = 0x100, SW_C1 = 0x200, SW_C2 = 0x400, SW_C3 = 0x4000, SW_B = 0x8000;

const f64buf = new DataView(new ArrayBuffer(8));

export function f64Bits(x: number): bigint { f64buf.setFloat64(0, x, true); return f64buf.getBigUint64(0, true); }
export function bitsToF64(b: bigint): number { f64buf.setBigUint64(0, BigInt.asUintN(64, b), true); return f64buf.getFloat64(0, true); }

/** Double (given as its bits) to 80-bit extended: exact. */
export function f64ToF80(bits: bigint): { mant: bigint; se: number } {
  const sign = Number(bits >> 63n) << 15;
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & 0xfffffffffffffn;
  if (e === 0x7ff) return { se: sign | 0x7fff, mant: (1n << 63n) | (frac << 11n) };
  if (e === 0) {
    if (frac === 0n) return { se: sign, mant: 0n };
    const len = frac.toString(2).length;
    return { se: sign | (-1074 + len - 1 + 16383), mant: frac << BigInt(64 - len) };
  }
  return { se: sign | (e - 1023 + 16383), mant: (1n << 63n) | (frac << 11n) };
}

/** 80-bit extended to double bits: rounds to nearest even (overflow → ∞, tiny → 0/denormal). */
export function f80ToF64(mant: bigint, se: number): bigint {
  const sign = se & 0x8000 ? -1 : 1;
  const e = se & 0x7fff;
  if (e === 0x7fff) {
    const frac = mant & 0x7fffffffffffffffn;
    if (frac === 0n) return f64Bits(sign * Infinity);
    // NaN: keep the top payload bits; pseudo-NaNs with a cleared payload become quiet
    let f52 = (frac >> 11n) & 0xfffffffffffffn;
    if (f52 === 0n) f52 = 1n << 51n;
    return (se & 0x8000 ? 1n << 63n : 0n) | (0x7ffn << 52n) | f52;
  }
  if (mant === 0n) return se & 0x8000 ? 1n << 63n : 0n;
  const k = (e === 0 ? 1 : e) - 16383 - 63;
  // scale in two steps so intermediate values stay in range
  let v = Number(mant);
  const k1 = Math.max(-1000, Math.min(1000, k));
  v *= 2 ** k1;
  v *= 2 ** (k - k1);
  return f64Bits(sign * v);
}

// ---- state access ---------------------------------------------------------------------------------

export function fpuTop(cpu: Cpu): number { return cpu.st.get32(L.FPU_TOP) & 7; }
export function physOf(cpu: Cpu, i: number): number { return (fpuTop(cpu) + i) & 7; }
export function regBits(cpu: Cpu, phys: number): bigint { return cpu.st.get64(L.FPU_ST + phys * 8); }
export function setRegBits(cpu: Cpu, phys: number, b: bigint): void { cpu.st.set64(L.FPU_ST + phys * 8, b); }
export function stGet(cpu: Cpu, i: number): number { return cpu.st.dv.getFloat64(L.FPU_ST + physOf(cpu, i) * 8, true); }
export function stSet(cpu: Cpu, i: number, v: number): void {
  const p = physOf(cpu, i);
  cpu.st.dv.setFloat64(L.FPU_ST + p * 8, v, true);
  cpu.st.set32(L.FPU_TW, cpu.st.get32(L.FPU_TW) | (1 << p));
}
export function stEmpty(cpu: Cpu, i: number): boolean { return !(cpu.st.get32(L.FPU_TW) & (1 << physOf(cpu, i))); }
export function fpuPush(cpu: Cpu, v: number): void {
  const top = (fpuTop(cpu) - 1) & 7;
  if (cpu.st.get32(L.FPU_TW) & (1 << top)) { x87Signal(cpu, SW_IE | SW_SF | SW_C1); v = INDEFINITE; }
  cpu.st.set32(L.FPU_TOP, top);
  stSet(cpu, 0, v);
}
export function fpuPop(cpu: Cpu): void {
  const top = fpuTop(cpu);
  cpu.st.set32(L.FPU_TW, cpu.st.get32(L.FPU_TW) & ~(1 << top));
  cpu.st.set32(L.FPU_TOP, (top + 1) & 7);
}
export function statusWord(cpu: Cpu): number {
  return ((cpu.st.get32(L.FPU_SW) & ~0x3800) | (fpuTop(cpu) << 11)) & 0xffff;
}
/** The x87 default NaN ("real indefinite"). */
export const INDEFINITE = bitsToF64(0xfff8000000000000n);

/** Record x87 exception flags; unmasked ones set ES and B (the #MF comes at the next waiting instruction). */
export function x87Signal(cpu: Cpu, flags: number): void {
  const st = cpu.st;
  let sw = st.get32(L.FPU_SW) | flags;
  const cw = st.get32(L.FPU_CW);
  if (flags & 0x3f & ~cw) sw |= SW_ES | SW_B;
  st.set32(L.FPU_SW, sw);
}

/** Stack underflow on reading empty ST(i): IE|SF, C1=0; the register reads as the indefinite. */
export function stackUnderflow(cpu: Cpu, i: number): void {
  const st = cpu.st;
  st.set32(L.FPU_SW, st.get32(L.FPU_SW) & ~SW_C1);
  x87Signal(cpu, SW_IE | SW_SF);
  cpu.st.dv.setFloat64(L.FPU_ST + physOf(cpu, i) * 8, INDEFINITE, true);
}

/** Full tag (2 bits) of physical register p: 0 valid, 1 zero, 2 special, 3 empty. */
export function fullTag(cpu: Cpu, p: number): number {
  if (!(cpu.st.get32(L.FPU_TW) & (1 << p))) return 3;
  if (ext(cpu).u32[FPU_MMX >> 2]) return 0;
  const b = regBits(cpu, p);
  const e = Number((b >> 52n) & 0x7ffn);
  if (e === 0x7ff) return 2;
  if ((b & 0x7fffffffffffffffn) === 0n) return 1;
  return 0;
}
export function fullTagWord(cpu: Cpu): number {
  let t = 0;
  for (let p = 0; p < 8; p++) t |= fullTag(cpu, p) << (2 * p);
  return t;
}

/** 80-bit image of physical register p (MMX values as written by MMX instructions: bits 79:64 set). */
export function regImage(cpu: Cpu, p: number): { mant: bigint; se: number } {
  const b = regBits(cpu, p);
  if (ext(cpu).u32[FPU_MMX >> 2]) return { mant: b, se: 0xffff };
  return f64ToF80(b);
}
export function setRegImage(cpu: Cpu, p: number, mant: bigint, se: number, mmx: boolean): void {
  setRegBits(cpu, p, mmx ? mant : f80ToF64(mant, se));
}

function write80(cpu: Cpu, addr: bigint, img: { mant: bigint; se: number }): void {
  cpu.writeLin(addr, 8, img.mant);
  cpu.writeLin(addr + 8n, 2, BigInt(img.se));
}
function read80(cpu: Cpu, addr: bigint): { mant: bigint; se: number } {
  return { mant: cpu.readLin(addr, 8), se: Number(cpu.readLin(addr + 8n, 2)) };
}

export function fninit(cpu: Cpu): void {
  const st = cpu.st;
  st.set32(L.FPU_CW, 0x37f);
  st.set32(L.FPU_SW, 0);
  st.set32(L.FPU_TOP, 0);
  st.set32(L.FPU_TW, 0);
  st.set32(L.FPU_FOP, 0);
  st.set64(L.FPU_IP, 0n);
  st.set64(L.FPU_DP, 0n);
  ext(cpu).u32[FPU_MMX >> 2] = 0;
}

// ---- FLD/FSTP m80 ---------------------------------------------------------------------------------

export function fldM80(cpu: Cpu, addr: bigint): void {
  const img = read80(cpu, addr);
  fpuPush(cpu, bitsToF64(f80ToF64(img.mant, img.se)));
}
export function fstpM80(cpu: Cpu, addr: bigint): void {
  if (stEmpty(cpu, 0)) stackUnderflow(cpu, 0);
  write80(cpu, addr, f64ToF80(regBits(cpu, physOf(cpu, 0))));
  fpuPop(cpu);
}

// ---- FSTENV/FLDENV/FSAVE/FRSTOR (protected-mode formats; real-mode images use the same layout) ----

export function fstenv(cpu: Cpu, addr: bigint, op16: boolean): void {
  const st = cpu.st;
  const w = op16 ? 2 : 4;
  const vals = [st.get32(L.FPU_CW) | (op16 ? 0 : 0xffff0000), statusWord(cpu) | (op16 ? 0 : 0xffff0000), fullTagWord(cpu) | (op16 ? 0 : 0xffff0000),
    Number(st.get64(L.FPU_IP) & 0xffffffffn), (st.get32(L.FPU_FOP) & 0x7ff) << 16, Number(st.get64(L.FPU_DP) & 0xffffffffn), op16 ? 0 : 0xffff0000];
  vals.forEach((v, i) => cpu.writeLin(addr + BigInt(i * w), w, BigInt((op16 && i === 4 ? 0 : v) >>> 0) & (op16 ? 0xffffn : 0xffffffffn)));
  // masks all exceptions afterwards (as FNSTENV does)
  st.set32(L.FPU_CW, st.get32(L.FPU_CW) | 0x3f);
}

export function fldenv(cpu: Cpu, addr: bigint, op16: boolean): void {
  const st = cpu.st;
  const w = op16 ? 2 : 4;
  const rd = (i: number): number => Number(cpu.readLin(addr + BigInt(i * w), w));
  const cw = rd(0), sw = rd(1), tw = rd(2);
  st.set32(L.FPU_CW, cw & 0xffff);
  st.set32(L.FPU_SW, sw & 0xffff & ~0x3800);
  st.set32(L.FPU_TOP, (sw >> 11) & 7);
  let abr = 0;
  for (let p = 0; p < 8; p++) if (((tw >> (2 * p)) & 3) !== 3) abr |= 1 << p;
  st.set32(L.FPU_TW, abr);
  st.set64(L.FPU_IP, BigInt(rd(3)));
  st.set64(L.FPU_DP, BigInt(rd(5)));
  if (!op16) st.set32(L.FPU_FOP, (rd(4) >>> 16) & 0x7ff);
  updateEs(cpu);
}

/** ES/B follow the exception flags and the masks after a state load. */
export function updateEs(cpu: Cpu): void {
  const st = cpu.st;
  let sw = st.get32(L.FPU_SW);
  if (sw & 0x3f & ~st.get32(L.FPU_CW)) sw |= SW_ES | SW_B; else sw &= ~(SW_ES | SW_B);
  st.set32(L.FPU_SW, sw);
}

export function fsave(cpu: Cpu, addr: bigint, op16: boolean): void {
  const env = op16 ? 14 : 28;
  const cw = cpu.st.get32(L.FPU_CW);
  fstenv(cpu, addr, op16);
  for (let i = 0; i < 8; i++) write80(cpu, addr + BigInt(env + i * 10), regImage(cpu, physOf(cpu, i)));
  void cw;
  fninit(cpu);
}

export function frstor(cpu: Cpu, addr: bigint, op16: boolean): void {
  const env = op16 ? 14 : 28;
  const imgs = [...Array(8).keys()].map((i) => read80(cpu, addr + BigInt(env + i * 10)));
  fldenv(cpu, addr, op16);
  const mmx = imgs.every((x) => x.se === 0xffff);
  ext(cpu).u32[FPU_MMX >> 2] = 0;
  imgs.forEach((img, i) => setRegImage(cpu, physOf(cpu, i), img.mant, img.se, mmx));
  if (mmx) ext(cpu).u32[FPU_MMX >> 2] = 1;
}

// ---- FXSAVE/FXRSTOR and the XSAVE legacy region --------------------------------------------------

export const MXCSR_MASK = 0xffff;

/** Write the x87 part of the 512-byte legacy region (bytes 0-23 and 32-159). */
function saveX87(cpu: Cpu, a: bigint, rexW: boolean): void {
  const st = cpu.st;
  cpu.writeLin(a, 2, BigInt(st.get32(L.FPU_CW) & 0xffff));
  cpu.writeLin(a + 2n, 2, BigInt(statusWord(cpu)));
  cpu.writeLin(a + 4n, 1, BigInt(st.get32(L.FPU_TW) & 0xff));
  cpu.writeLin(a + 5n, 1, 0n);
  cpu.writeLin(a + 6n, 2, BigInt(st.get32(L.FPU_FOP) & 0x7ff));
  if (rexW) {
    cpu.writeLin(a + 8n, 8, st.get64(L.FPU_IP));
    cpu.writeLin(a + 16n, 8, st.get64(L.FPU_DP));
  } else {
    cpu.writeLin(a + 8n, 8, st.get64(L.FPU_IP) & 0xffffffffn);
    cpu.writeLin(a + 16n, 8, st.get64(L.FPU_DP) & 0xffffffffn);
  }
  for (let i = 0; i < 8; i++) {
    const o = a + 32n + BigInt(i * 16);
    write80(cpu, o, regImage(cpu, physOf(cpu, i)));
    cpu.writeLin(o + 10n, 6, 0n);
  }
}

function saveSse(cpu: Cpu, a: bigint, nXmm: number): void {
  const st = cpu.st;
  for (let i = 0; i < nXmm; i++) {
    cpu.writeLin(a + 160n + BigInt(i * 16), 8, st.get64(L.XMM + i * 16));
    cpu.writeLin(a + 168n + BigInt(i * 16), 8, st.get64(L.XMM + i * 16 + 8));
  }
}

function saveMxcsr(cpu: Cpu, a: bigint): void {
  cpu.writeLin(a + 24n, 4, BigInt(cpu.st.get32(L.MXCSR)));
  cpu.writeLin(a + 28n, 4, BigInt(MXCSR_MASK));
}

function restoreX87(cpu: Cpu, a: bigint, rexW: boolean): void {
  const st = cpu.st;
  const imgs = [...Array(8).keys()].map((i) => read80(cpu, a + 32n + BigInt(i * 16)));
  const sw = Number(cpu.readLin(a + 2n, 2));
  st.set32(L.FPU_CW, Number(cpu.readLin(a, 2)));
  st.set32(L.FPU_SW, sw & ~0x3800);
  st.set32(L.FPU_TOP, (sw >> 11) & 7);
  st.set32(L.FPU_TW, Number(cpu.readLin(a + 4n, 1)));
  st.set32(L.FPU_FOP, Number(cpu.readLin(a + 6n, 2)) & 0x7ff);
  st.set64(L.FPU_IP, rexW ? cpu.readLin(a + 8n, 8) : cpu.readLin(a + 8n, 4));
  st.set64(L.FPU_DP, rexW ? cpu.readLin(a + 16n, 8) : cpu.readLin(a + 16n, 4));
  const tw = st.get32(L.FPU_TW);
  const mmx = tw === 0xff && imgs.every((x) => x.se === 0xffff);
  ext(cpu).u32[FPU_MMX >> 2] = 0;
  imgs.forEach((img, i) => setRegImage(cpu, physOf(cpu, i), img.mant, img.se, mmx));
  if (mmx) ext(cpu).u32[FPU_MMX >> 2] = 1;
  updateEs(cpu);
}

function restoreSse(cpu: Cpu, a: bigint, nXmm: number): void {
  const st = cpu.st;
  for (let i = 0; i < nXmm; i++) {
    st.set64(L.XMM + i * 16, cpu.readLin(a + 160n + BigInt(i * 16), 8));
    st.set64(L.XMM + i * 16 + 8, cpu.readLin(a + 168n + BigInt(i * 16), 8));
  }
}

function readMxcsr(cpu: Cpu, a: bigint): number {
  const m = Number(cpu.readLin(a + 24n, 4));
  if (m & ~MXCSR_MASK) throw fault(Vec.GP, 0);
  return m;
}

/** XMM8-15 exist only in 64-bit mode. */
const nXmmFor = (cpu: Cpu): number => (cpu.st.mode & MODE_CS64 ? 16 : 8);

export function fxsave(cpu: Cpu, a: bigint, rexW: boolean): void {
  if (a & 15n) throw fault(Vec.GP, 0);
  saveX87(cpu, a, rexW);
  saveMxcsr(cpu, a);
  // CR4.OSFXSR=0: XMM registers are not saved
  if (cpu.st.cr4 & 0x200) saveSse(cpu, a, nXmmFor(cpu));
}

export function fxrstor(cpu: Cpu, a: bigint, rexW: boolean): void {
  if (a & 15n) throw fault(Vec.GP, 0);
  const m = readMxcsr(cpu, a);
  restoreX87(cpu, a, rexW);
  cpu.st.set32(L.MXCSR, m);
  if (cpu.st.cr4 & 0x200) restoreSse(cpu, a, nXmmFor(cpu));
}

/** Supported XCR0 bits: x87 and SSE state. */
export const XCR0_SUPPORTED = 3n;
export const XSAVE_SIZE = 576;

function rfbm(cpu: Cpu): bigint {
  const st = cpu.st;
  const mask = (BigInt(st.gpr32(2)) << 32n) | BigInt(st.gpr32(0));
  return st.get64(L.XCR0) & mask;
}

export function xsave(cpu: Cpu, a: bigint, rexW: boolean): void {
  if (a & 63n) throw fault(Vec.GP, 0);
  const rf = rfbm(cpu);
  // touch the header first so a fault leaves nothing half-written
  const bv = cpu.readLin(a + 512n, 8);
  if (rf & 1n) saveX87(cpu, a, rexW);
  if (rf & 2n) { saveMxcsr(cpu, a); saveSse(cpu, a, nXmmFor(cpu)); }
  cpu.writeLin(a + 512n, 8, (bv & ~rf) | (rf & 3n));
}

function initX87(cpu: Cpu): void {
  fninit(cpu);
  for (let p = 0; p < 8; p++) setRegBits(cpu, p, 0n);
}

export function xrstor(cpu: Cpu, a: bigint, rexW: boolean): void {
  if (a & 63n) throw fault(Vec.GP, 0);
  const rf = rfbm(cpu);
  const bv = cpu.readLin(a + 512n, 8);
  const comp = cpu.readLin(a + 520n, 8);
  if (comp !== 0n || (bv & ~cpu.st.get64(L.XCR0)) !== 0n) throw fault(Vec.GP, 0);
  for (let o = 528n; o < 576n; o += 8n) if (cpu.readLin(a + o, 8) !== 0n) throw fault(Vec.GP, 0);
  const m = rf & 2n ? readMxcsr(cpu, a) : -1;
  if (rf & 1n) { if (bv & 1n) restoreX87(cpu, a, rexW); else initX87(cpu); }
  if (rf & 2n) {
    cpu.st.set32(L.MXCSR, m);
    if (bv & 2n) restoreSse(cpu, a, nXmmFor(cpu));
    else for (let i = 0; i < nXmmFor(cpu); i++) { cpu.st.set64(L.XMM + i * 16, 0n); cpu.st.set64(L.XMM + i * 16 + 8, 0n); }
  }
}

export function xsetbv(cpu: Cpu): void {
  const st = cpu.st;
  if (!(st.cr4 & (1 << 18))) throw fault(Vec.UD);
  if (cpu.cpl !== 0 || st.gpr32(1) !== 0) throw fault(Vec.GP, 0);
  const v = (BigInt(st.gpr32(2)) << 32n) | BigInt(st.gpr32(0));
  if (!(v & 1n) || (v & ~XCR0_SUPPORTED)) throw fault(Vec.GP, 0);
  st.set64(L.XCR0, v);
}
