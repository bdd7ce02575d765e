// SSE/SSE2/SSE3 floating point: arithmetic, min/max, compares, COMIS/UCOMIS, conversions, MXCSR.
//
// Results are computed with Wasm float ops (IEEE round-to-nearest). Whenever a result is NaN (or a
// divisor is zero) the rare path hands the operands to fixNaN, which applies the x86 NaN rules from
// the raw bits (first NaN operand quieted, else the default NaN 0xFFC00000…) and records IE/ZE in
// MXCSR. Approximations (docs/simd.md): MXCSR.RC only affects float→integer conversions, DAZ/FTZ
// are ignored, DE/OE/UE are never set, PE only by the scalar float→integer conversions.
import { Mnemonic, OpKind } from '../iced.js';
import { def, SEM } from './table.js';
import type { Gen } from './gen.js';
import { T, type FnBody } from '../../jit/wasm/encoder.js';
import type { Cpu } from '../cpu.js';
import { MXCSR } from '../state-layout.js';
import { SCR_A, SCR_B, SCR_R } from '../fpu-layout.js';
import { ext, sseCheck, readV, readVL, writeV, v128, mxcsrSignal, mxcsrRc, MX_IE, MX_ZE, MX_PE, isMmx, mmxCheck } from './simd-util.js';
import { vecSrc, imm8, memBytes } from './sse-int.js';
import { fault, Vec } from '../exception.js';
import { CF, PF, ZF, OF, SF, AF } from '../flags.js';

const M = Mnemonic;

type FOp = 'add' | 'sub' | 'mul' | 'div' | 'sqrt' | 'min' | 'max' | 'rcp' | 'rsqrt';

// ---- NaN and exception fix-up (TypeScript, rare path) --------------------------------------------

const isNaN32 = (x: number): boolean => (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0;
const isSNaN32 = (x: number): boolean => isNaN32(x) && !(x & 0x400000);
const isNaN64 = (hi: number, lo: number): boolean => (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) !== 0 || lo !== 0);
const isSNaN64 = (hi: number, lo: number): boolean => isNaN64(hi, lo) && !(hi & 0x80000);

/**
 * Fix the `lanes` results in SCR_R computed from SCR_A (first source) and SCR_B (second source):
 * x86 NaN propagation and IE/ZE flags. Unary ops (sqrt, rcp, rsqrt) read only SCR_B.
 */
export function fixNaN(cpu: Cpu, op: FOp, dbl: boolean, lanes: number): void {
  const u = ext(cpu).u32;
  const A = SCR_A >> 2, B = SCR_B >> 2, R = SCR_R >> 2;
  const unary = op === 'sqrt' || op === 'rcp' || op === 'rsqrt';
  const quiet = op !== 'rcp' && op !== 'rsqrt'; // RCP/RSQRT never signal
  let flags = 0;
  for (let l = 0; l < lanes; l++) {
    if (!dbl) {
      const a = u[A + l], b = u[B + l];
      const an = !unary && isNaN32(a), bn = isNaN32(b);
      if (op === 'min' || op === 'max') {
        if (an || bn) flags |= MX_IE;
        continue;
      }
      if (an || bn) {
        if ((!unary && isSNaN32(a)) || isSNaN32(b)) flags |= MX_IE;
        u[R + l] = ((an ? a : b) | 0x400000) >>> 0;
      } else if (isNaN32(u[R + l])) {
        flags |= MX_IE;
        u[R + l] = 0xffc00000;
      } else if (op === 'div' && (b & 0x7fffffff) === 0 && (a & 0x7fffffff) !== 0 && (a & 0x7f800000) !== 0x7f800000) {
        flags |= MX_ZE;
      }
    } else {
      const alo = u[A + 2 * l], ahi = u[A + 2 * l + 1], blo = u[B + 2 * l], bhi = u[B + 2 * l + 1];
      const an = !unary && isNaN64(ahi, alo), bn = isNaN64(bhi, blo);
      if (op === 'min' || op === 'max') {
        if (an || bn) flags |= MX_IE;
        continue;
      }
      if (an || bn) {
        if ((!unary && isSNaN64(ahi, alo)) || isSNaN64(bhi, blo)) flags |= MX_IE;
        u[R + 2 * l] = an ? alo : blo;
        u[R + 2 * l + 1] = ((an ? ahi : bhi) | 0x80000) >>> 0;
      } else if (isNaN64(u[R + 2 * l + 1], u[R + 2 * l])) {
        flags |= MX_IE;
        u[R + 2 * l] = 0;
        u[R + 2 * l + 1] = 0xfff80000;
      } else if (op === 'div' && (bhi & 0x7fffffff) === 0 && blo === 0 && ((ahi & 0x7fffffff) !== 0 || alo !== 0) && (ahi & 0x7ff00000) !== 0x7ff00000) {
        flags |= MX_ZE;
      }
    }
  }
  if (quiet) mxcsrSignal(cpu, flags);
}

