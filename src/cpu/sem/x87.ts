// x87 FPU semantics. Registers are IEEE doubles (see src/cpu/system/fpu.ts for the precision
// model); loads, stores, arithmetic, compares, exchanges and integer conversions are generated
// Wasm, while 80-bit memory formats, environment images and transcendental functions call
// TypeScript helpers. Rare paths (empty/full registers, NaN results, zero divisors) call helpers
// that set the status-word flags.
import { Mnemonic, OpKind } from '../iced.js';
import { def, SEM } from './table.js';
import type { Gen } from './gen.js';
import { T, type FnBody } from '../../jit/wasm/encoder.js';
import { FPU_ST, FPU_TOP, FPU_TW, FPU_SW, FPU_CW, HELPER_ARG0 } from '../state-layout.js';
import { SCR_A, SCR_B, FPU_MMX } from '../fpu-layout.js';
import { REG } from '../regs.js';
import { MEMSIZE_BYTES } from '../memsize.js';
import { x87Check, fwaitCheck, ext } from './simd-util.js';
import {
  stackUnderflow, x87Signal, SW_IE, SW_ZE, SW_SF, SW_C1, SW_C0, SW_C2, SW_C3, fldM80, fstpM80, fstenv, fldenv, fsave, frstor,
  fninit, stGet, stSet, fpuPush, fpuPop, stEmpty, statusWord, fpuTop, INDEFINITE, f64Bits, bitsToF64,
} from '../system/fpu.js';
import { CF, PF, ZF, OF, SF, AF } from '../flags.js';

const M = Mnemonic;

// ---- register-stack primitives ------------------------------------------------------------------

/** Push i32 physical index of ST(i). */
function phys(f: FnBody, i: number): void {
  f.i32(0).i32Load(FPU_TOP);
  if (i) f.i32(i).i32Add();
  f.i32(7).i32And();
}

/** Read ST(i) into a new f64 local (empty register: stack underflow, reads the indefinite). */
function readSt(g: Gen, i: number): number {
  const f = g.f;
  const p = g.tmp32(), v = f.local(T.f64);
  phys(f, i); f.set(p);
  f.i32(0).i32Load(FPU_TW).get(p).i32ShrU().i32(1).i32And().i32Eqz().if_();
  const cpu = g.cpu;
  g.callHelper(() => stackUnderflow(cpu, i));
  f.end();
  f.get(p).i32(3).i32Shl().f64Load(FPU_ST).set(v);
  return v;
}

/** ST(i) = value in f64 local (tag valid). */
function writeSt(g: Gen, i: number, v: number): void {
  const f = g.f;
  const p = g.tmp32();
  phys(f, i); f.set(p);
  f.get(p).i32(3).i32Shl().get(v).f64Store(FPU_ST);
  f.i32(0).i32(0).i32Load(FPU_TW).i32(1).get(p).i32Shl().i32Or().i32Store(FPU_TW);
}

/** Push the f64 local (full register: stack overflow, pushes the indefinite). */
function push(g: Gen, v: number): void {
  const f = g.f;
  const p = g.tmp32();
  f.i32(0).i32Load(FPU_TOP).i32(1).i32Sub().i32(7).i32And().set(p);
  f.i32(0).i32Load(FPU_TW).get(p).i32ShrU().i32(1).i32And().if_();
  const cpu = g.cpu;
  g.callHelper(() => x87Signal(cpu, SW_IE | SW_SF | SW_C1));
  f.i64(0, 0xfff80000 | 0).f64ReinterpretI64().set(v);
  f.end();
  f.i32(0).get(p).i32Store(FPU_TOP);
  f.get(p).i32(3).i32Shl().get(v).f64Store(FPU_ST);
  f.i32(0).i32(0).i32Load(FPU_TW).i32(1).get(p).i32Shl().i32Or().i32Store(FPU_TW);
}

function pop(g: Gen): void {
  const f = g.f;
  const p = g.tmp32();
  f.i32(0).i32Load(FPU_TOP).set(p);
  f.i32(0).i32(0).i32Load(FPU_TW).i32(1).get(p).i32Shl().i32(-1).i32Xor().i32And().i32Store(FPU_TW);
  f.i32(0).get(p).i32(1).i32Add().i32(7).i32And().i32Store(FPU_TOP);
}

const stIdx = (g: Gen, i: number): number => REG[g.insn.opReg[i]].idx;
const memN = (g: Gen): number => MEMSIZE_BYTES[g.insn.memSize];

