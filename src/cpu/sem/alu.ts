// Integer arithmetic, logic, shifts, rotates, multiply/divide, bit operations, moves and conversions.
import { Mnemonic, OpKind, Register } from '../iced.js';
import { def } from './table.js';
import { Gen, maskOf } from './gen.js';
import { FK } from '../flags.js';
import { CF, ZF, OF, SF, PF, AF, ARITH } from '../flags.js';
import { RET64, RFLAGS } from '../state-layout.js';

const M = Mnemonic;

function maskTo(g: Gen, bytes: number): void {
  if (bytes === 4) g.f.zext32();
  else if (bytes < 8) { maskOf(g.f, bytes); g.f.i64And(); }
}

function signExtend(g: Gen, bytes: number): void {
  if (bytes === 1) g.f.i64Extend8S();
  else if (bytes === 2) g.f.i64Extend16S();
  else if (bytes === 4) g.f.i64Extend32S();
}

type BinOp = 'add' | 'adc' | 'sub' | 'sbb' | 'and' | 'or' | 'xor';
const KIND: Record<BinOp, FK> = { add: FK.ADD, adc: FK.ADC, sub: FK.SUB, sbb: FK.SBB, and: FK.LOGIC, or: FK.LOGIC, xor: FK.LOGIC };

/** 32-bit ADD/SUB/AND/OR/XOR/CMP/TEST in i32 (see Gen.readOp32); the lazy flags get the operands zero-extended. */
function binary32(g: Gen, op: BinOp, writeBack: boolean): void {
  const f = g.f;
  const a32 = g.tmp32(), b32 = g.tmp32(), r = g.tmp64();
  g.readOp32(0); f.set(a32);
  g.readOp32(1); f.set(b32);
  f.get(a32).get(b32);
  switch (op) {
    case 'add': f.i32Add(); break;
    case 'sub': f.i32Sub(); break;
    case 'and': f.i32And(); break;
    case 'or': f.i32Or(); break;
    default: f.i32Xor(); break;
  }
  f.i64ExtendI32U().set(r);
  if (writeBack) g.writeOp(0, r, 4);
  if (!g.flagsLive) { g.setFlags(KIND[op], 4, r, r, r); return; }
  const a = g.tmp64(), b = g.tmp64();
  f.get(a32).i64ExtendI32U().set(a);
  f.get(b32).i64ExtendI32U().set(b);
  g.setFlags(KIND[op], 4, r, a, b);
}

function binary(op: BinOp, writeBack: boolean) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    if (n === 4 && op !== 'adc' && op !== 'sbb') { binary32(g, op, writeBack); return; }
    const a = g.tmp64(), b = g.tmp64(), r = g.tmp64();
    let c = -1;
    g.readOp(0, n); f.set(a);
    g.readOp(1, n); f.set(b);
    if (op === 'adc' || op === 'sbb') { c = g.tmp64(); g.carryI64(); f.set(c); }
    f.get(a).get(b);
    switch (op) {
      case 'add': f.i64Add(); break;
      case 'sub': f.i64Sub(); break;
      case 'adc': f.i64Add().get(c).i64Add(); break;
      case 'sbb': f.i64Sub().get(c).i64Sub(); break;
      case 'and': f.i64And(); break;
      case 'or': f.i64Or(); break;
      case 'xor': f.i64Xor(); break;
    }
    maskTo(g, n);
    f.set(r);
    if (writeBack) g.writeOp(0, r, n);
    g.setFlags(KIND[op], n, r, a, b, c >= 0 ? c : undefined);
  };
}

def(M.Add, binary('add', true));
def(M.Adc, binary('adc', true));
def(M.Sub, binary('sub', true));
def(M.Sbb, binary('sbb', true));
def(M.And, binary('and', true));
def(M.Or, binary('or', true));
def(M.Xor, binary('xor', true));
def(M.Cmp, binary('sub', false));
def(M.Test, binary('and', false));

function incdec(dec: boolean) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const a = g.tmp64(), r = g.tmp64(), one = g.tmp64(), c = g.tmp64();
    if (g.flagsLive) { g.carryI64(); f.set(c); }
    g.readOp(0, n); f.tee(a).i64(1, 0);
    if (dec) f.i64Sub(); else f.i64Add();
    maskTo(g, n);
    f.set(r);
    g.writeOp(0, r, n);
    f.i64(1, 0).set(one);
    g.setFlags(dec ? FK.DEC : FK.INC, n, r, a, one, c);
  };
}
def(M.Inc, incdec(false));
def(M.Dec, incdec(true));

