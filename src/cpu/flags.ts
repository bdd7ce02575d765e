// Lazy arithmetic flags. A flag-writing instruction stores its operation kind and operands
// (FLAG_OP/RES/A/B/AUX); flags are computed only when read. Inside a block the translator knows
// the last operation statically and computes just the needed condition; elsewhere the generic
// materializer (runtime module) folds the lazy state into RFLAGS.
import { FnBody, T, type TableFn } from '../jit/wasm/encoder.js';
import { FLAG_OP, FLAG_RES, FLAG_A, FLAG_B, FLAG_AUX, RFLAGS } from './state-layout.js';

export const enum FK { NONE = 0, ADD = 1, ADC = 2, SUB = 3, SBB = 4, LOGIC = 5, INC = 6, DEC = 7, SHL = 8, SHR = 9, SAR = 10, MUL = 11, SHRD = 12 }

export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9, DF = 1 << 10, OF = 1 << 11;
export const IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
export const ARITH = CF | PF | AF | ZF | SF | OF;

export const sizeLog = (bytes: number): number => (bytes === 1 ? 0 : bytes === 2 ? 1 : bytes === 4 ? 2 : 3);
export const flagOp = (kind: FK, bytes: number): number => (kind << 2) | sizeLog(bytes);

/** Mask and sign bit of a width as (lo, hi) i64 constants. */
function maskConst(f: FnBody, bytes: number): void {
  if (bytes === 8) f.i64(-1, -1);
  else f.i64(bytes === 4 ? 0xffffffff : (1 << (bytes * 8)) - 1, 0);
}
function signConst(f: FnBody, bytes: number): void {
  if (bytes === 8) f.i64(0, 0x80000000 | 0);
  else f.i64(bytes === 4 ? 0x80000000 | 0 : 1 << (bytes * 8 - 1), 0);
}

const ld = (f: FnBody, off: number): FnBody => f.i32(0).i64Load(off);
function ldMasked(f: FnBody, off: number, bytes: number): void {
  ld(f, off);
  if (bytes !== 8) { maskConst(f, bytes); f.i64And(); }
}
/** Load a field sign-extended from its width to i64. */
function ldSigned(f: FnBody, off: number, bytes: number): void {
  ld(f, off);
  if (bytes === 1) f.i64Extend8S();
  else if (bytes === 2) f.i64Extend16S();
  else if (bytes === 4) f.i64Extend32S();
}

