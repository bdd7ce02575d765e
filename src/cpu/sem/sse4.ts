// SSSE3, SSE4.1 and SSE4.2. Lane-wise operations are Wasm SIMD; the irregular ones (DPPS/DPPD,
// MPSADBW, PHMINPOSUW, PCMPxSTRx) spill their operands and run in TypeScript.
import { Mnemonic } from '../iced.js';
import { def } from './table.js';
import type { Gen } from './gen.js';
import type { FnBody } from '../../jit/wasm/encoder.js';
import type { Cpu } from '../cpu.js';
import { XMM } from '../state-layout.js';
import { SCR_A, SCR_B, SCR_R, ext } from '../fpu-layout.js';
import { REG } from '../regs.js';
import { sseCheck, readV, readVL, writeV, v128, mxcsrRc } from './simd-util.js';
import { vcheck, vecSrc, imm8, memBytes } from './sse-int.js';
import { CF, PF, ZF, OF, SF, AF } from '../flags.js';

const M = Mnemonic;

type Emit = (f: FnBody, g: Gen, a: number, b: number, mmx: boolean) => void;

/** dst = op(dst, src) where the emitter reads the v128 locals a (dst) and b (src). */
function bin(mn: number | number[], emit: Emit): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const b = vecSrc(g, 1, mmx);
    const a = readVL(g, 0);
    const r = v128(g);
    emit(g.f, g, a, b, mmx);
    g.f.set(r);
    writeV(g, 0, r);
  });
}
const s2 = (op: (f: FnBody) => void): Emit => (f, _g, a, b) => { f.get(a).get(b); op(f); };

// ---- SSSE3 ---------------------------------------------------------------------------------------

bin(M.Pshufb, (f, _g, a, b, mmx) => {
  // bit 7 set → 0; else index the low 4 (MMX: 3) bits
  f.get(a).get(b).v128Const(new Array(16).fill(mmx ? 0x87 : 0x8f)).v128And().i8x16Swizzle();
});
bin(M.Pabsb, (f, _g, _a, b) => f.get(b).i8x16Abs());
bin(M.Pabsw, (f, _g, _a, b) => f.get(b).i16x8Abs());
bin(M.Pabsd, (f, _g, _a, b) => f.get(b).i32x4Abs());

/** PSIGN: negate where src < 0, zero where src == 0. */
function psign(mn: number, w: 1 | 2 | 4): void {
  bin(mn, (f, g, a, b) => {
    const neg = (): FnBody => (w === 1 ? f.i8x16Neg() : w === 2 ? f.i16x8Neg() : f.i32x4Neg());
    const lt0 = (): FnBody => { f.v128Zero(); return w === 1 ? f.i8x16GtS() : w === 2 ? f.i16x8GtS() : f.i32x4GtS(); };
    const eq0 = (): FnBody => { f.v128Zero(); return w === 1 ? f.i8x16Eq() : w === 2 ? f.i16x8Eq() : f.i32x4Eq(); };
    // select(neg(a), a, b<0) then clear where b==0
    f.get(a); neg(); f.get(a); f.v128Zero().get(b); lt0Swap(f, w); f.v128Bitselect();
    f.get(b); eq0(); f.v128AndNot();
    void lt0; void g;
  });
}
/** 0 > b per lane (stack: zero, b). */
function lt0Swap(f: FnBody, w: number): void { if (w === 1) f.i8x16GtS(); else if (w === 2) f.i16x8GtS(); else f.i32x4GtS(); }
psign(M.Psignb, 1); psign(M.Psignw, 2); psign(M.Psignd, 4);