def(M.Neg, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const a = g.tmp64(), b = g.tmp64(), r = g.tmp64();
  g.readOp(0, n); f.set(b);
  f.i64(0, 0).set(a);
  f.i64(0, 0).get(b).i64Sub();
  maskTo(g, n);
  f.set(r);
  g.writeOp(0, r, n);
  g.setFlags(FK.SUB, n, r, a, b);
});

def(M.Not, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const r = g.tmp64();
  g.readOp(0, n); f.i64(-1, -1).i64Xor();
  maskTo(g, n);
  f.set(r);
  g.writeOp(0, r, n);
});

// ---- shifts and rotates ---------------------------------------------------------------------

/** A zero shift count changes nothing, except that a 32-bit register destination is zero-extended. */
function zeroCountWrite(g: Gen, n: number): void {
  if (n !== 4 || !g.isReg(0)) return;
  const t = g.tmp64();
  g.readOp(0, 4); g.f.set(t);
  g.writeOp(0, t, 4);
}

/** Push the masked shift count (i64) of operand 1 (or 1 for the implicit form). */
function shiftCount(g: Gen, n: number): { constant: number | null } {
  const f = g.f;
  const d = g.insn;
  const cmask = n === 8 ? 63 : 31;
  if (d.opCount < 2) { f.i64(1, 0); return { constant: 1 }; }
  const k = d.opKind[1];
  if (k === OpKind.Immediate8) {
    const v = Number(d.imm[1]) & cmask;
    f.i64(v, 0);
    return { constant: v };
  }
  g.readOp(1, 1);
  f.i64(cmask, 0).i64And();
  return { constant: null };
}

function shift(kind: FK.SHL | FK.SHR | FK.SAR) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const a = g.tmp64(), cnt = g.tmp64(), r = g.tmp64();
    const { constant } = shiftCount(g, n);
    f.set(cnt);
    if (constant === 0) { zeroCountWrite(g, n); return; }
    if (constant === null) { f.get(cnt).i64Eqz().if_(); zeroCountWrite(g, n); f.else_(); }
    if (n === 4) {
      // in i32 (see Gen.readOp32): the count is already below 32
      const a32 = g.tmp32();
      g.readOp32(0); f.tee(a32).get(cnt).i32WrapI64();
      if (kind === FK.SHL) f.i32Shl(); else if (kind === FK.SHR) f.i32ShrU(); else f.i32ShrS();
      f.i64ExtendI32U();
      if (g.flagsLive) f.get(a32).i64ExtendI32U().set(a);
    } else {
      g.readOp(0, n); f.set(a);
      if (kind === FK.SHL) { f.get(a).get(cnt).i64Shl(); maskTo(g, n); }
      else if (kind === FK.SHR) { f.get(a).get(cnt).i64ShrU(); }
      else { f.get(a); signExtend(g, n); f.get(cnt).i64ShrS(); maskTo(g, n); }
    }
    f.set(r);
    g.writeOp(0, r, n);
    g.setFlags(kind, n, r, a, cnt);
    if (constant === null) { f.end(); g.lazyKind = -1; }
  };
}
def([M.Shl, M.Sal], shift(FK.SHL));
def(M.Shr, shift(FK.SHR));
def(M.Sar, shift(FK.SAR));