// ---- packed arithmetic ---------------------------------------------------------------------------

function vop(f: FnBody, op: FOp, dbl: boolean): void {
  if (dbl) {
    switch (op) {
      case 'add': f.f64x2Add(); break;
      case 'sub': f.f64x2Sub(); break;
      case 'mul': f.f64x2Mul(); break;
      case 'div': f.f64x2Div(); break;
      case 'sqrt': f.f64x2Sqrt(); break;
      default: throw new Error(op);
    }
  } else {
    switch (op) {
      case 'add': f.f32x4Add(); break;
      case 'sub': f.f32x4Sub(); break;
      case 'mul': f.f32x4Mul(); break;
      case 'div': f.f32x4Div(); break;
      case 'sqrt': f.f32x4Sqrt(); break;
      default: throw new Error(op);
    }
  }
}

/** Emit the rare-path test on v128 locals and, when it fires, the TypeScript fix-up of `r`. */
function fixupIf(g: Gen, op: FOp, dbl: boolean, a: number, b: number, r: number, lanes: number, scalar: boolean): void {
  const f = g.f;
  const ne = (): FnBody => (dbl ? f.f64x2Ne() : f.f32x4Ne());
  if (op === 'min' || op === 'max') {
    f.get(a).get(a); ne(); f.get(b).get(b); ne(); f.v128Or();
  } else {
    f.get(r).get(r); ne();
    if (op === 'div') { f.get(b).v128Zero(); if (dbl) f.f64x2Eq(); else f.f32x4Eq(); f.v128Or(); }
  }
  if (scalar) { if (dbl) f.i64x2ExtractLane(0).i64Eqz().i32Eqz(); else f.i32x4ExtractLane(0); }
  else f.v128AnyTrue();
  f.if_();
  f.i32(0).get(a).v128Store(SCR_A);
  f.i32(0).get(b).v128Store(SCR_B);
  f.i32(0).get(r).v128Store(SCR_R);
  const cpu = g.cpu;
  g.callHelper(() => fixNaN(cpu, op, dbl, lanes));
  f.i32(0).v128Load(SCR_R).set(r);
  f.end();
}

function packed(mn: number, op: FOp, dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const r = v128(g);
    if (op === 'min' || op === 'max') {
      // x86: dst < src ? dst : src (src when unordered or equal) == pmin(src, dst)
      f.get(b).get(a);
      if (op === 'min') { if (dbl) f.f64x2Pmin(); else f.f32x4Pmin(); } else { if (dbl) f.f64x2Pmax(); else f.f32x4Pmax(); }
      f.set(r);
    } else if (op === 'rcp' || op === 'rsqrt') {
      f.f32(1).f32x4Splat().get(b);
      if (op === 'rsqrt') f.f32x4Sqrt();
      f.f32x4Div().set(r);
    } else {
      if (op === 'sqrt') f.get(b); else f.get(a).get(b);
      vop(f, op, dbl);
      f.set(r);
    }
    fixupIf(g, op, dbl, a, b, r, dbl ? 2 : 4, false);
    writeV(g, 0, r);
  });
}

/** Scalar source operand (register low lane or m32/m64) as a v128 with the value in lane 0. */
function scalarSrc(g: Gen, dbl: boolean): number {
  if (g.isMem(1)) return readVL(g, 1, dbl ? 8 : 4);
  return readVL(g, 1);
}