/** Load a floating (m32/m64) or integer (m16/m32/m64) memory operand as f64 onto the stack. */
function loadMem(g: Gen, int: boolean): void {
  const f = g.f;
  const n = memN(g);
  const a = g.memLinear(false, n);
  g.load(a, n);
  if (int) {
    if (n === 2) f.i64Extend16S().f64ConvertI64S();
    else if (n === 4) f.i64Extend32S().f64ConvertI64S();
    else f.f64ConvertI64S();
  } else if (n === 4) f.i32WrapI64().f32ReinterpretI32().f64PromoteF32();
  else f.f64ReinterpretI64();
}

// ---- arithmetic ----------------------------------------------------------------------------------

type AOp = 'add' | 'sub' | 'subr' | 'mul' | 'div' | 'divr';

/** IE/ZE for a NaN result or a zero divisor (operands in SCR_A/SCR_B as f64, result NaN-ness given). */
function arithFlags(g: Gen, x: number, y: number, r: number, isDiv: boolean): void {
  const f = g.f;
  f.get(r).get(r).f64Ne();
  if (isDiv) f.get(y).f64(0).f64Eq().i32Or();
  f.if_();
  f.i32(0).get(x).f64Store(SCR_A);
  f.i32(0).get(y).f64Store(SCR_B);
  const cpu = g.cpu;
  g.callHelper(() => {
    const dv = ext(cpu).dv;
    const a = dv.getBigUint64(SCR_A, true), b = dv.getBigUint64(SCR_B, true);
    const nan = (v: bigint): boolean => (v & 0x7ff0000000000000n) === 0x7ff0000000000000n && (v & 0xfffffffffffffn) !== 0n;
    const snan = (v: bigint): boolean => nan(v) && !(v & 0x8000000000000n);
    const xa = bitsToF64(a), yb = bitsToF64(b);
    if (snan(a) || snan(b)) x87Signal(cpu, SW_IE);
    else if (nan(a) || nan(b)) { /* quiet NaN operands propagate silently */ }
    else if (isDiv && yb === 0) { if (xa === 0) x87Signal(cpu, SW_IE); else if (Number.isFinite(xa)) x87Signal(cpu, 4 /* ZE */); }
    else x87Signal(cpu, SW_IE);
  });
  f.end();
}

function emitOp(f: FnBody, op: AOp, a: number, b: number): void {
  switch (op) {
    case 'add': f.get(a).get(b).f64Add(); break;
    case 'sub': f.get(a).get(b).f64Sub(); break;
    case 'subr': f.get(b).get(a).f64Sub(); break;
    case 'mul': f.get(a).get(b).f64Mul(); break;
    case 'div': f.get(a).get(b).f64Div(); break;
    case 'divr': f.get(b).get(a).f64Div(); break;
  }
}

function arith(mn: number, op: AOp, popAfter: boolean, int = false): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const d = g.insn;
    let dst = 0;
    const a = g.f.local(T.f64), b = g.f.local(T.f64), r = g.f.local(T.f64);
    if (d.opCount === 1 && d.opKind[0] === OpKind.Memory) {
      loadMem(g, int); f.set(b);
      f.get(readSt(g, 0)).set(a);
    } else if (d.opCount === 0) {
      // FADDP etc. without operands: ST(1) = ST(1) op ST(0)
      dst = 1;
      f.get(readSt(g, 1)).set(a);
      f.get(readSt(g, 0)).set(b);
    } else {
      dst = stIdx(g, 0);
      f.get(readSt(g, dst)).set(a);
      f.get(readSt(g, stIdx(g, 1))).set(b);
    }
    emitOp(f, op, a, b); f.set(r);
    const rev = op === 'subr' || op === 'divr';
    arithFlags(g, rev ? b : a, rev ? a : b, r, op === 'div' || op === 'divr');
    writeSt(g, dst, r);
    if (popAfter) pop(g);
  });
}
arith(M.Fadd, 'add', false); arith(M.Faddp, 'add', true); arith(M.Fiadd, 'add', false, true);
arith(M.Fsub, 'sub', false); arith(M.Fsubp, 'sub', true); arith(M.Fisub, 'sub', false, true);
arith(M.Fsubr, 'subr', false); arith(M.Fsubrp, 'subr', true); arith(M.Fisubr, 'subr', false, true);
arith(M.Fmul, 'mul', false); arith(M.Fmulp, 'mul', true); arith(M.Fimul, 'mul', false, true);
arith(M.Fdiv, 'div', false); arith(M.Fdivp, 'div', true); arith(M.Fidiv, 'div', false, true);
arith(M.Fdivr, 'divr', false); arith(M.Fdivrp, 'divr', true); arith(M.Fidivr, 'divr', false, true);