/** SHLD/SHRD: double-precision shifts. */
function shiftDouble(left: boolean) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const w = n * 8;
    const a = g.tmp64(), b = g.tmp64(), cnt = g.tmp64(), r = g.tmp64();
    const d = g.insn;
    const cmask = n === 8 ? 63 : 31;
    if (d.opKind[2] === OpKind.Immediate8) f.i64(Number(d.imm[2]) & cmask, 0);
    else { g.getReg(Register.CL); f.i64(cmask, 0).i64And(); }
    f.tee(cnt).i64Eqz().if_();
    zeroCountWrite(g, n);
    f.else_();
    g.readOp(0, n); f.set(a);
    g.readOp(1, n); f.set(b);
    if (n === 2) {
      // 16-bit: shift the 32-bit concatenation (counts above 16 give Intel's undefined-but-deterministic result)
      if (left) {
        f.get(a).i64(16, 0).i64Shl().get(b).i64Or().get(cnt).i64Shl().i64(16, 0).i64ShrU();
      } else {
        f.get(b).i64(16, 0).i64Shl().get(a).i64Or().get(cnt).i64ShrU();
      }
    } else if (left) {
      f.get(a).get(cnt).i64Shl().get(b).i64(w, 0).get(cnt).i64Sub().i64ShrU();
      f.i64Or();
    } else {
      f.get(a).get(cnt).i64ShrU().get(b).i64(w, 0).get(cnt).i64Sub().i64Shl();
      f.i64Or();
    }
    // when count == w (only possible for... never: counts are < w for 32/64), (w - cnt) shifts are in range
    maskTo(g, n);
    f.set(r);
    g.writeOp(0, r, n);
    g.setFlags(left ? FK.SHL : FK.SHRD, n, r, a, cnt);
    f.end();
    g.lazyKind = -1;
  };
}
def(M.Shld, shiftDouble(true));
def(M.Shrd, shiftDouble(false));

function rotate(left: boolean, throughCarry: boolean) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const w = n * 8;
    const a = g.tmp64(), cnt = g.tmp64(), r = g.tmp64(), c = g.tmp64(), cf = g.tmp32(), of = g.tmp32();
    const { constant } = shiftCount(g, n);
    f.set(cnt);
    if (constant === 0) { zeroCountWrite(g, n); return; }
    if (constant === null) { f.get(cnt).i64Eqz().if_(); zeroCountWrite(g, n); f.else_(); }
    const a32 = n === 4 && !throughCarry ? g.tmp32() : -1;
    if (a32 >= 0) { g.readOp32(0); f.set(a32); }
    else { g.readOp(0, n); f.set(a); }
    g.materializeFlags();
    if (!throughCarry) {
      if (n === 8) {
        f.get(a).get(cnt);
        if (left) f.i64Rotl(); else f.i64Rotr();
      } else if (n === 4) {
        // the count is already below 32: a 32-bit rotate is exact
        f.get(a32).get(cnt).i32WrapI64();
        if (left) f.i32Rotl(); else f.i32Rotr();
        f.i64ExtendI32U();
      } else {
        // rotate within w bits by cnt mod w
        f.get(cnt).i64(w, 0).i64RemU().set(c);
        if (left) f.get(a).get(c).i64Shl().get(a).i64(w, 0).get(c).i64Sub().i64ShrU().i64Or();
        else f.get(a).get(c).i64ShrU().get(a).i64(w, 0).get(c).i64Sub().i64Shl().i64Or();
        maskTo(g, n);
      }
      f.set(r);
      if (!g.flagsLive) {
        // dead CF/OF (see EAGER in src/jit/liveness.ts): nothing to compute
        g.writeOp(0, r, n);
        if (constant === null) f.end();
        return;
      }
      if (left) {
        f.get(r).i32WrapI64().i32(1).i32And().set(cf);
        f.get(r).i64(w - 1, 0).i64ShrU().i32WrapI64().i32(1).i32And().get(cf).i32Xor().set(of);
      } else {
        f.get(r).i64(w - 1, 0).i64ShrU().i32WrapI64().i32(1).i32And().set(cf);
        f.get(r).i64(w - 2, 0).i64ShrU().i32WrapI64().i32(1).i32And().get(cf).i32Xor().set(of);
      }
    } else {
      // one bit at a time through CF; the count is reduced modulo w+1 for 8/16-bit operands
      if (n < 4) f.get(cnt).i64(w + 1, 0).i64RemU().set(cnt);
      f.i32(0).i32Load(RFLAGS).i32(1).i32And().set(cf);
      f.get(a).set(r);
      f.block().loop();
      f.get(cnt).i64Eqz().brIf(1);
      if (left) {
        f.get(r).i64(w - 1, 0).i64ShrU().i32WrapI64().i32(1).i32And(); // new CF
        f.get(r).i64(1, 0).i64Shl().get(cf).i64ExtendI32U().i64Or();
        maskTo(g, n);
        f.set(r).set(cf);
      } else {
        f.get(r).i32WrapI64().i32(1).i32And();
        f.get(r).i64(1, 0).i64ShrU().get(cf).i64ExtendI32U().i64(w - 1, 0).i64Shl().i64Or();
        f.set(r).set(cf);
      }
      f.get(cnt).i64(1, 0).i64Sub().set(cnt);
      f.br(0).end().end();
      if (left) f.get(r).i64(w - 1, 0).i64ShrU().i32WrapI64().i32(1).i32And().get(cf).i32Xor().set(of);
      else f.get(r).i64(w - 1, 0).i64ShrU().get(r).i64(w - 2, 0).i64ShrU().i64Xor().i32WrapI64().i32(1).i32And().set(of);
    }
    g.writeOp(0, r, n);
    f.get(cf).get(of).i32(11).i32Shl().i32Or();
    g.writeFlagBits(CF | OF);
    if (constant === null) f.end();
    if (g.flagsLive) g.lazyKind = FK.NONE;
  };
}
def(M.Rol, rotate(true, false));
def(M.Ror, rotate(false, false));
def(M.Rcl, rotate(true, true));
def(M.Rcr, rotate(false, true));