function sop(f: FnBody, op: FOp, dbl: boolean): void {
  if (dbl) {
    switch (op) {
      case 'add': f.f64Add(); break;
      case 'sub': f.f64Sub(); break;
      case 'mul': f.f64Mul(); break;
      case 'div': f.f64Div(); break;
      case 'sqrt': f.f64Sqrt(); break;
      default: throw new Error(op);
    }
  } else {
    switch (op) {
      case 'add': f.f32Add(); break;
      case 'sub': f.f32Sub(); break;
      case 'mul': f.f32Mul(); break;
      case 'div': f.f32Div(); break;
      case 'sqrt': f.f32Sqrt(); break;
      default: throw new Error(op);
    }
  }
}

function scalar(mn: number, op: FOp, dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = scalarSrc(g, dbl);
    const a = readVL(g, 0);
    const r = v128(g);
    const ext = (l: number): FnBody => f.get(l)[dbl ? 'f64x2ExtractLane' : 'f32x4ExtractLane'](0);
    f.get(a);
    if (op === 'min' || op === 'max') {
      ext(a); ext(b); ext(a); ext(b);
      if (op === 'min') { if (dbl) f.f64Lt(); else f.f32Lt(); } else { if (dbl) f.f64Gt(); else f.f32Gt(); }
      f.select();
    } else if (op === 'rcp' || op === 'rsqrt') {
      f.f32(1); ext(b);
      if (op === 'rsqrt') f.f32Sqrt();
      f.f32Div();
    } else {
      if (op !== 'sqrt') ext(a);
      ext(b);
      sop(f, op, dbl);
    }
    if (dbl) f.f64x2ReplaceLane(0); else f.f32x4ReplaceLane(0);
    f.set(r);
    if (op === 'min' || op === 'max') {
      // only lane 0 matters: compare lane 0 of a and b
      fixupScalarMinMax(g, dbl, a, b, r);
    } else {
      fixupIf(g, op, dbl, a, b, r, 1, true);
    }
    writeV(g, 0, r);
  });
}

function fixupScalarMinMax(g: Gen, dbl: boolean, a: number, b: number, r: number): void {
  const f = g.f;
  if (dbl) f.get(a).f64x2ExtractLane(0).get(a).f64x2ExtractLane(0).f64Ne().get(b).f64x2ExtractLane(0).get(b).f64x2ExtractLane(0).f64Ne().i32Or();
  else f.get(a).f32x4ExtractLane(0).get(a).f32x4ExtractLane(0).f32Ne().get(b).f32x4ExtractLane(0).get(b).f32x4ExtractLane(0).f32Ne().i32Or();
  f.if_();
  f.i32(0).get(a).v128Store(SCR_A);
  f.i32(0).get(b).v128Store(SCR_B);
  f.i32(0).get(r).v128Store(SCR_R);
  const cpu = g.cpu;
  g.callHelper(() => fixNaN(cpu, 'min', dbl, 1));
  f.end();
}

for (const [op, ps, pd, ss, sd] of [
  ['add', M.Addps, M.Addpd, M.Addss, M.Addsd], ['sub', M.Subps, M.Subpd, M.Subss, M.Subsd],
  ['mul', M.Mulps, M.Mulpd, M.Mulss, M.Mulsd], ['div', M.Divps, M.Divpd, M.Divss, M.Divsd],
  ['sqrt', M.Sqrtps, M.Sqrtpd, M.Sqrtss, M.Sqrtsd], ['min', M.Minps, M.Minpd, M.Minss, M.Minsd],
  ['max', M.Maxps, M.Maxpd, M.Maxss, M.Maxsd],
] as [FOp, number, number, number, number][]) {
  packed(ps, op, false); packed(pd, op, true); scalar(ss, op, false); scalar(sd, op, true);
}
packed(M.Rcpps, 'rcp', false); scalar(M.Rcpss, 'rcp', false);
packed(M.Rsqrtps, 'rsqrt', false); scalar(M.Rsqrtss, 'rsqrt', false);

// ---- SSE3 horizontal and alternating arithmetic ----------------------------------------------------

function horiz(mn: number, op: 'add' | 'sub', dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const x = v128(g), y = v128(g), r = v128(g);
    // x = even elements of a then b, y = odd ones
    const ev = dbl ? [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23] : [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
    const od = ev.map((i) => i + (dbl ? 8 : 4));
    f.get(a).get(b).i8x16Shuffle(ev).set(x);
    f.get(a).get(b).i8x16Shuffle(od).set(y);
    f.get(x).get(y); vop(f, op, dbl); f.set(r);
    fixupIf(g, op, dbl, x, y, r, dbl ? 2 : 4, false);
    writeV(g, 0, r);
  });
}
horiz(M.Haddps, 'add', false); horiz(M.Haddpd, 'add', true);
horiz(M.Hsubps, 'sub', false); horiz(M.Hsubpd, 'sub', true);