/** Horizontal add/sub of adjacent pairs: even/odd elements of a then b. */
function hop(mn: number, w: 2 | 4, op: 'add' | 'sub' | 'adds' | 'subs'): void {
  bin(mn, (f, g, a, b, mmx) => {
    const n = 16 / w;
    const evens: number[] = [], odds: number[] = [];
    const half = mmx ? n / 4 : n / 2; // results taken from each source
    for (let j = 0; j < half; j++) for (let k = 0; k < w; k++) { evens.push(2 * j * w + k); odds.push((2 * j + 1) * w + k); }
    for (let j = 0; j < half; j++) for (let k = 0; k < w; k++) { evens.push(16 + 2 * j * w + k); odds.push(16 + (2 * j + 1) * w + k); }
    while (evens.length < 16) { evens.push(0); odds.push(0); }
    f.get(a).get(b).i8x16Shuffle(evens);
    f.get(a).get(b).i8x16Shuffle(odds);
    if (w === 2) { if (op === 'add') f.i16x8Add(); else if (op === 'sub') f.i16x8Sub(); else if (op === 'adds') f.i16x8AddSatS(); else f.i16x8SubSatS(); }
    else if (op === 'add') f.i32x4Add(); else f.i32x4Sub();
    void g;
  });
}
hop(M.Phaddw, 2, 'add'); hop(M.Phaddd, 4, 'add'); hop(M.Phaddsw, 2, 'adds');
hop(M.Phsubw, 2, 'sub'); hop(M.Phsubd, 4, 'sub'); hop(M.Phsubsw, 2, 'subs');

/** PMADDUBSW: unsigned bytes of dst × signed bytes of src, adjacent pairs added with signed saturation. */
bin(M.Pmaddubsw, (f, g, a, b) => {
  const lo = v128(g), hi = v128(g);
  // 16-bit products of (u8 a) × (s8 b): widen both to i16
  f.get(a).i16x8ExtendLowI8x16U().get(b).i16x8ExtendLowI8x16S().i16x8Mul().set(lo);
  f.get(a).i16x8ExtendHighI8x16U().get(b).i16x8ExtendHighI8x16S().i16x8Mul().set(hi);
  // lo/hi hold products 0-7 and 8-15; add even+odd with saturation
  const ev = [0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29];
  const od = ev.map((x) => x + 2);
  f.get(lo).get(hi).i8x16Shuffle(ev).get(lo).get(hi).i8x16Shuffle(od).i16x8AddSatS();
});
/** PMULHRSW: (a*b + 0x4000) >> 15 per word — exactly Wasm's q15mulr except 0x8000², which saturates there. */
bin(M.Pmulhrsw, (f, g, a, b) => {
  const r = v128(g);
  f.get(a).get(b).i16x8Q15mulrSatS().set(r);
  // x86 wraps (-32768 × -32768) to 0x8000 where Wasm saturates to 0x7fff
  f.v128I32x4(0x80008000).get(r).get(a).v128I32x4(0x80008000).i16x8Eq().get(b).v128I32x4(0x80008000).i16x8Eq().v128And().v128Bitselect();
});

def(M.Palignr, (g) => {
  const mmx = vcheck(g);
  const n = imm8(g);
  const b = vecSrc(g, 1, mmx);
  const a = readVL(g, 0);
  const r = v128(g);
  const f = g.f;
  // concatenation a:b (b low), shifted right by n bytes; bytes past the pair are zero
  const w = mmx ? 8 : 16;
  const z = v128(g);
  f.v128Zero().set(z);
  const lanesLow: number[] = [], lanesHigh: number[] = [];
  for (let i = 0; i < 16; i++) {
    const s = i + n;
    const inRange = i < w;
    lanesLow.push(!inRange || s >= 2 * w ? -1 : s < w ? s : s - w + 16);
    lanesHigh.push(0);
  }
  // shuffle(b, a): index < 16 from b, 16.. from a; out-of-range → zero via a second pass
  const sel = lanesLow.map((x) => (x < 0 ? 0 : x));
  f.get(b).get(a).i8x16Shuffle(sel);
  const mask = lanesLow.map((x) => (x < 0 ? 0 : 0xff));
  f.v128Const(mask).v128And().set(r);
  void lanesHigh; void z;
  writeV(g, 0, r);
});