// ---- multiply and divide --------------------------------------------------------------------

const ACC = [Register.AL, Register.AX, Register.EAX, Register.RAX];
const HI = [Register.AH, Register.DX, Register.EDX, Register.RDX];
const lg = (n: number) => (n === 1 ? 0 : n === 2 ? 1 : n === 4 ? 2 : 3);

def([M.Mul, M.Imul], (g) => {
  const f = g.f;
  const d = g.insn;
  const signed = d.mnemonic === M.Imul;
  if (d.opCount === 1) {
    const n = g.opBytes(0);
    const a = g.tmp64(), b = g.tmp64(), lo = g.tmp64(), hi = g.tmp64(), ovf = g.tmp64();
    g.getReg(ACC[lg(n)]); if (signed) signExtend(g, n); f.set(a);
    g.readOp(0, n); if (signed) signExtend(g, n); f.set(b);
    if (n === 8) {
      f.get(a).get(b).i32(signed ? 1 : 0).callTable(g.rt.mul128).set(lo);
      f.i32(0).i64Load(RET64).set(hi);
      if (signed) f.get(hi).get(lo).i64(63, 0).i64ShrS().i64Ne();
      else f.get(hi).i64(0, 0).i64Ne();
      f.i64ExtendI32U().set(ovf);
    } else {
      const w = n * 8;
      f.get(a).get(b).i64Mul().set(lo); // full product fits in 64 bits
      if (signed) { f.get(lo); signExtend(g, n); f.get(lo).i64Ne(); }
      else f.get(lo).i64(w, 0).i64ShrU().i64(0, 0).i64Ne();
      f.i64ExtendI32U().set(ovf);
      f.get(lo).i64(w, 0).i64ShrU().set(hi);
    }
    if (n === 1) {
      // AX = product
      f.get(lo).i64(0xffff, 0).i64And().set(lo);
      g.setRegFrom(Register.AX, lo);
    } else {
      f.get(lo); maskTo(g, n); f.set(lo);
      f.get(hi); maskTo(g, n); f.set(hi);
      g.setRegFrom(ACC[lg(n)], lo);
      g.setRegFrom(HI[lg(n)], hi);
    }
    g.setFlags(FK.MUL, n, lo, a, b, ovf);
    return;
  }
  // two/three-operand IMUL: dst = src1 * src2 truncated
  const n = g.opBytes(0);
  const a = g.tmp64(), b = g.tmp64(), r = g.tmp64(), ovf = g.tmp64();
  if (d.opCount === 3) { g.readOp(1, n); signExtend(g, n); f.set(a); g.readOp(2, n); signExtend(g, n); f.set(b); }
  else { g.readOp(0, n); signExtend(g, n); f.set(a); g.readOp(1, n); signExtend(g, n); f.set(b); }
  if (n === 8 && !g.flagsLive) {
    // the flags (the only use of the high half) are dead: a plain 64-bit multiply
    f.get(a).get(b).i64Mul().set(r);
  } else if (n === 8) {
    f.get(a).get(b).i32(1).callTable(g.rt.mul128).set(r);
    f.i32(0).i64Load(RET64).get(r).i64(63, 0).i64ShrS().i64Ne().i64ExtendI32U().set(ovf);
  } else {
    f.get(a).get(b).i64Mul().set(r);
    f.get(r); signExtend(g, n); f.get(r).i64Ne().i64ExtendI32U().set(ovf);
    f.get(r); maskTo(g, n); f.set(r);
  }
  g.writeOp(0, r, n);
  g.setFlags(FK.MUL, n, r, a, b, ovf);
});