function addsub(mn: number, dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const s = v128(g), r = v128(g);
    f.get(a).get(b); vop(f, 'sub', dbl); f.set(s);
    f.get(a).get(b); vop(f, 'add', dbl);
    // odd elements from the sum, even ones from the difference
    const lanes = dbl ? [16, 17, 18, 19, 20, 21, 22, 23, 8, 9, 10, 11, 12, 13, 14, 15] : [16, 17, 18, 19, 4, 5, 6, 7, 24, 25, 26, 27, 12, 13, 14, 15];
    f.get(s).i8x16Shuffle(lanes).set(r);
    fixupIf(g, 'add', dbl, a, b, r, dbl ? 2 : 4, false);
    writeV(g, 0, r);
  });
}
addsub(M.Addsubps, false); addsub(M.Addsubpd, true);

// ---- compares ---------------------------------------------------------------------------------------

/** CMPPS/CMPPD predicate (imm8 & 7) on a, b (v128 locals): all-ones lanes where true. */
function vpred(f: FnBody, p: number, dbl: boolean, a: number, b: number): void {
  const eq = (): FnBody => (dbl ? f.f64x2Eq() : f.f32x4Eq());
  const ne = (): FnBody => (dbl ? f.f64x2Ne() : f.f32x4Ne());
  const lt = (): FnBody => (dbl ? f.f64x2Lt() : f.f32x4Lt());
  const le = (): FnBody => (dbl ? f.f64x2Le() : f.f32x4Le());
  switch (p) {
    case 0: f.get(a).get(b); eq(); break;
    case 1: f.get(a).get(b); lt(); break;
    case 2: f.get(a).get(b); le(); break;
    case 3: f.get(a).get(a); ne(); f.get(b).get(b); ne(); f.v128Or(); break;
    case 4: f.get(a).get(b); ne(); break;
    case 5: f.get(a).get(b); lt(); f.v128Not(); break;
    case 6: f.get(a).get(b); le(); f.v128Not(); break;
    default: f.get(a).get(a); eq(); f.get(b).get(b); eq(); f.v128And(); break;
  }
}

/**
 * IE for NaN inputs of compares and precision conversions: signalling NaNs always, quiet NaNs for
 * the ordered-relation predicates (LT LE NLT NLE). `b` may be -1 for one-source instructions.
 */
function nanSignal(g: Gen, a: number, b: number, dbl: boolean, lanes: number, signalQ: boolean): void {
  const f = g.f;
  const ne = (): FnBody => (dbl ? f.f64x2Ne() : f.f32x4Ne());
  f.get(a).get(a); ne();
  if (b >= 0) { f.get(b).get(b); ne(); f.v128Or(); }
  if (lanes === 1) { if (dbl) f.i64x2ExtractLane(0).i64Eqz().i32Eqz(); else f.i32x4ExtractLane(0); }
  else if (lanes === 2 && !dbl) f.i64x2ExtractLane(0).i64Eqz().i32Eqz();
  else f.v128AnyTrue();
  f.if_();
  f.i32(0).get(a).v128Store(SCR_A);
  f.i32(0).get(b >= 0 ? b : a).v128Store(SCR_B);
  const cpu = g.cpu;
  g.callHelper(() => {
    const u = ext(cpu).u32;
    let hit = false;
    for (const base of [SCR_A >> 2, SCR_B >> 2]) {
      for (let l = 0; l < lanes; l++) {
        if (dbl) { const hi = u[base + 2 * l + 1], lo = u[base + 2 * l]; if (isSNaN64(hi, lo) || (signalQ && isNaN64(hi, lo))) hit = true; }
        else if (isSNaN32(u[base + l]) || (signalQ && isNaN32(u[base + l]))) hit = true;
      }
    }
    if (hit) mxcsrSignal(cpu, MX_IE);
  });
  f.end();
}
const ORDERED_PRED = (p: number): boolean => p === 1 || p === 2 || p === 5 || p === 6;