/** One-operand ops on ST(0). */
function unary(mn: number, emit: (f: FnBody, v: number, g: Gen) => void): void {
  def(mn, (g) => {
    x87Check(g);
    const v = readSt(g, 0);
    const r = g.f.local(T.f64);
    emit(g.f, v, g);
    g.f.set(r);
    writeSt(g, 0, r);
  });
}
unary(M.Fchs, (f, v) => f.get(v).f64Neg());
unary(M.Fabs, (f, v) => f.get(v).f64Abs());
unary(M.Fsqrt, (f, v, g) => {
  f.get(v).f64Sqrt();
  const r = f.local(T.f64);
  f.set(r);
  f.get(v).f64(0).f64Lt().if_();
  const cpu = g.cpu;
  g.callHelper(() => x87Signal(cpu, SW_IE));
  f.end();
  f.get(r);
});
unary(M.Frndint, (f, v, g) => roundByCw(g, v));

/** Round the f64 local by FPU control word RC, leaving the result on the stack. */
function roundByCw(g: Gen, x: number): void {
  const f = g.f;
  const rc = g.tmp32();
  f.i32(0).i32Load(FPU_CW).i32(10).i32ShrU().i32(3).i32And().set(rc);
  f.get(x).f64Nearest().get(x).f64Floor().get(rc).i32Eqz().select();
  f.get(x).f64Ceil().get(x).f64Trunc().get(rc).i32(2).i32Eq().select();
  f.get(rc).i32(2).i32LtU().select();
}

// ---- loads and stores ----------------------------------------------------------------------------

def(M.Fld, (g) => {
  x87Check(g);
  const f = g.f;
  if (g.isMem(0)) {
    const n = memN(g);
    if (n === 10) {
      const cpu = g.cpu;
      g.argFromAddr(HELPER_ARG0, false, 10);
      g.callHelper(() => fldM80(cpu, cpu.st.get64(HELPER_ARG0)));
      return;
    }
    const v = f.local(T.f64);
    loadMem(g, false); f.set(v);
    signalSnanLoad(g, v, n);
    push(g, v);
    return;
  }
  const v = readSt(g, stIdx(g, 0));
  push(g, v);
});

/** Loading an m32/m64 SNaN signals IE (the pushed value is quieted by the conversion). */
function signalSnanLoad(g: Gen, v: number, n: number): void {
  const f = g.f;
  if (n === 8) {
    // f64 loads keep the SNaN: quiet it here
    f.get(v).i64ReinterpretF64().i64(0, 0x7ff80000).i64And().i64(0, 0x7ff00000).i64Eq();
    f.get(v).i64ReinterpretF64().i64(-1, 0x7ffff).i64And().i64Eqz().i32Eqz().i32And();
  } else {
    f.get(v).get(v).f64Ne();
  }
  f.if_();
  const cpu = g.cpu;
  f.i32(0).get(v).f64Store(SCR_A);
  g.callHelper(() => {
    const dv = ext(cpu).dv;
    const b = dv.getBigUint64(SCR_A, true);
    if (n === 8 || !(b & 0x8000000000000n)) x87Signal(cpu, SW_IE);
    dv.setBigUint64(SCR_A, b | 0x8000000000000n, true);
  });
  f.i32(0).f64Load(SCR_A).set(v);
  f.end();
}

def(M.Fild, (g) => {
  x87Check(g);
  const v = g.f.local(T.f64);
  loadMem(g, true); g.f.set(v);
  push(g, v);
});

function constLoad(mn: number, value: number): void {
  def(mn, (g) => {
    x87Check(g);
    const v = g.f.local(T.f64);
    g.f.f64(value).set(v);
    push(g, v);
  });
}
constLoad(M.Fld1, 1);
constLoad(M.Fldz, 0);
constLoad(M.Fldpi, Math.PI);
constLoad(M.Fldl2e, Math.LOG2E);
constLoad(M.Fldln2, Math.LN2);
constLoad(M.Fldl2t, Math.log2(10));
constLoad(M.Fldlg2, Math.log10(2));