def([M.Div, M.Idiv], (g) => {
  const f = g.f;
  const signed = g.insn.mnemonic === M.Idiv;
  const n = g.opBytes(0);
  const dv = g.tmp64(), q = g.tmp64(), r = g.tmp64();
  g.syncRip();
  g.readOp(0, n); if (signed) signExtend(g, n); f.set(dv);
  if (n === 8) {
    g.getReg(Register.RDX); g.getReg(Register.RAX);
  } else {
    f.i64(0, 0);
    if (n === 1) g.getReg(Register.AX);
    else { g.getReg(HI[lg(n)]); f.i64(n * 8, 0).i64Shl(); g.getReg(ACC[lg(n)]); f.i64Or(); }
    if (signed) signExtend(g, n * 2);
  }
  f.get(dv).i32(signed ? 1 : 0).i32(n).callTable(g.rt.div128).set(q);
  f.i32(0).i64Load(RET64).set(r);
  if (n === 1) {
    f.get(q).i64(0xff, 0).i64And().get(r).i64(0xff, 0).i64And().i64(8, 0).i64Shl().i64Or().set(q);
    g.setRegFrom(Register.AX, q);
  } else {
    f.get(q); maskTo(g, n); f.set(q);
    f.get(r); maskTo(g, n); f.set(r);
    g.setRegFrom(ACC[lg(n)], q);
    g.setRegFrom(HI[lg(n)], r);
  }
});

// ---- bit operations -------------------------------------------------------------------------

function bitTest(op: 'bt' | 'bts' | 'btr' | 'btc') {
  return (g: Gen) => {
    const f = g.f;
    const d = g.insn;
    const n = g.opBytes(0);
    const w = n * 8;
    const off = g.tmp64(), v = g.tmp64(), bit = g.tmp64(), r = g.tmp64();
    let addr = -1;
    if (d.opKind[1] === OpKind.Register && g.isMem(0)) {
      // register bit offset addresses memory beyond the operand: signed offset / w selects the word
      g.readOp(1, n); signExtend(g, n); f.set(off);
      g.effectiveAddress();
      f.get(off).i64(Math.log2(w), 0).i64ShrS().i64(Math.log2(n), 0).i64Shl().i64Add();
      if (d.addrSize === 4) f.zext32(); else if (d.addrSize === 2) f.i64(0xffff, 0).i64And();
      addr = g.linearizeTo(g.segIndex(d.memSeg), n, op !== 'bt');
      g.load(addr, n); f.set(v);
    } else {
      g.readOp(1, n); f.set(off);
      g.readOp(0, n); f.set(v);
    }
    f.get(off).i64(w - 1, 0).i64And().set(bit);
    if (op !== 'bt') {
      f.get(v).i64(1, 0).get(bit).i64Shl();
      if (op === 'bts') f.i64Or();
      else if (op === 'btc') f.i64Xor();
      else { f.i64(-1, -1).i64Xor().i64And(); }
      f.set(r);
      if (addr >= 0) g.store(addr, n, r); else g.writeOp(0, r, n);
    }
    g.materializeFlags();
    f.get(v).get(bit).i64ShrU().i32WrapI64().i32(1).i32And();
    g.writeFlagBits(CF);
  };
}
def(M.Bt, bitTest('bt'));
def(M.Bts, bitTest('bts'));
def(M.Btr, bitTest('btr'));
def(M.Btc, bitTest('btc'));