// ---- SSE4.1 integer --------------------------------------------------------------------------------

bin(M.Pminsb, s2((f) => f.i8x16MinS())); bin(M.Pmaxsb, s2((f) => f.i8x16MaxS()));
bin(M.Pminuw, s2((f) => f.i16x8MinU())); bin(M.Pmaxuw, s2((f) => f.i16x8MaxU()));
bin(M.Pminsd, s2((f) => f.i32x4MinS())); bin(M.Pmaxsd, s2((f) => f.i32x4MaxS()));
bin(M.Pminud, s2((f) => f.i32x4MinU())); bin(M.Pmaxud, s2((f) => f.i32x4MaxU()));
bin(M.Pmulld, s2((f) => f.i32x4Mul()));
bin(M.Pcmpeqq, s2((f) => f.i64x2Eq()));
bin(M.Pcmpgtq, s2((f) => f.i64x2GtS()));

/** PMOVSX/PMOVZX: the source is the low 8/4/2 bytes (m64/m32/m16 or register). */
function pmov(mn: number, memN: number, emit: (f: FnBody) => void): void {
  def(mn, (g) => {
    sseCheck(g);
    const b = g.isMem(1) ? readVL(g, 1, memN === 2 ? 4 : memN) : readVL(g, 1);
    if (g.isMem(1) && memN === 2) { g.f.get(b).v128I32x4(0xffff, 0, 0, 0).v128And().set(b); }
    const r = v128(g);
    g.f.get(b); emit(g.f); g.f.set(r);
    writeV(g, 0, r);
  });
}
pmov(M.Pmovsxbw, 8, (f) => f.i16x8ExtendLowI8x16S());
pmov(M.Pmovzxbw, 8, (f) => f.i16x8ExtendLowI8x16U());
pmov(M.Pmovsxwd, 8, (f) => f.i32x4ExtendLowI16x8S());
pmov(M.Pmovzxwd, 8, (f) => f.i32x4ExtendLowI16x8U());
pmov(M.Pmovsxdq, 8, (f) => f.i64x2ExtendLowI32x4S());
pmov(M.Pmovzxdq, 8, (f) => f.i64x2ExtendLowI32x4U());
pmov(M.Pmovsxbd, 4, (f) => f.i16x8ExtendLowI8x16S().i32x4ExtendLowI16x8S());
pmov(M.Pmovzxbd, 4, (f) => f.i16x8ExtendLowI8x16U().i32x4ExtendLowI16x8U());
pmov(M.Pmovsxwq, 4, (f) => f.i32x4ExtendLowI16x8S().i64x2ExtendLowI32x4S());
pmov(M.Pmovzxwq, 4, (f) => f.i32x4ExtendLowI16x8U().i64x2ExtendLowI32x4U());
pmov(M.Pmovsxbq, 2, (f) => f.i16x8ExtendLowI8x16S().i32x4ExtendLowI16x8S().i64x2ExtendLowI32x4S());
pmov(M.Pmovzxbq, 2, (f) => f.i16x8ExtendLowI8x16U().i32x4ExtendLowI16x8U().i64x2ExtendLowI32x4U());

/** PTEST: ZF = (src & dst) == 0, CF = (src & ~dst) == 0; others cleared. */
def(M.Ptest, (g) => {
  sseCheck(g);
  const f = g.f;
  const b = vecSrc(g, 1, false);
  const a = readVL(g, 0);
  g.materializeFlags();
  f.get(a).get(b).v128And().v128AnyTrue().i32Eqz().i32(ZF).i32Mul();
  f.get(b).get(a).v128AndNot().v128AnyTrue().i32Eqz().i32(CF).i32Mul().i32Or();
  g.writeFlagBits(ZF | PF | CF | OF | SF | AF);
});