function cmpPacked(mn: number, dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const b = vecSrc(g, 1, false);
    const a = readVL(g, 0);
    const r = v128(g);
    nanSignal(g, a, b, dbl, dbl ? 2 : 4, ORDERED_PRED(imm8(g) & 7));
    vpred(g.f, imm8(g) & 7, dbl, a, b);
    g.f.set(r);
    writeV(g, 0, r);
  });
}
cmpPacked(M.Cmpps, false);
cmpPacked(M.Cmppd, true);

function cmpScalar(g: Gen, dbl: boolean): void {
  sseCheck(g);
  const f = g.f;
  const b = scalarSrc(g, dbl);
  const a = readVL(g, 0);
  const m = v128(g), r = v128(g);
  nanSignal(g, a, b, dbl, 1, ORDERED_PRED(imm8(g) & 7));
  vpred(f, imm8(g) & 7, dbl, a, b);
  f.set(m);
  f.get(a).get(m);
  if (dbl) f.i64x2ExtractLane(0).i64x2ReplaceLane(0); else f.i32x4ExtractLane(0).i32x4ReplaceLane(0);
  f.set(r);
  writeV(g, 0, r);
}
def(M.Cmpss, (g) => cmpScalar(g, false));
const stringCmpsd = SEM[M.Cmpsd];
def(M.Cmpsd, (g) => {
  const k0 = g.insn.opKind[0];
  if (g.insn.opCount === 0 || (k0 >= OpKind.MemorySegSI && k0 <= OpKind.MemoryESRDI) || (g.insn.opKind[1] >= OpKind.MemorySegSI && g.insn.opKind[1] <= OpKind.MemoryESRDI)) { stringCmpsd!(g); return; }
  cmpScalar(g, true);
});

/** COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF from the unordered/less/equal relation, OF SF AF cleared. */
function comis(mn: number, dbl: boolean, signalQnan: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = scalarSrc(g, dbl);
    const a = readVL(g, 0);
    const x = g.f.local(dbl ? T.f64 : T.f32), y = g.f.local(dbl ? T.f64 : T.f32), un = g.tmp32();
    f.get(a)[dbl ? 'f64x2ExtractLane' : 'f32x4ExtractLane'](0).set(x);
    f.get(b)[dbl ? 'f64x2ExtractLane' : 'f32x4ExtractLane'](0).set(y);
    if (dbl) f.get(x).get(x).f64Ne().get(y).get(y).f64Ne().i32Or().set(un);
    else f.get(x).get(x).f32Ne().get(y).get(y).f32Ne().i32Or().set(un);
    f.get(un).if_();
    f.i32(0).get(a).v128Store(SCR_A);
    f.i32(0).get(b).v128Store(SCR_B);
    const cpu = g.cpu;
    g.callHelper(() => {
      const u = ext(cpu).u32;
      const sn = dbl ? isSNaN64(u[(SCR_A >> 2) + 1], u[SCR_A >> 2]) || isSNaN64(u[(SCR_B >> 2) + 1], u[SCR_B >> 2]) : isSNaN32(u[SCR_A >> 2]) || isSNaN32(u[SCR_B >> 2]);
      if (signalQnan || sn) mxcsrSignal(cpu, MX_IE);
    });
    f.end();
    g.materializeFlags();
    f.i32(ZF | PF | CF);
    f.get(x).get(y); if (dbl) f.f64Lt(); else f.f32Lt();
    f.i32(CF).i32Mul();
    f.get(x).get(y); if (dbl) f.f64Eq(); else f.f32Eq();
    f.i32(ZF).i32Mul().i32Or();
    f.get(un).select();
    g.writeFlagBits(ZF | PF | CF | OF | SF | AF);
  });
}
comis(M.Comiss, false, true); comis(M.Ucomiss, false, false);
comis(M.Comisd, true, true); comis(M.Ucomisd, true, false);

// ---- conversions ----------------------------------------------------------------------------------

/** Set MXCSR flag bits when the i32 on the stack is non-zero; an unmasked one faults. */
function signalIf(g: Gen, flag: number): void {
  const f = g.f;
  f.if_();
  f.i32(0).i32(0).i32Load(MXCSR).i32(flag).i32Or().i32Store(MXCSR);
  f.i32(0).i32Load(MXCSR).i32(flag << 7).i32And().i32Eqz().if_();
  const cpu = g.cpu;
  g.callHelper(() => mxcsrSignal(cpu, flag));
  f.end();
  f.end();
}