function store(mn: number, popAfter: boolean): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    if (g.isMem(0)) {
      const n = memN(g);
      if (n === 10) {
        const cpu = g.cpu;
        g.argFromAddr(HELPER_ARG0, true, 10);
        g.callHelper(() => fstpM80(cpu, cpu.st.get64(HELPER_ARG0)));
        return;
      }
      const v = readSt(g, 0);
      const t = g.tmp64();
      if (n === 4) f.get(v).f32DemoteF64().i32ReinterpretF32().i64ExtendI32U();
      else f.get(v).i64ReinterpretF64();
      f.set(t);
      g.writeOp(0, t, n);
    } else {
      const v = readSt(g, 0);
      writeSt(g, stIdx(g, 0), v);
    }
    if (popAfter) pop(g);
  });
}
store(M.Fst, false);
store(M.Fstp, true);
store(M.Fstpnce, true);

/** FIST/FISTP/FISTTP: out of range or NaN stores the integer indefinite with IE. */
function istore(mn: number, popAfter: boolean, truncate: boolean): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const n = memN(g);
    const v = readSt(g, 0);
    const r = f.local(T.f64), ok = g.tmp32(), t = g.tmp64();
    if (truncate) f.get(v).f64Trunc(); else roundByCw(g, v);
    f.set(r);
    const lim = n === 2 ? 32768 : n === 4 ? 2147483648 : 9223372036854775808;
    f.get(r).f64(-lim).f64Ge().get(r).f64(lim).f64Lt().i32And().set(ok);
    f.get(ok).i32Eqz().if_();
    const cpu = g.cpu;
    g.callHelper(() => x87Signal(cpu, SW_IE));
    f.end();
    if (n === 8) f.get(r).i64TruncSatF64S().i64(0, 0x80000000 | 0).get(ok).select();
    else f.get(r).i64TruncSatF64S().i64(n === 2 ? 0x8000 : 0x80000000, 0).get(ok).select();
    f.set(t);
    g.writeOp(0, t, n);
    if (popAfter) pop(g);
  });
}
istore(M.Fist, false, false);
istore(M.Fistp, true, false);
istore(M.Fisttp, true, true);

def(M.Fxch, (g) => {
  x87Check(g);
  const i = g.insn.opCount ? stIdx(g, g.insn.opCount - 1) : 1;
  const a = readSt(g, 0), b = readSt(g, i);
  writeSt(g, 0, b);
  writeSt(g, i, a);
});

function fcmov(mn: number, cc: number): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const src = readSt(g, stIdx(g, 1));
    g.cond(cc);
    f.if_();
    writeSt(g, 0, src);
    f.end();
  });
}
fcmov(M.Fcmovb, 2); fcmov(M.Fcmovnb, 3); fcmov(M.Fcmove, 4); fcmov(M.Fcmovne, 5);
fcmov(M.Fcmovbe, 6); fcmov(M.Fcmovnbe, 7); fcmov(M.Fcmovu, 10); fcmov(M.Fcmovnu, 11);

// ---- compares ---------------------------------------------------------------------------------------

/**
 * Compare a with b (f64 locals); pushes i32 relation bits (C3 C2 C0 layout in `bits`):
 * unordered → all three, less → lo, equal → eq. IE for NaNs (any NaN unless `unordered`).
 */
function compare(g: Gen, a: number, b: number, unorderedOk: boolean, un: number): void {
  const f = g.f;
  f.get(a).get(a).f64Ne().get(b).get(b).f64Ne().i32Or().tee(un).if_();
  f.i32(0).get(a).f64Store(SCR_A);
  f.i32(0).get(b).f64Store(SCR_B);
  const cpu = g.cpu;
  g.callHelper(() => {
    const dv = ext(cpu).dv;
    const sn = (v: bigint): boolean => (v & 0x7ff0000000000000n) === 0x7ff0000000000000n && (v & 0xfffffffffffffn) !== 0n && !(v & 0x8000000000000n);
    if (!unorderedOk || sn(dv.getBigUint64(SCR_A, true)) || sn(dv.getBigUint64(SCR_B, true))) x87Signal(cpu, SW_IE);
  });
  f.end();
}