function bitScan(kind: 'bsf' | 'bsr' | 'tzcnt' | 'lzcnt' | 'popcnt') {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const w = n * 8;
    const s = g.tmp64(), r = g.tmp64();
    g.readOp(1, n); f.set(s);
    g.materializeFlags();
    switch (kind) {
      case 'bsf':
      case 'bsr':
        f.get(s).i64Eqz().if_();
        f.i32(ZF); g.writeFlagBits(ZF);
        f.else_();
        if (kind === 'bsf') f.get(s).i64Ctz(); else f.i64(63, 0).get(s).i64Clz().i64Sub();
        f.set(r);
        g.writeOp(0, r, n);
        f.i32(0); g.writeFlagBits(ZF);
        f.end();
        return;
      case 'tzcnt':
      case 'lzcnt':
        if (kind === 'tzcnt') { f.i64(w, 0); f.get(s).i64Ctz(); f.get(s).i64Eqz(); f.select(); }
        else { f.get(s).i64Clz().i64(64 - w, 0).i64Sub(); }
        f.set(r);
        g.writeOp(0, r, n);
        f.get(s).i64Eqz().get(r).i64Eqz().i32(6).i32Shl().i32Or();
        g.writeFlagBits(CF | ZF);
        return;
      case 'popcnt':
        f.get(s).i64Popcnt().set(r);
        g.writeOp(0, r, n);
        f.get(s).i64Eqz().i32(6).i32Shl();
        g.writeFlagBits(ARITH);
        return;
    }
  };
}
def(M.Bsf, bitScan('bsf'));
def(M.Bsr, bitScan('bsr'));
def(M.Tzcnt, bitScan('tzcnt'));
def(M.Lzcnt, bitScan('lzcnt'));
def(M.Popcnt, bitScan('popcnt'));

def(M.Bswap, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const v = g.tmp64(), r = g.tmp64();
  g.readOp(0, n); f.set(v);
  if (n === 2) { f.i64(0, 0).set(r); g.writeOp(0, r, n); return; } // undefined: Intel and AMD give 0
  f.i64(0, 0).set(r);
  for (let i = 0; i < n; i++) {
    f.get(r).get(v).i64(i * 8, 0).i64ShrU().i64(0xff, 0).i64And().i64((n - 1 - i) * 8, 0).i64Shl().i64Or().set(r);
  }
  g.writeOp(0, r, n);
});

// ---- data movement --------------------------------------------------------------------------

def(M.Mov, (g) => {
  const f = g.f;
  const n = g.opBytes(0) || g.opBytes(1);
  const v = g.tmp64();
  g.readOp(1, n); f.set(v);
  g.writeOp(0, v, n);
});

def([M.Movzx, M.Movsx, M.Movsxd], (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const sn = g.opBytes(1);
  const v = g.tmp64();
  g.readOp(1, sn);
  if (g.insn.mnemonic !== M.Movzx) { signExtend(g, sn); maskTo(g, n); }
  f.set(v);
  g.writeOp(0, v, n);
});

def(M.Lea, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const v = g.tmp64();
  if (n === 4 && g.insn.addrSize !== 2) { g.effectiveAddress32(); f.i64ExtendI32U(); }
  else { g.effectiveAddress(); maskTo(g, n); }
  f.set(v);
  g.writeOp(0, v, n);
});

def(M.Xchg, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const a = g.tmp64(), b = g.tmp64();
  g.readOp(0, n); f.set(a);
  g.readOp(1, n); f.set(b);
  // memory first so a fault leaves registers untouched
  if (g.isMem(1)) { g.writeOp(1, a, n); g.writeOp(0, b, n); }
  else { g.writeOp(0, b, n); g.writeOp(1, a, n); }
});

def(M.Xadd, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const a = g.tmp64(), b = g.tmp64(), r = g.tmp64();
  g.readOp(0, n); f.set(a);
  g.readOp(1, n); f.set(b);
  f.get(a).get(b).i64Add(); maskTo(g, n); f.set(r);
  // SRC := DEST, then DEST := sum (so `xadd r, r` leaves the sum); memory first for precise faults
  if (g.isMem(0)) { g.writeOp(0, r, n); g.writeOp(1, a, n); }
  else { g.writeOp(1, a, n); g.writeOp(0, r, n); }
  g.setFlags(FK.ADD, n, r, a, b);
});