/** Round the f64 in local x by MXCSR.RC (or truncate), leaving the result on the stack. */
function roundByRc(g: Gen, x: number, truncate: boolean): void {
  const f = g.f;
  if (truncate) { f.get(x).f64Trunc(); return; }
  const rc = g.tmp32();
  mxcsrRc(g); f.set(rc);
  f.get(x).f64Nearest().get(x).f64Floor().get(rc).i32Eqz().select();
  f.get(x).f64Ceil().get(x).f64Trunc().get(rc).i32(2).i32Eq().select();
  f.get(rc).i32(2).i32LtU().select();
}

/** CVT(T)SS2SI / CVT(T)SD2SI: out-of-range and NaN give the integer indefinite with IE. */
function cvtToInt(mn: number, dbl: boolean, truncate: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const n = g.opBytes(0);
    const x = f.local(T.f64), r = f.local(T.f64), ok = g.tmp32(), v = g.tmp64();
    if (g.isMem(1)) { g.readOp(1, dbl ? 8 : 4); if (dbl) f.f64ReinterpretI64(); else f.i32WrapI64().f32ReinterpretI32().f64PromoteF32(); }
    else { f.i32(0); if (dbl) f.f64Load(g.xmmOff(g.insn.opReg[1])); else f.f32Load(g.xmmOff(g.insn.opReg[1])).f64PromoteF32(); }
    f.set(x);
    roundByRc(g, x, truncate);
    f.set(r);
    if (n === 4) f.get(r).f64(-2147483648).f64Ge().get(r).f64(2147483647).f64Le().i32And();
    else f.get(r).f64(-9223372036854775808).f64Ge().get(r).f64(9223372036854775808).f64Lt().i32And();
    f.tee(ok).i32Eqz();
    signalIf(g, MX_IE);
    f.get(ok).get(r).get(x).f64Ne().i32And();
    signalIf(g, MX_PE);
    if (n === 4) f.get(r).i32TruncSatF64S().i64ExtendI32U().i64(0x80000000, 0).get(ok).select();
    else f.get(r).i64TruncSatF64S().i64(0, 0x80000000 | 0).get(ok).select();
    f.set(v);
    g.writeOp(0, v, n);
  });
}
cvtToInt(M.Cvtss2si, false, false); cvtToInt(M.Cvttss2si, false, true);
cvtToInt(M.Cvtsd2si, true, false); cvtToInt(M.Cvttsd2si, true, true);

function cvtFromInt(mn: number, dbl: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const n = g.opBytes(1);
    const off = g.xmmOff(g.insn.opReg[0]);
    const v = g.tmp64();
    g.readOp(1, n); f.set(v);
    f.i32(0).get(v);
    if (n === 4) { f.i32WrapI64(); if (dbl) f.f64ConvertI32S(); else f.f32ConvertI32S(); }
    else if (dbl) f.f64ConvertI64S(); else f.f32ConvertI64S();
    if (dbl) f.f64Store(off); else f.f32Store(off);
  });
}
cvtFromInt(M.Cvtsi2ss, false);
cvtFromInt(M.Cvtsi2sd, true);

/** Scalar precision changes; upper elements of the destination are kept. */
def(M.Cvtss2sd, (g) => {
  sseCheck(g);
  const f = g.f;
  const b = scalarSrc(g, false);
  f.i32(0).get(b).f32x4ExtractLane(0).f64PromoteF32().f64Store(g.xmmOff(g.insn.opReg[0]));
  snanQuietCheck(g, b, false);
});
def(M.Cvtsd2ss, (g) => {
  sseCheck(g);
  const f = g.f;
  const b = scalarSrc(g, true);
  f.i32(0).get(b).f64x2ExtractLane(0).f32DemoteF64().f32Store(g.xmmOff(g.insn.opReg[0]));
  snanQuietCheck(g, b, true);
});