/** Blends with an immediate mask: element i from src when imm bit i is set. */
function blendImm(mn: number, esz: number): void {
  def(mn, (g) => {
    sseCheck(g);
    const imm = imm8(g);
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const r = v128(g);
    const lanes: number[] = [];
    for (let i = 0; i < 16; i++) lanes.push((imm >> Math.floor(i / esz)) & 1 ? 16 + i : i);
    g.f.get(a).get(b).i8x16Shuffle(lanes).set(r);
    writeV(g, 0, r);
  });
}
blendImm(M.Blendps, 4); blendImm(M.Blendpd, 8); blendImm(M.Pblendw, 2);

/** Variable blends on the sign bit of each element of XMM0. */
function blendv(mn: number, esz: 1 | 4 | 8): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const r = v128(g);
    f.get(b).get(a);
    f.i32(0).v128Load(XMM);
    if (esz === 1) f.i32(7).i8x16ShrS(); else if (esz === 4) f.i32(31).i32x4ShrS(); else f.i32(63).i64x2ShrS();
    f.v128Bitselect().set(r);
    writeV(g, 0, r);
  });
}
blendv(M.Pblendvb, 1); blendv(M.Blendvps, 4); blendv(M.Blendvpd, 8);

// ---- SSE4.1 rounding ---------------------------------------------------------------------------------

/** ROUNDPS/PD/SS/SD: imm bit 2 selects MXCSR.RC, else imm[1:0]. Precision exceptions are not reported. */
function roundOp(mn: number, dbl: boolean, scalar: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const imm = imm8(g);
    const b = scalar ? (g.isMem(1) ? readVL(g, 1, dbl ? 8 : 4) : readVL(g, 1)) : vecSrc(g, 1, false);
    const r = v128(g);
    const rounded = v128(g);
    const one = (mode: number): void => {
      f.get(b);
      if (dbl) [() => f.f64x2Nearest(), () => f.f64x2Floor(), () => f.f64x2Ceil(), () => f.f64x2Trunc()][mode]();
      else [() => f.f32x4Nearest(), () => f.f32x4Floor(), () => f.f32x4Ceil(), () => f.f32x4Trunc()][mode]();
    };
    if (imm & 4) {
      const rc = g.tmp32();
      mxcsrRc(g); f.set(rc);
      one(0); one(1); f.get(rc).i32Eqz().select();
      one(2); one(3); f.get(rc).i32(2).i32Eq().select();
      f.get(rc).i32(2).i32LtU().select();
    } else one(imm & 3);
    f.set(rounded);
    // NaN inputs come out as the quieted input (x86), whatever the Wasm rounding op returned
    const quietBit = new Array(16).fill(0).map((_, i) => (dbl ? (i % 8 === 6 ? 0x08 : 0) : (i % 4 === 2 ? 0x40 : 0)));
    f.get(b).v128Const(quietBit).v128Or();
    f.get(rounded);
    f.get(b).get(b); if (dbl) f.f64x2Ne(); else f.f32x4Ne();
    f.v128Bitselect().set(r);
    if (scalar) {
      const a = readVL(g, 0);
      f.get(a).get(r);
      if (dbl) f.i8x16Shuffle([16, 17, 18, 19, 20, 21, 22, 23, 8, 9, 10, 11, 12, 13, 14, 15]);
      else f.i8x16Shuffle([16, 17, 18, 19, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
      f.set(r);
    }
    writeV(g, 0, r);
  });
}
roundOp(M.Roundps, false, false); roundOp(M.Roundpd, true, false);
roundOp(M.Roundss, false, true); roundOp(M.Roundsd, true, true);

// ---- SSE4.1 inserts and extracts -----------------------------------------------------------------------