function setCc(g: Gen, a: number, b: number, un: number): void {
  // C3 C2 C0: unordered 111, less 001, equal 100, greater 000; C1 cleared
  const f = g.f;
  f.i32(0);
  f.i32(0).i32Load(FPU_SW).i32(~(SW_C0 | SW_C1 | SW_C2 | SW_C3)).i32And();
  f.i32(SW_C0 | SW_C2 | SW_C3);
  f.get(a).get(b).f64Lt().i32(SW_C0).i32Mul();
  f.get(a).get(b).f64Eq().i32(SW_C3).i32Mul().i32Or();
  f.get(un).select();
  f.i32Or().i32Store(FPU_SW);
}

function fcom(mn: number, unorderedOk: boolean, pops: number, int = false): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const d = g.insn;
    const a = readSt(g, 0);
    const b = f.local(T.f64), un = g.tmp32();
    if (d.opCount === 1 && d.opKind[0] === OpKind.Memory) { loadMem(g, int); f.set(b); }
    else f.get(readSt(g, d.opCount === 2 ? stIdx(g, 1) : d.opCount === 1 ? stIdx(g, 0) : 1)).set(b);
    compare(g, a, b, unorderedOk, un);
    setCc(g, a, b, un);
    for (let i = 0; i < pops; i++) pop(g);
  });
}
fcom(M.Fcom, false, 0); fcom(M.Fcomp, false, 1); fcom(M.Fcompp, false, 2);
fcom(M.Fucom, true, 0); fcom(M.Fucomp, true, 1); fcom(M.Fucompp, true, 2);
fcom(M.Ficom, false, 0, true); fcom(M.Ficomp, false, 1, true);

def(M.Ftst, (g) => {
  x87Check(g);
  const f = g.f;
  const a = readSt(g, 0);
  const b = f.local(T.f64), un = g.tmp32();
  f.f64(0).set(b);
  compare(g, a, b, false, un);
  setCc(g, a, b, un);
});

function fcomi(mn: number, unorderedOk: boolean, popAfter: boolean): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const a = readSt(g, 0);
    const b = readSt(g, stIdx(g, 1));
    const un = g.tmp32();
    compare(g, a, b, unorderedOk, un);
    g.materializeFlags();
    f.i32(ZF | PF | CF);
    f.get(a).get(b).f64Lt().i32(CF).i32Mul();
    f.get(a).get(b).f64Eq().i32(ZF).i32Mul().i32Or();
    f.get(un).select();
    g.writeFlagBits(ZF | PF | CF | OF | SF | AF);
    if (popAfter) pop(g);
  });
}
fcomi(M.Fcomi, false, false); fcomi(M.Fcomip, false, true);
fcomi(M.Fucomi, true, false); fcomi(M.Fucomip, true, true);

// ---- control ----------------------------------------------------------------------------------------

def(M.Fnstsw, (g) => {
  x87Check(g, false);
  const f = g.f;
  const t = g.tmp64();
  f.i32(0).i32Load(FPU_SW).i32(~0x3800).i32And().i32(0).i32Load(FPU_TOP).i32(11).i32Shl().i32Or().i32(0xffff).i32And().i64ExtendI32U().set(t);
  g.writeOp(0, t, 2);
});
def(M.Fnstcw, (g) => {
  x87Check(g, false);
  const t = g.tmp64();
  g.f.i32(0).i64Load16U(FPU_CW).set(t);
  g.writeOp(0, t, 2);
});
def(M.Fldcw, (g) => {
  x87Check(g);
  const t = g.tmp64();
  g.readOp(0, 2); g.f.set(t);
  g.f.i32(0).get(t).i32WrapI64().i32Store(FPU_CW);
  const cpu = g.cpu;
  // a newly unmasked pending exception sets ES (its #MF comes at the next waiting instruction)
  g.f.i32(0).i32Load(FPU_SW).i32(0x3f).i32And().get(t).i32WrapI64().i32(-1).i32Xor().i32And().if_();
  g.callHelper(() => { const st = cpu.st; const sw = st.get32(FPU_SW); if (sw & 0x3f & ~st.get32(FPU_CW)) st.set32(FPU_SW, sw | 0x8080); });
  g.f.end();
});
def(M.Fninit, (g) => { x87Check(g, false); const cpu = g.cpu; g.callHelper(() => fninit(cpu)); });
def(M.Fnclex, (g) => {
  x87Check(g, false);
  g.f.i32(0).i32(0).i32Load(FPU_SW).i32(~0x80ff).i32And().i32Store(FPU_SW);
});
def(M.Wait, (g) => fwaitCheck(g));
def(M.Fnop, (g) => x87Check(g));
def([M.Fneni, M.Fndisi, M.Fnsetpm, M.Frstpm], (g) => x87Check(g, false));