/** IE for a signalling NaN converted between precisions (lane 0 of local b). */
function snanQuietCheck(g: Gen, b: number, dbl: boolean): void {
  const f = g.f;
  if (dbl) f.get(b).f64x2ExtractLane(0).get(b).f64x2ExtractLane(0).f64Ne();
  else f.get(b).f32x4ExtractLane(0).get(b).f32x4ExtractLane(0).f32Ne();
  f.if_();
  f.i32(0).get(b).v128Store(SCR_B);
  const cpu = g.cpu;
  g.callHelper(() => {
    const u = ext(cpu).u32;
    if (dbl ? isSNaN64(u[(SCR_B >> 2) + 1], u[SCR_B >> 2]) : isSNaN32(u[SCR_B >> 2])) mxcsrSignal(cpu, MX_IE);
  });
  f.end();
}

def(M.Cvtps2pd, (g) => {
  sseCheck(g);
  const b = g.isMem(1) ? readVL(g, 1, 8) : readVL(g, 1);
  const r = v128(g);
  nanSignal(g, b, -1, false, 2, false);
  g.f.get(b).f64x2PromoteLowF32x4().set(r);
  writeV(g, 0, r);
});
def(M.Cvtpd2ps, (g) => {
  sseCheck(g);
  const b = vecSrc(g, 1, false);
  const r = v128(g);
  nanSignal(g, b, -1, true, 2, false);
  g.f.get(b).f32x4DemoteF64x2Zero().set(r);
  writeV(g, 0, r);
});
def(M.Cvtdq2ps, (g) => {
  sseCheck(g);
  const b = vecSrc(g, 1, false);
  const r = v128(g);
  g.f.get(b).f32x4ConvertI32x4S().set(r);
  writeV(g, 0, r);
});
def(M.Cvtdq2pd, (g) => {
  sseCheck(g);
  const b = g.isMem(1) ? readVL(g, 1, 8) : readVL(g, 1);
  const r = v128(g);
  g.f.get(b).f64x2ConvertLowI32x4S().set(r);
  writeV(g, 0, r);
});

/** Round packed values in v128 local x by MXCSR.RC (or truncate), leaving the result on the stack. */
function vroundByRc(g: Gen, x: number, dbl: boolean, truncate: boolean): void {
  const f = g.f;
  if (truncate) { f.get(x); if (dbl) f.f64x2Trunc(); else f.f32x4Trunc(); return; }
  const rc = g.tmp32();
  mxcsrRc(g); f.set(rc);
  f.get(x); if (dbl) f.f64x2Nearest(); else f.f32x4Nearest();
  f.get(x); if (dbl) f.f64x2Floor(); else f.f32x4Floor();
  f.get(rc).i32Eqz().select();
  f.get(x); if (dbl) f.f64x2Ceil(); else f.f32x4Ceil();
  f.get(x); if (dbl) f.f64x2Trunc(); else f.f32x4Trunc();
  f.get(rc).i32(2).i32Eq().select();
  f.get(rc).i32(2).i32LtU().select();
}

/** CVT(T)PS2DQ: lanes that are NaN or out of range become 0x80000000 (IE). */
function cvtps2dq(mn: number, truncate: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const x = v128(g), bad = v128(g), r = v128(g);
    vroundByRc(g, b, false, truncate); f.set(x);
    f.get(x).f32(-2147483648).f32x4Splat().f32x4Ge().get(x).f32(2147483648).f32x4Splat().f32x4Lt().v128And().v128Not().set(bad);
    f.get(bad).v128AnyTrue();
    signalIf(g, MX_IE);
    f.v128I32x4(0x80000000).get(x).i32x4TruncSatF32x4S().get(bad).v128Bitselect().set(r);
    writeV(g, 0, r);
  });
}
cvtps2dq(M.Cvtps2dq, false); cvtps2dq(M.Cvttps2dq, true);

function cvtpd2dq(mn: number, truncate: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const b = vecSrc(g, 1, false);
    const x = v128(g), bad = v128(g), r = v128(g);
    vroundByRc(g, b, true, truncate); f.set(x);
    f.get(x).f64(-2147483648).f64x2Splat().f64x2Ge().get(x).f64(2147483647).f64x2Splat().f64x2Le().v128And().v128Not();
    f.v128Zero().i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 16, 16, 16, 16, 16, 16, 16]).set(bad);
    f.get(bad).v128AnyTrue();
    signalIf(g, MX_IE);
    f.v128I32x4(0x80000000).get(x).i32x4TruncSatF64x2SZero().get(bad).v128Bitselect().set(r);
    writeV(g, 0, r);
  });
}
cvtpd2dq(M.Cvtpd2dq, false); cvtpd2dq(M.Cvttpd2dq, true);