function toDst(g: Gen, i: number, v: number, n: number): void {
  if (g.isMem(i)) { g.writeOp(i, v, n); return; }
  const info = REG[g.insn.opReg[i]];
  // register destinations take the zero-extended value (32 or 64 bits)
  g.setGprFrom(info.idx, v);
  if (info.width === 4 || n < 8) g.f.i32(0).get(v).zext32().i64Store(info.idx * 8);
}
function extract(mn: number, n: number): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const lanes = 16 / n;
    const k = imm8(g) & (lanes - 1);
    const v = g.tmp64();
    readV(g, 1);
    if (n === 1) f.i8x16ExtractLaneU(k).i64ExtendI32U();
    else if (n === 2) f.i16x8ExtractLaneU(k).i64ExtendI32U();
    else if (n === 4) f.i32x4ExtractLane(k).i64ExtendI32U();
    else f.i64x2ExtractLane(k);
    f.set(v);
    toDst(g, 0, v, g.isMem(0) ? n : Math.max(n, g.opBytes(0)));
  });
}
extract(M.Pextrb, 1); extract(M.Pextrd, 4); extract(M.Pextrq, 8); extract(M.Extractps, 4);

function insert(mn: number, n: number): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const lanes = 16 / n;
    const k = imm8(g) & (lanes - 1);
    const a = readVL(g, 0);
    const v = g.tmp64();
    g.readOp(1, n); f.set(v);
    const r = v128(g);
    f.get(a).get(v);
    if (n === 1) f.i32WrapI64().i8x16ReplaceLane(k);
    else if (n === 4) f.i32WrapI64().i32x4ReplaceLane(k);
    else f.i64x2ReplaceLane(k);
    f.set(r);
    writeV(g, 0, r);
  });
}
insert(M.Pinsrb, 1); insert(M.Pinsrd, 4); insert(M.Pinsrq, 8);

/** INSERTPS: element imm[7:6] of src (or the m32) into element imm[5:4], then zero imm[3:0]. */
def(M.Insertps, (g) => {
  sseCheck(g);
  const f = g.f;
  const imm = imm8(g);
  const a = readVL(g, 0);
  const r = v128(g);
  const e = g.tmp32();
  if (g.isMem(1)) { g.readOp(1, 4); f.i32WrapI64().set(e); }
  else { readV(g, 1); f.i32x4ExtractLane((imm >> 6) & 3).set(e); }
  f.get(a).get(e).i32x4ReplaceLane((imm >> 4) & 3);
  const m = [0, 1, 2, 3].map((i) => ((imm >> i) & 1 ? 0 : 0xffffffff));
  f.v128I32x4(m[0], m[1], m[2], m[3]).v128And().set(r);
  writeV(g, 0, r);
});

// ---- helper-based SSE4.1/4.2 ---------------------------------------------------------------------------

/** Spill dst/src to SCR_A/SCR_B, run fn (writes SCR_R), write SCR_R back unless `noWrite`. */
function viaHelper(mn: number, fn: (cpu: Cpu, imm: number) => void, noWrite = false, align = true): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const imm = imm8(g);
    const b = g.isMem(1) ? readVL(g, 1, memBytes(g), align && memBytes(g) === 16) : readVL(g, 1);
    const a = readVL(g, 0);
    f.i32(0).get(a).v128Store(SCR_A);
    f.i32(0).get(b).v128Store(SCR_B);
    const cpu = g.cpu;
    g.callHelper(() => fn(cpu, imm));
    if (noWrite) return;
    const r = v128(g);
    f.i32(0).v128Load(SCR_R).set(r);
    writeV(g, 0, r);
  });
}