function ffree(mn: number, popAfter: boolean): void {
  def(mn, (g) => {
    x87Check(g);
    const f = g.f;
    const p = g.tmp32();
    phys(f, stIdx(g, 0)); f.set(p);
    f.i32(0).i32(0).i32Load(FPU_TW).i32(1).get(p).i32Shl().i32(-1).i32Xor().i32And().i32Store(FPU_TW);
    if (popAfter) pop(g);
  });
}
ffree(M.Ffree, false);
ffree(M.Ffreep, true);
def(M.Fincstp, (g) => { x87Check(g); g.f.i32(0).i32(0).i32Load(FPU_TOP).i32(1).i32Add().i32(7).i32And().i32Store(FPU_TOP); });
def(M.Fdecstp, (g) => { x87Check(g); g.f.i32(0).i32(0).i32Load(FPU_TOP).i32(1).i32Sub().i32(7).i32And().i32Store(FPU_TOP); });

function envOp(mn: number, waiting: boolean, write: boolean, fn: (cpu: import('../cpu.js').Cpu, a: bigint, op16: boolean) => void): void {
  def(mn, (g) => {
    x87Check(g, waiting);
    const n = memN(g);
    const op16 = n === 14 || n === 94;
    const cpu = g.cpu;
    g.argFromAddr(HELPER_ARG0, write, n);
    g.callHelper(() => fn(cpu, cpu.st.get64(HELPER_ARG0), op16));
  });
}
envOp(M.Fnstenv, false, true, fstenv);
envOp(M.Fldenv, true, false, fldenv);
envOp(M.Fnsave, false, true, fsave);
envOp(M.Frstor, true, false, frstor);

// ---- helper-based operations ------------------------------------------------------------------------

/** Run `fn` in TypeScript after checking that ST(0..need-1) are not empty. */
function helperOp(mn: number, need: number, fn: (cpu: import('../cpu.js').Cpu) => void): void {
  def(mn, (g) => {
    x87Check(g);
    const cpu = g.cpu;
    g.callHelper(() => {
      for (let i = 0; i < need; i++) if (stEmpty(cpu, i)) stackUnderflow(cpu, i);
      fn(cpu);
    });
  });
}

const setC = (cpu: import('../cpu.js').Cpu, clear: number, set: number): void => {
  cpu.st.set32(FPU_SW, (cpu.st.get32(FPU_SW) & ~clear) | set);
};

helperOp(M.Fxam, 0, (cpu) => {
  const C = SW_C0 | SW_C1 | SW_C2 | SW_C3;
  const p = (fpuTop(cpu)) & 7;
  const bits = cpu.st.get64(FPU_ST + p * 8);
  const sign = bits >> 63n ? SW_C1 : 0;
  if (stEmpty(cpu, 0)) { setC(cpu, C, SW_C3 | SW_C0 | sign); return; }
  const x = stGet(cpu, 0);
  let c: number;
  if (Number.isNaN(x)) c = SW_C0;
  else if (!Number.isFinite(x)) c = SW_C2 | SW_C0;
  else if (x === 0) c = SW_C3;
  else c = SW_C2; // f64 denormals are normal numbers in extended precision
  setC(cpu, C, c | sign);
});

helperOp(M.Fscale, 2, (cpu) => {
  const a = stGet(cpu, 0), b = stGet(cpu, 1);
  const n = Math.trunc(b);
  let r: number;
  if (Number.isNaN(a) || Number.isNaN(b)) r = Number.isNaN(a) ? a : b;
  else if (!Number.isFinite(n)) r = n > 0 ? (a === 0 ? (x87Signal(cpu, SW_IE), INDEFINITE) : a * Infinity) : (Number.isFinite(a) ? a * 0 : (x87Signal(cpu, SW_IE), INDEFINITE));
  else r = a * 2 ** Math.max(-2200, Math.min(2200, n));
  if (Number.isFinite(n) && Math.abs(n) > 1100 && Number.isFinite(a) && a !== 0) {
    // scale in steps so huge counts saturate like the hardware instead of overflowing early
    r = a; let k = n;
    while (k !== 0 && Number.isFinite(r) && r !== 0) { const s = Math.max(-1000, Math.min(1000, k)); r *= 2 ** s; k -= s; }
  }
  stSet(cpu, 0, r);
});