def(M.Cmpxchg, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const acc = g.tmp64(), dst = g.tmp64(), src = g.tmp64(), r = g.tmp64();
  g.getReg(ACC[lg(n)]); f.set(acc);
  g.readOp(0, n); f.set(dst);
  g.readOp(1, n); f.set(src);
  f.get(acc).get(dst).i64Sub(); maskTo(g, n); f.set(r);
  f.get(acc).get(dst).i64Eq().if_();
  g.writeOp(0, src, n);
  f.else_();
  // memory is written back unchanged (a locked RMW cycle); a register destination is untouched
  if (g.isMem(0)) g.writeOp(0, dst, n);
  g.setRegFrom(ACC[lg(n)], dst);
  f.end();
  g.setFlags(FK.SUB, n, r, acc, dst);
});

def([M.Cmpxchg8b, M.Cmpxchg16b], (g) => {
  const f = g.f;
  const wide = g.insn.mnemonic === M.Cmpxchg16b;
  const n = wide ? 8 : 4;
  const lo = g.tmp64(), hi = g.tmp64(), addr = g.memLinear(true, n * 2), addr2 = g.tmp64();
  if (wide) {
    f.get(addr).i64(15, 0).i64And().i64Eqz().i32Eqz().if_(); g.raise(13, 0); f.end();
  }
  f.get(addr).i64(n, 0).i64Add().set(addr2);
  g.load(addr, n); f.set(lo);
  g.load(addr2, n); f.set(hi);
  const [rax, rdx, rbx, rcx] = wide ? [Register.RAX, Register.RDX, Register.RBX, Register.RCX] : [Register.EAX, Register.EDX, Register.EBX, Register.ECX];
  g.getReg(rax); f.get(lo).i64Eq();
  g.getReg(rdx); f.get(hi).i64Eq();
  f.i32And();
  const eq = g.tmp32();
  f.tee(eq).if_();
  const t = g.tmp64();
  g.getReg(rbx); f.set(t); g.store(addr, n, t);
  g.getReg(rcx); f.set(t); g.store(addr2, n, t);
  f.else_();
  g.store(addr, n, lo); g.store(addr2, n, hi);
  g.setRegFrom(rax, lo);
  g.setRegFrom(rdx, hi);
  f.end();
  g.materializeFlags();
  f.get(eq).i32(6).i32Shl();
  g.writeFlagBits(ZF);
});


// SETcc / CMOVcc / Jcc mnemonics map to condition codes 0-15 (O NO B AE E NE BE A S NS P NP L GE LE G).
export const SETCC = [M.Seto, M.Setno, M.Setb, M.Setae, M.Sete, M.Setne, M.Setbe, M.Seta, M.Sets, M.Setns, M.Setp, M.Setnp, M.Setl, M.Setge, M.Setle, M.Setg];
export const CMOVCC = [M.Cmovo, M.Cmovno, M.Cmovb, M.Cmovae, M.Cmove, M.Cmovne, M.Cmovbe, M.Cmova, M.Cmovs, M.Cmovns, M.Cmovp, M.Cmovnp, M.Cmovl, M.Cmovge, M.Cmovle, M.Cmovg];

SETCC.forEach((m, cc) => def(m, (g) => {
  const v = g.tmp64();
  g.cond(cc);
  g.f.i64ExtendI32U().set(v);
  g.writeOp(0, v, 1);
}));

CMOVCC.forEach((m, cc) => def(m, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const s = g.tmp64(), dst = g.tmp64();
  g.readOp(1, n); f.set(s); // the source is read (and may fault) whatever the condition
  g.readOp(0, n); f.set(dst);
  f.get(s).get(dst);
  g.cond(cc);
  f.select().set(dst);
  g.writeOp(0, dst, n); // 32-bit forms zero-extend even when the condition is false
}));

// ---- conversions ----------------------------------------------------------------------------

function extendAcc(from: number, to: number) {
  return (g: Gen) => {
    const v = g.tmp64();
    g.getReg(ACC[lg(from)]); signExtend(g, from); maskTo(g, to); g.f.set(v);
    g.setRegFrom(ACC[lg(to)], v);
  };
}
def(M.Cbw, extendAcc(1, 2));
def(M.Cwde, extendAcc(2, 4));
def(M.Cdqe, extendAcc(4, 8));