viaHelper(M.Dpps, (cpu, imm) => {
  const dv = ext(cpu).dv;
  const fr = Math.fround;
  const p = [0, 1, 2, 3].map((i) => ((imm >> (4 + i)) & 1 ? fr(dv.getFloat32(SCR_A + 4 * i, true) * dv.getFloat32(SCR_B + 4 * i, true)) : 0));
  const s = fr(fr(p[0] + p[1]) + fr(p[2] + p[3]));
  for (let i = 0; i < 4; i++) dv.setFloat32(SCR_R + 4 * i, (imm >> i) & 1 ? s : 0, true);
});
viaHelper(M.Dppd, (cpu, imm) => {
  const dv = ext(cpu).dv;
  const p = [0, 1].map((i) => ((imm >> (4 + i)) & 1 ? dv.getFloat64(SCR_A + 8 * i, true) * dv.getFloat64(SCR_B + 8 * i, true) : 0));
  const s = p[0] + p[1];
  for (let i = 0; i < 2; i++) dv.setFloat64(SCR_R + 8 * i, (imm >> i) & 1 ? s : 0, true);
});
viaHelper(M.Mpsadbw, (cpu, imm) => {
  const u8 = ext(cpu).u8, dv = ext(cpu).dv;
  const ao = ((imm >> 2) & 1) * 4, bo = (imm & 3) * 4;
  for (let i = 0; i < 8; i++) {
    let s = 0;
    for (let k = 0; k < 4; k++) s += Math.abs(u8[SCR_A + ao + i + k] - u8[SCR_B + bo + k]);
    dv.setUint16(SCR_R + 2 * i, s, true);
  }
});
viaHelper(M.Phminposuw, (cpu) => {
  const dv = ext(cpu).dv;
  let m = 0x10000, idx = 0;
  for (let i = 0; i < 8; i++) { const v = dv.getUint16(SCR_B + 2 * i, true); if (v < m) { m = v; idx = i; } }
  for (let i = 0; i < 16; i++) dv.setUint8(SCR_R + i, 0);
  dv.setUint16(SCR_R, m, true);
  dv.setUint16(SCR_R + 2, idx, true);
});

// ---- SSE4.2 string compares ------------------------------------------------------------------------------

/**
 * PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM vol. 2 §4.1): operands in SCR_A (first) and SCR_B,
 * explicit lengths from EAX/EDX (E forms) or up to the first zero element (I forms).
 */