/** Push i32 (0/1): one arithmetic flag computed from lazy state whose kind/width are known at translation time. */
export function emitFlag(f: FnBody, flag: number, kind: FK, bytes: number): void {
  switch (flag) {
    case ZF:
      ldMasked(f, FLAG_RES, bytes); f.i64Eqz();
      return;
    case SF:
      ld(f, FLAG_RES); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
      return;
    case PF:
      ld(f, FLAG_RES); f.i64(0xff, 0); f.i64And(); f.i64Popcnt(); f.i32WrapI64(); f.i32(1); f.i32And(); f.i32Eqz();
      return;
    case AF:
      if (kind === FK.LOGIC || kind === FK.SHL || kind === FK.SHR || kind === FK.SAR || kind === FK.MUL || kind === FK.SHRD) { f.i32(0); return; }
      ld(f, FLAG_A); ld(f, FLAG_B); f.i64Xor(); ld(f, FLAG_RES); f.i64Xor(); f.i64(4, 0); f.i64ShrU(); f.i32WrapI64(); f.i32(1); f.i32And();
      return;
    case CF:
      switch (kind) {
        case FK.ADD: ldMasked(f, FLAG_RES, bytes); ldMasked(f, FLAG_A, bytes); f.i64LtU(); return;
        case FK.SUB: ldMasked(f, FLAG_A, bytes); ldMasked(f, FLAG_B, bytes); f.i64LtU(); return;
        case FK.ADC:
          ldMasked(f, FLAG_RES, bytes); ldMasked(f, FLAG_A, bytes); f.i64LeU();
          ldMasked(f, FLAG_RES, bytes); ldMasked(f, FLAG_A, bytes); f.i64LtU();
          ld(f, FLAG_AUX); f.i32WrapI64(); f.select();
          return;
        case FK.SBB:
          ldMasked(f, FLAG_A, bytes); ldMasked(f, FLAG_B, bytes); f.i64LeU();
          ldMasked(f, FLAG_A, bytes); ldMasked(f, FLAG_B, bytes); f.i64LtU();
          ld(f, FLAG_AUX); f.i32WrapI64(); f.select();
          return;
        case FK.LOGIC: f.i32(0); return;
        case FK.INC: case FK.DEC: ld(f, FLAG_AUX); f.i64(0, 0); f.i64Ne(); return;
        case FK.SHL:
          // CF = bit (w - count) of the source: shift left by count-1 and test the sign bit.
          ld(f, FLAG_A); ld(f, FLAG_B); f.i64(1, 0); f.i64Sub(); f.i64Shl(); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          return;
        case FK.SHR: case FK.SHRD:
          ldMasked(f, FLAG_A, bytes); ld(f, FLAG_B); f.i64(1, 0); f.i64Sub(); f.i64ShrU(); f.i32WrapI64(); f.i32(1); f.i32And();
          return;
        case FK.SAR:
          ldSigned(f, FLAG_A, bytes); ld(f, FLAG_B); f.i64(1, 0); f.i64Sub(); f.i64ShrS(); f.i32WrapI64(); f.i32(1); f.i32And();
          return;
        case FK.MUL: ld(f, FLAG_AUX); f.i64(0, 0); f.i64Ne(); return;
      }
      break;
    case OF:
      switch (kind) {
        case FK.ADD: case FK.ADC:
          ld(f, FLAG_A); ld(f, FLAG_RES); f.i64Xor(); ld(f, FLAG_B); ld(f, FLAG_RES); f.i64Xor(); f.i64And(); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          return;
        case FK.SUB: case FK.SBB:
          ld(f, FLAG_A); ld(f, FLAG_B); f.i64Xor(); ld(f, FLAG_A); ld(f, FLAG_RES); f.i64Xor(); f.i64And(); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          return;
        case FK.INC: ldMasked(f, FLAG_RES, bytes); signConst(f, bytes); f.i64Eq(); return;
        case FK.DEC: ldMasked(f, FLAG_RES, bytes); signConst(f, bytes); f.i64(1, 0); f.i64Sub(); f.i64Eq(); return;
        case FK.LOGIC: case FK.SAR: f.i32(0); return;
        case FK.SHL:
          // OF = MSB(result) xor CF
          ld(f, FLAG_RES); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          emitFlag(f, CF, kind, bytes); f.i32Xor();
          return;
        case FK.SHR:
          ld(f, FLAG_A); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          return;
        case FK.SHRD:
          // OF = sign change: MSB(result) xor MSB(original destination)
          ld(f, FLAG_RES); ld(f, FLAG_A); f.i64Xor(); signConst(f, bytes); f.i64And(); f.i64(0, 0); f.i64Ne();
          return;
        case FK.MUL: ld(f, FLAG_AUX); f.i64(0, 0); f.i64Ne(); return;
      }
      break;
  }
  throw new Error(`emitFlag: unsupported flag ${flag} for kind ${kind}`);
}

/**
 * Push i32 (0/1): condition code cc (x86 encoding 0-15: O NO B AE E NE BE A S NS P NP L GE LE G),
 * with the lazy state's kind statically known (kind !== NONE) or not (then read materialized RFLAGS
 * through `flagsGetFn`, which returns RFLAGS' low 32 bits).
 */