helperOp(M.Fxtract, 1, (cpu) => {
  const x = stGet(cpu, 0);
  if (x === 0) {
    x87Signal(cpu, SW_ZE);
    stSet(cpu, 0, -Infinity);
    fpuPush(cpu, x);
    return;
  }
  if (!Number.isFinite(x)) { stSet(cpu, 0, Number.isNaN(x) ? x : Infinity); fpuPush(cpu, x); return; }
  const b = f64Bits(Math.abs(x));
  let e = Number((b >> 52n) & 0x7ffn) - 1023;
  if (e === -1023) e = Math.floor(Math.log2(Math.abs(x)));
  let sig = x / 2 ** e;
  if (Math.abs(sig) >= 2) { sig /= 2; e++; } else if (Math.abs(sig) < 1) { sig *= 2; e--; }
  stSet(cpu, 0, e);
  fpuPush(cpu, sig);
});

function premOp(mn: number, ieee: boolean): void {
  helperOp(mn, 2, (cpu) => {
    const a = stGet(cpu, 0), b = stGet(cpu, 1);
    const C = SW_C0 | SW_C1 | SW_C2 | SW_C3;
    if (Number.isNaN(a) || Number.isNaN(b) || !Number.isFinite(a) || b === 0) {
      if (!Number.isNaN(a) && !Number.isNaN(b)) x87Signal(cpu, SW_IE);
      stSet(cpu, 0, Number.isNaN(a) ? a : Number.isNaN(b) ? b : INDEFINITE);
      setC(cpu, C, 0);
      return;
    }
    if (!Number.isFinite(b)) { setC(cpu, C, 0); return; }
    const ea = Math.floor(Math.log2(Math.abs(a))), eb = Math.floor(Math.log2(Math.abs(b)));
    if (a !== 0 && ea - eb >= 64) {
      // partial remainder: reduce by b·2^(d-32..) and report C2=1 (incomplete)
      const shift = ea - eb - 32;
      const bb = b * 2 ** shift;
      const q = Math.trunc(a / bb);
      stSet(cpu, 0, a - q * bb);
      setC(cpu, C, SW_C2);
      return;
    }
    let q = a / b;
    q = ieee ? roundHalfEven(q) : Math.trunc(q);
    const r = ieee ? ieeeRem(a, b) : a % b;
    const qi = Math.abs(q) % 8;
    stSet(cpu, 0, r);
    setC(cpu, C, ((qi & 1) ? SW_C1 : 0) | ((qi & 2) ? SW_C3 : 0) | ((qi & 4) ? SW_C0 : 0));
  });
}
function roundHalfEven(x: number): number { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; }
function ieeeRem(a: number, b: number): number {
  const r = a % b;
  const h = Math.abs(b) / 2;
  if (Math.abs(r) > h || (Math.abs(r) === h && Math.trunc(a / b) % 2 !== 0)) return r - Math.sign(r) * Math.abs(b);
  return r;
}
premOp(M.Fprem, false);
premOp(M.Fprem1, true);

/** Transcendental functions: JS Math on doubles (documented as approximate). */
helperOp(M.F2xm1, 1, (cpu) => { const x = stGet(cpu, 0); stSet(cpu, 0, Math.expm1(x * Math.LN2)); });
helperOp(M.Fyl2x, 2, (cpu) => {
  const x = stGet(cpu, 0), y = stGet(cpu, 1);
  if (x < 0 || (x === 0 && y === 0)) x87Signal(cpu, SW_IE);
  else if (x === 0) x87Signal(cpu, SW_ZE);
  const r = x < 0 ? INDEFINITE : y * Math.log2(x);
  fpuPop(cpu); stSet(cpu, 0, Number.isNaN(r) && !Number.isNaN(x) && !Number.isNaN(y) ? INDEFINITE : r);
});
helperOp(M.Fyl2xp1, 2, (cpu) => {
  const x = stGet(cpu, 0), y = stGet(cpu, 1);
  const r = y * (Math.log1p(x) / Math.LN2);
  fpuPop(cpu); stSet(cpu, 0, r);
});
const TRIG_LIMIT = 2 ** 63;
function trig(cpu: import('../cpu.js').Cpu): number | null {
  const x = stGet(cpu, 0);
  if (Math.abs(x) >= TRIG_LIMIT) { setC(cpu, SW_C2, SW_C2); return null; }
  if (!Number.isFinite(x) && !Number.isNaN(x)) { x87Signal(cpu, SW_IE); stSet(cpu, 0, INDEFINITE); setC(cpu, SW_C2, 0); return null; }
  setC(cpu, SW_C2 | SW_C1, 0);
  return x;
}
helperOp(M.Fsin, 1, (cpu) => { const x = trig(cpu); if (x !== null) stSet(cpu, 0, Math.sin(x)); });
helperOp(M.Fcos, 1, (cpu) => { const x = trig(cpu); if (x !== null) stSet(cpu, 0, Math.cos(x)); });
helperOp(M.Fsincos, 1, (cpu) => { const x = trig(cpu); if (x !== null) { stSet(cpu, 0, Math.sin(x)); fpuPush(cpu, Math.cos(x)); } });
helperOp(M.Fptan, 1, (cpu) => { const x = trig(cpu); if (x !== null) { stSet(cpu, 0, Math.tan(x)); fpuPush(cpu, 1); } });
helperOp(M.Fpatan, 2, (cpu) => {
  const x = stGet(cpu, 0), y = stGet(cpu, 1);
  fpuPop(cpu); stSet(cpu, 0, Math.atan2(y, x));
});