function signToDx(n: number) {
  return (g: Gen) => {
    const v = g.tmp64();
    g.getReg(ACC[lg(n)]); signExtend(g, n); g.f.i64(63, 0).i64ShrS(); maskTo(g, n); g.f.set(v);
    g.setRegFrom(HI[lg(n)], v);
  };
}
def(M.Cwd, signToDx(2));
def(M.Cdq, signToDx(4));
def(M.Cqo, signToDx(8));

// ---- flag instructions ----------------------------------------------------------------------

def(M.Clc, (g) => { g.materializeFlags(); g.f.i32(0); g.writeFlagBits(CF); });
def(M.Stc, (g) => { g.materializeFlags(); g.f.i32(CF); g.writeFlagBits(CF); });
def(M.Cmc, (g) => { g.materializeFlags(); g.f.i32(0).i32Load(RFLAGS).i32(CF).i32Xor(); g.writeFlagBits(CF); });
def(M.Cld, (g) => { g.f.i32(0); g.writeFlagBits(1 << 10); });
def(M.Std, (g) => { g.f.i32(1 << 10); g.writeFlagBits(1 << 10); });

def(M.Lahf, (g) => {
  const v = g.tmp64();
  g.f.callTable(g.rt.flagsGet).i32(SF | ZF | AF | PF | CF).i32And().i32(2).i32Or().i64ExtendI32U().set(v);
  g.setRegFrom(Register.AH, v);
});
def(M.Sahf, (g) => {
  g.materializeFlags();
  g.getReg(Register.AH); g.f.i32WrapI64();
  g.writeFlagBits(SF | ZF | AF | PF | CF);
});

def(M.Xlatb, (g) => {
  const f = g.f;
  const d = g.insn;
  const v = g.tmp64();
  g.getGprWidth(3, d.addrSize); g.getReg(Register.AL); f.i64Add();
  if (d.addrSize === 4) f.zext32(); else if (d.addrSize === 2) f.i64(0xffff, 0).i64And();
  const a = g.linearizeTo(g.segIndex(d.memSeg), 1, false);
  g.load(a, 1); f.set(v);
  g.setRegFrom(Register.AL, v);
});

def([M.Nop, M.Reservednop, M.Prefetch, M.Pause, M.Endbr64, M.Endbr32, M.Lfence, M.Mfence, M.Sfence, M.Prefetchnta, M.Prefetcht0, M.Prefetcht1, M.Prefetcht2, M.Prefetchw, M.Clflush, M.Clflushopt], () => {});
// SERIALIZE: code writes already invalidate their translations, and nothing here executes out of order
def(M.Serialize, () => {});

def(M.Movbe, (g) => {
  const f = g.f;
  const n = g.opBytes(0);
  const v = g.tmp64(), r = g.tmp64();
  g.readOp(1, n); f.set(v);
  f.i64(0, 0).set(r);
  for (let i = 0; i < n; i++) f.get(r).get(v).i64(i * 8, 0).i64ShrU().i64(0xff, 0).i64And().i64((n - 1 - i) * 8, 0).i64Shl().i64Or().set(r);
  g.writeOp(0, r, n);
});


/** ADCX / ADOX: add with carry through CF (resp. OF) only; no other flag changes. */
function addCarryFlag(flagBit: number) {
  return (g: Gen) => {
    const f = g.f;
    const n = g.opBytes(0);
    const a = g.tmp64(), b = g.tmp64(), c = g.tmp64(), r = g.tmp64(), co = g.tmp32();
    g.readOp(0, n); f.set(a);
    g.readOp(1, n); f.set(b);
    g.materializeFlags();
    f.i32(0).i32Load(RFLAGS).i32(flagBit === CF ? 0 : 11).i32ShrU().i32(1).i32And().i64ExtendI32U().set(c);
    f.get(a).get(b).i64Add().get(c).i64Add();
    maskTo(g, n);
    f.set(r);
    // carry out: (r < a) || (c && r == a), on masked values
    f.get(r).get(a).i64LtU().get(c).i32WrapI64().get(r).get(a).i64Eq().i32And().i32Or().set(co);
    g.writeOp(0, r, n);
    f.get(co);
    if (flagBit !== CF) f.i32(11).i32Shl();
    g.writeFlagBits(flagBit);
  };
}
def(M.Adcx, addCarryFlag(CF));
def(M.Adox, addCarryFlag(OF));