// MMX-operand conversions
def(M.Cvtpi2ps, (g) => {
  sseCheck(g);
  if (isMmx(g)) mmxCheck(g);
  const f = g.f;
  const b = g.isMem(1) ? readVL(g, 1, 8) : readVL(g, 1);
  const a = readVL(g, 0);
  const r = v128(g);
  f.get(b).f32x4ConvertI32x4S().get(a).i8x16Shuffle([0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 28, 29, 30, 31]).set(r);
  writeV(g, 0, r);
});
def(M.Cvtpi2pd, (g) => {
  sseCheck(g);
  if (isMmx(g)) mmxCheck(g);
  const b = g.isMem(1) ? readVL(g, 1, 8) : readVL(g, 1);
  const r = v128(g);
  g.f.get(b).f64x2ConvertLowI32x4S().set(r);
  writeV(g, 0, r);
});
function cvt2pi(mn: number, dbl: boolean, truncate: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    mmxCheck(g);
    const f = g.f;
    const b = g.isMem(1) ? readVL(g, 1, dbl ? 16 : 8, dbl) : readVL(g, 1);
    const x = v128(g), bad = v128(g), r = v128(g);
    vroundByRc(g, b, dbl, truncate); f.set(x);
    if (dbl) {
      f.get(x).f64(-2147483648).f64x2Splat().f64x2Ge().get(x).f64(2147483647).f64x2Splat().f64x2Le().v128And().v128Not();
      f.v128Zero().i8x16Shuffle([0, 1, 2, 3, 8, 9, 10, 11, 16, 16, 16, 16, 16, 16, 16, 16]).set(bad);
      f.v128I32x4(0x80000000).get(x).i32x4TruncSatF64x2SZero().get(bad).v128Bitselect().set(r);
    } else {
      f.get(x).f32(-2147483648).f32x4Splat().f32x4Ge().get(x).f32(2147483648).f32x4Splat().f32x4Lt().v128And().v128Not();
      f.v128I32x4(0xffffffff, 0xffffffff, 0, 0).v128And().set(bad);
      f.v128I32x4(0x80000000).get(x).i32x4TruncSatF32x4S().get(bad).v128Bitselect().set(r);
    }
    f.get(bad).v128AnyTrue();
    signalIf(g, MX_IE);
    writeV(g, 0, r);
  });
}
cvt2pi(M.Cvtps2pi, false, false); cvt2pi(M.Cvttps2pi, false, true);
cvt2pi(M.Cvtpd2pi, true, false); cvt2pi(M.Cvttpd2pi, true, true);

// ---- MXCSR ------------------------------------------------------------------------------------------

/** MXCSR_MASK: all defined bits including DAZ. */
export const MXCSR_MASK = 0xffff;

def(M.Ldmxcsr, (g) => {
  sseCheck(g);
  const f = g.f;
  const v = g.tmp64();
  g.readOp(0, 4); f.set(v);
  f.get(v).i64(~MXCSR_MASK >>> 0, 0).i64And().i64Eqz().i32Eqz().if_();
  g.raise(Vec.GP, 0);
  f.end();
  f.i32(0).get(v).i64Store32(MXCSR);
});
def(M.Stmxcsr, (g) => {
  sseCheck(g);
  const v = g.tmp64();
  g.f.i32(0).i64Load32U(MXCSR).set(v);
  g.writeOp(0, v, 4);
});

// ---- SSE3 duplicating moves -------------------------------------------------------------------------
function dupMove(mn: number, lanes: number[], memBytesN: number): void {
  def(mn, (g) => {
    sseCheck(g);
    const b = g.isMem(1) ? readVL(g, 1, memBytesN, memBytesN === 16) : readVL(g, 1);
    const r = v128(g);
    g.f.get(b).get(b).i8x16Shuffle(lanes).set(r);
    writeV(g, 0, r);
  });
}
dupMove(M.Movddup, [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7], 8);
dupMove(M.Movsldup, [0, 1, 2, 3, 0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11], 16);
dupMove(M.Movshdup, [4, 5, 6, 7, 4, 5, 6, 7, 12, 13, 14, 15, 12, 13, 14, 15], 16);

export { fault, memBytes, readV };