export { statusWord, FPU_MMX };

// ---- packed BCD ---------------------------------------------------------------------------------------

/** FBLD: 18 BCD digits (bytes 0-8, low digit first) and the sign in bit 79. */
def(M.Fbld, (g) => {
  x87Check(g);
  const cpu = g.cpu;
  g.argFromAddr(HELPER_ARG0, false, 10);
  g.callHelper(() => {
    const a = cpu.st.get64(HELPER_ARG0);
    let v = 0;
    for (let i = 8; i >= 0; i--) {
      const b = Number(cpu.readLin(a + BigInt(i), 1));
      v = v * 100 + (b >> 4) * 10 + (b & 15);
    }
    const sign = Number(cpu.readLin(a + 9n, 1)) & 0x80;
    fpuPush(cpu, sign ? -v : v);
  });
});

/** FBSTP: ST(0) rounded by RC; |value| ≥ 10^18 or NaN stores the BCD indefinite with IE. */
def(M.Fbstp, (g) => {
  x87Check(g);
  const cpu = g.cpu;
  g.argFromAddr(HELPER_ARG0, true, 10);
  g.callHelper(() => {
    const a = cpu.st.get64(HELPER_ARG0);
    if (stEmpty(cpu, 0)) stackUnderflow(cpu, 0);
    const x = stGet(cpu, 0);
    const rc = (cpu.st.get32(FPU_CW) >> 10) & 3;
    const r = rc === 0 ? x - Math.floor(x) === 0.5 ? (Math.floor(x) % 2 === 0 ? Math.floor(x) : Math.ceil(x)) : Math.round(x) : rc === 1 ? Math.floor(x) : rc === 2 ? Math.ceil(x) : Math.trunc(x);
    const bytes = new Array<number>(10).fill(0);
    if (!(Math.abs(r) < 1e18)) {
      x87Signal(cpu, SW_IE);
      bytes[7] = 0xc0; bytes[8] = 0xff; bytes[9] = 0xff;
    } else {
      let v = BigInt(Math.abs(r));
      for (let i = 0; i < 9; i++) { const lo = Number(v % 10n); v /= 10n; const hi = Number(v % 10n); v /= 10n; bytes[i] = (hi << 4) | lo; }
      bytes[9] = r < 0 || Object.is(r, -0) ? 0x80 : 0;
    }
    for (let i = 0; i < 10; i++) cpu.writeLin(a + BigInt(i), 1, BigInt(bytes[i]));
    fpuPop(cpu);
  });
});

// Wait-prefixed forms (only produced by decoders that fuse WAIT with the next instruction): the
// same semantics after the FWAIT checks.
for (const [w, nw] of [[M.Fstenv, M.Fnstenv], [M.Fstcw, M.Fnstcw], [M.Fclex, M.Fnclex], [M.Finit, M.Fninit], [M.Fsave, M.Fnsave], [M.Fstsw, M.Fnstsw], [M.Feni, M.Fneni], [M.Fdisi, M.Fndisi], [M.Fsetpm, M.Fnsetpm]]) {
  const base = SEM[nw]!;
  def(w, (g) => { fwaitCheck(g); base(g); });
}