function pcmpstr(cpu: Cpu, imm: number, explicit: boolean, index: boolean, rexW: boolean): void {
  const x = ext(cpu);
  const st = cpu.st;
  const words = (imm & 1) !== 0;
  const signed = (imm & 2) !== 0;
  const n = words ? 8 : 16;
  const el = (base: number, i: number): number => {
    if (words) return signed ? x.dv.getInt16(base + 2 * i, true) : x.dv.getUint16(base + 2 * i, true);
    return signed ? x.dv.getInt8(base + i) : x.u8[base + i];
  };
  const len = (base: number, reg: number): number => {
    if (explicit) {
      // RAX/RDX with REX.W, else EAX/EDX; absolute value saturated to n
      const v = rexW ? BigInt.asIntN(64, st.gpr(reg)) : BigInt(st.gpr32(reg) | 0);
      const m = v < 0n ? -v : v;
      return m > BigInt(n) ? n : Number(m);
    }
    let l = 0;
    while (l < n && el(base, l) !== 0) l++;
    return l;
  };
  const la = len(SCR_A, 0), lb = len(SCR_B, 2);
  const agg = (imm >> 2) & 3;
  let res1 = 0;
  const valid = (i: number, l: number): boolean => i < l;
  if (agg === 0) { // equal any
    for (let j = 0; j < n; j++) {
      let hit = false;
      for (let i = 0; i < la; i++) if (valid(j, lb) && el(SCR_A, i) === el(SCR_B, j)) hit = true;
      if (hit) res1 |= 1 << j;
    }
  } else if (agg === 1) { // ranges
    for (let j = 0; j < n; j++) {
      let hit = false;
      for (let i = 0; i + 1 < la; i += 2) {
        const v = el(SCR_B, j);
        if (valid(j, lb) && v >= el(SCR_A, i) && v <= el(SCR_A, i + 1)) hit = true;
      }
      if (hit) res1 |= 1 << j;
    }
  } else if (agg === 2) { // equal each
    for (let j = 0; j < n; j++) {
      const va = j < la, vb = j < lb;
      const eq = va && vb ? el(SCR_A, j) === el(SCR_B, j) : !va && !vb;
      if (eq) res1 |= 1 << j;
    }
  } else { // equal ordered (substring)
    for (let j = 0; j < n; j++) {
      let ok = true;
      for (let i = 0; i < la && ok; i++) {
        const k = j + i;
        if (k >= n) break;
        if (k >= lb) { ok = false; break; }
        if (el(SCR_A, i) !== el(SCR_B, k)) ok = false;
      }
      if (ok) res1 |= 1 << j;
    }
  }
  const polarity = (imm >> 4) & 3;
  const all = (1 << n) - 1;
  let res2 = res1;
  if (polarity === 1) res2 = ~res1 & all;
  else if (polarity === 3) res2 = res1 ^ ((1 << lb) - 1);
  // flags: CF = res2 != 0, ZF = lb < n, SF = la < n, OF = res2[0], AF = PF = 0
  let fl = 0;
  if (res2) fl |= CF;
  if (lb < n) fl |= ZF;
  if (la < n) fl |= SF;
  if (res2 & 1) fl |= OF;
  const rf = cpu.getRflags();
  cpu.setRflags((rf & ~(CF | ZF | SF | OF | AF | PF)) | fl);
  if (index) {
    let idx: number;
    if (!res2) idx = n;
    else if (imm & 0x40) idx = 31 - Math.clz32(res2);
    else idx = 31 - Math.clz32(res2 & -res2);
    st.setGpr32(1, idx);
  } else {
    const out = XMM; // XMM0
    for (let i = 0; i < 16; i++) x.u8[out + i] = 0;
    if (imm & 0x40) {
      for (let j = 0; j < n; j++) {
        const v = (res2 >> j) & 1 ? 0xff : 0;
        for (let k = 0; k < (words ? 2 : 1); k++) x.u8[out + j * (words ? 2 : 1) + k] = v;
      }
    } else {
      x.dv.setUint16(out, res2 & 0xffff, true);
    }
  }
}
function strOp(mn: number, explicit: boolean, index: boolean): void {
  def(mn, (g) => {
    g.materializeFlags();
    const f = g.f;
    sseCheck(g);
    const imm = imm8(g);
    const b = g.isMem(1) ? readVL(g, 1, 16, false) : readVL(g, 1);
    const a = readVL(g, 0);
    f.i32(0).get(a).v128Store(SCR_A);
    f.i32(0).get(b).v128Store(SCR_B);
    const cpu = g.cpu;
    const rexW = g.insn.mnemonic === M.Pcmpestri64 || g.insn.mnemonic === M.Pcmpestrm64;
    g.callHelper(() => pcmpstr(cpu, imm, explicit, index, rexW));
  });
}
strOp(M.Pcmpestri, true, true); strOp(M.Pcmpestrm, true, false);
strOp(M.Pcmpestri64, true, true); strOp(M.Pcmpestrm64, true, false);
strOp(M.Pcmpistri, false, true); strOp(M.Pcmpistrm, false, false);

// ---- SSE4.2 CRC32 (Castagnoli, bit-reflected) -----------------------------------------------------------

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();
let crcTableAddr = -1;

def(M.Crc32, (g) => {
  const f = g.f;
  const n = g.opBytes(1);
  const crc = g.tmp32(), v = g.tmp64(), r = g.tmp64();
  g.getGprWidth(REG[g.insn.opReg[0]].idx, 4); f.i32WrapI64().set(crc);
  g.readOp(1, n); f.set(v);
  // bitwise CRC in Wasm: 8·n rounds of shift/xor (no table in guest-visible memory)
  for (let i = 0; i < n * 8; i++) {
    if (i % 8 === 0) f.get(crc).get(v).i64(i, 0).i64ShrU().i32WrapI64().i32(0xff).i32And().i32Xor().set(crc);
    f.get(crc).i32(1).i32ShrU().i32(0x82f63b78 | 0).i32(0).get(crc).i32(1).i32And().select().i32Xor().set(crc);
  }
  f.get(crc).i64ExtendI32U().set(r);
  g.setGprFrom(REG[g.insn.opReg[0]].idx, r);
  void CRC_TABLE; void crcTableAddr;
});