export function emitCond(f: FnBody, cc: number, kind: FK | -1, bytes: number, flagsGetFn: TableFn): void {
  const neg = (cc & 1) !== 0;
  const base = cc & ~1;
  if (kind === -1 || kind === FK.NONE) {
    const tmp = f.local(T.i32);
    f.callTable(flagsGetFn).set(tmp);
    const bit = (_flag: number, shift: number) => { f.get(tmp).i32(shift).i32ShrU().i32(1).i32And(); };
    switch (base) {
      case 0: bit(OF, 11); break;
      case 2: bit(CF, 0); break;
      case 4: bit(ZF, 6); break;
      case 6: f.get(tmp).i32(CF | ZF).i32And().i32(0).i32Ne(); break;
      case 8: bit(SF, 7); break;
      case 10: bit(PF, 2); break;
      case 12: bit(SF, 7); bit(OF, 11); f.i32Xor(); break;
      case 14: bit(SF, 7); bit(OF, 11); f.i32Xor(); bit(ZF, 6); f.i32Or(); break;
    }
    if (neg) f.i32Eqz();
    return;
  }
  // Fast forms for the common compare-and-branch pairs.
  if (kind === FK.SUB && (base === 2 || base === 4 || base === 6 || base === 12 || base === 14)) {
    const signed = base >= 12;
    const a = () => (signed ? ldSigned(f, FLAG_A, bytes) : ldMasked(f, FLAG_A, bytes));
    const b = () => (signed ? ldSigned(f, FLAG_B, bytes) : ldMasked(f, FLAG_B, bytes));
    a(); b();
    switch (base) {
      case 2: f.i64LtU(); break;
      case 4: f.i64Eq(); break;
      case 6: f.i64LeU(); break;
      case 12: f.i64LtS(); break;
      case 14: f.i64LeS(); break;
    }
    if (neg) f.i32Eqz();
    return;
  }
  switch (base) {
    case 0: emitFlag(f, OF, kind, bytes); break;
    case 2: emitFlag(f, CF, kind, bytes); break;
    case 4: emitFlag(f, ZF, kind, bytes); break;
    case 6: emitFlag(f, CF, kind, bytes); emitFlag(f, ZF, kind, bytes); f.i32Or(); break;
    case 8: emitFlag(f, SF, kind, bytes); break;
    case 10: emitFlag(f, PF, kind, bytes); break;
    case 12: emitFlag(f, SF, kind, bytes); emitFlag(f, OF, kind, bytes); f.i32Xor(); break;
    case 14: emitFlag(f, SF, kind, bytes); emitFlag(f, OF, kind, bytes); f.i32Xor(); emitFlag(f, ZF, kind, bytes); f.i32Or(); break;
  }
  if (neg) f.i32Eqz();
}

/**
 * Body of the runtime's `flags_get() -> i32`: fold the lazy state into RFLAGS (FLAG_OP := 0) and
 * return RFLAGS' low 32 bits. One case per (kind, width), each using emitFlag.
 */
export function emitMaterializer(f: FnBody): void {
  const op = f.local(T.i32);
  const fl = f.local(T.i32);
  f.i32(0).i32Load(FLAG_OP).tee(op).i32Eqz();
  f.if_().i32(0).i32Load(RFLAGS).return_().end();
  const kinds = [FK.ADD, FK.ADC, FK.SUB, FK.SBB, FK.LOGIC, FK.INC, FK.DEC, FK.SHL, FK.SHR, FK.SAR, FK.MUL, FK.SHRD];
  const cases: { kind: FK; bytes: number }[] = [];
  for (const kind of kinds) for (const bytes of [1, 2, 4, 8]) cases.push({ kind, bytes });
  // block nest: one block per case plus a default, br_table on op.
  const n = 64; // ops 0..63 (kind up to 15, 4 sizes)
  f.block(); // $done
  for (let i = 0; i <= cases.length; i++) f.block();
  const targets: number[] = new Array(n).fill(cases.length); // default: the innermost-most outer = no-op
  cases.forEach((c, i) => { targets[flagOp(c.kind, c.bytes)] = i; });
  f.get(op).brTable(targets, cases.length);
  for (let i = 0; i < cases.length; i++) {
    f.end(); // case i lands here
    const { kind, bytes } = cases[i];
    const bits: [number, number][] = [[CF, 0], [PF, 2], [AF, 4], [ZF, 6], [SF, 7], [OF, 11]];
    f.i32(0);
    for (const [flag, pos] of bits) {
      emitFlag(f, flag, kind, bytes);
      if (pos) f.i32(pos).i32Shl();
      f.i32Or();
    }
    f.set(fl);
    f.br(cases.length - i); // to $done's end... computed below
  }
  f.end(); // default case: unknown op, leave RFLAGS as is
  f.i32(0).i32Load(RFLAGS).i32(~ARITH).i32And().set(fl);
  f.end(); // $done
  f.i32(0);
  f.i32(0).i32Load(RFLAGS).i32(~ARITH).i32And().get(fl).i32Or().tee(fl);
  f.i32Store(RFLAGS);
  f.i32(0).i32(0).i32Store(FLAG_OP);
  f.get(fl);
}
