// SSE/SSE2 data movement and integer instructions, and their MMX forms (the same mnemonics with
// MM operands run on the low 64 bits of a v128 and write back 8 bytes).
import { Mnemonic, OpKind, Register } from '../iced.js';
import { def, SEM } from './table.js';
import type { Gen } from './gen.js';
import type { FnBody } from '../../jit/wasm/encoder.js';
import { REG, RegClass } from '../regs.js';
import { MEMSIZE_BYTES } from '../memsize.js';
import { FPU_ST, FPU_TW, XMM } from '../state-layout.js';
import { FPU_MMX } from '../fpu-layout.js';
import { sseCheck, mmxCheck, isMmx, regClass, readV, readVL, writeV, v128, alignCheck } from './simd-util.js';
import { HELPER_ARG0 } from '../state-layout.js';

const M = Mnemonic;

/** Availability check for the instruction's register file (MMX or SSE). */
export function vcheck(g: Gen): boolean {
  if (isMmx(g)) { mmxCheck(g); return true; }
  sseCheck(g);
  return false;
}

/** Bytes of the memory operand as decoded (0 when none). */
export const memBytes = (g: Gen): number => MEMSIZE_BYTES[g.insn.memSize];

/** Source operand i as v128: MMX/XMM register or memory (legacy SSE m128 operands must be aligned). */
function src(g: Gen, i: number, mmx: boolean, align = true): number {
  if (g.isMem(i)) {
    const n = memBytes(g);
    return readVL(g, i, n, align && n === 16 && !mmx);
  }
  return readVL(g, i);
}

type Emit = (f: FnBody, g: Gen, mmx: boolean) => void;

/** dst = op(dst, src) for the two-operand integer/logic forms. */
function bin(mn: number | number[], emit: Emit): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const b = src(g, 1, mmx);
    const a = readVL(g, 0);
    const r = v128(g);
    g.f.get(a).get(b);
    emit(g.f, g, mmx);
    g.f.set(r);
    writeV(g, 0, r);
  });
}

const simple = (op: (f: FnBody) => void): Emit => (f) => op(f);

// ---- integer arithmetic -----------------------------------------------------------------------
bin(M.Paddb, simple((f) => f.i8x16Add()));
bin(M.Paddw, simple((f) => f.i16x8Add()));
bin(M.Paddd, simple((f) => f.i32x4Add()));
bin(M.Paddq, simple((f) => f.i64x2Add()));
bin(M.Psubb, simple((f) => f.i8x16Sub()));
bin(M.Psubw, simple((f) => f.i16x8Sub()));
bin(M.Psubd, simple((f) => f.i32x4Sub()));
bin(M.Psubq, simple((f) => f.i64x2Sub()));
bin(M.Paddsb, simple((f) => f.i8x16AddSatS()));
bin(M.Paddsw, simple((f) => f.i16x8AddSatS()));
bin(M.Paddusb, simple((f) => f.i8x16AddSatU()));
bin(M.Paddusw, simple((f) => f.i16x8AddSatU()));
bin(M.Psubsb, simple((f) => f.i8x16SubSatS()));
bin(M.Psubsw, simple((f) => f.i16x8SubSatS()));
bin(M.Psubusb, simple((f) => f.i8x16SubSatU()));
bin(M.Psubusw, simple((f) => f.i16x8SubSatU()));
bin(M.Pmullw, simple((f) => f.i16x8Mul()));
bin(M.Pmaddwd, simple((f) => f.i32x4DotI16x8S()));
bin(M.Pavgb, simple((f) => f.i8x16AvgrU()));
bin(M.Pavgw, simple((f) => f.i16x8AvgrU()));
bin(M.Pminub, simple((f) => f.i8x16MinU()));
bin(M.Pmaxub, simple((f) => f.i8x16MaxU()));
bin(M.Pminsw, simple((f) => f.i16x8MinS()));
bin(M.Pmaxsw, simple((f) => f.i16x8MaxS()));
bin(M.Pcmpeqb, simple((f) => f.i8x16Eq()));
bin(M.Pcmpeqw, simple((f) => f.i16x8Eq()));
bin(M.Pcmpeqd, simple((f) => f.i32x4Eq()));
bin(M.Pcmpgtb, simple((f) => f.i8x16GtS()));
bin(M.Pcmpgtw, simple((f) => f.i16x8GtS()));
bin(M.Pcmpgtd, simple((f) => f.i32x4GtS()));
bin([M.Pand, M.Andps, M.Andpd], simple((f) => f.v128And()));
bin([M.Por, M.Orps, M.Orpd], simple((f) => f.v128Or()));
bin([M.Pxor, M.Xorps, M.Xorpd], simple((f) => f.v128Xor()));

/** (~dst) & src */
function andn(g: Gen): void {
  const mmx = vcheck(g);
  const b = src(g, 1, mmx);
  const a = readVL(g, 0);
  const r = v128(g);
  g.f.get(b).get(a).v128AndNot().set(r);
  writeV(g, 0, r);
}
def([M.Pandn, M.Andnps, M.Andnpd], andn);

/** High halves of signed/unsigned 16×16 products. */
function mulhi(signed: boolean): Emit {
  return (f, g) => {
    const a = v128(g), b = v128(g), lo = v128(g);
    f.set(b).set(a);
    f.get(a).get(b);
    if (signed) f.i32x4ExtmulLowI16x8S(); else f.i32x4ExtmulLowI16x8U();
    f.i32(16);
    if (signed) f.i32x4ShrS(); else f.i32x4ShrU();
    f.set(lo);
    f.get(lo);
    f.get(a).get(b);
    if (signed) f.i32x4ExtmulHighI16x8S(); else f.i32x4ExtmulHighI16x8U();
    f.i32(16);
    if (signed) f.i32x4ShrS().i16x8NarrowI32x4S(); else f.i32x4ShrU().i16x8NarrowI32x4U();
  };
}
bin(M.Pmulhw, mulhi(true));
bin(M.Pmulhuw, mulhi(false));

/** Lanes 0 and 2 of each operand moved to lanes 0 and 1, then widened multiply. */
const EVEN_DWORDS = [0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11];
function mulEven(signed: boolean): Emit {
  return (f, g) => {
    const a = v128(g), b = v128(g);
    f.set(b).set(a);
    f.get(a).get(a).i8x16Shuffle(EVEN_DWORDS);
    f.get(b).get(b).i8x16Shuffle(EVEN_DWORDS);
    if (signed) f.i64x2ExtmulLowI32x4S(); else f.i64x2ExtmulLowI32x4U();
  };
}
bin(M.Pmuludq, mulEven(false));
bin(M.Pmuldq, mulEven(true));

/** Sum of absolute byte differences per 8-byte half, in the low word of each quadword. */
bin(M.Psadbw, (f, g) => {
  const a = v128(g), b = v128(g), t = v128(g);
  f.set(b).set(a);
  f.get(a).get(b).i8x16SubSatU().get(b).get(a).i8x16SubSatU().v128Or();
  f.i16x8ExtaddPairwiseI8x16U().i32x4ExtaddPairwiseI16x8U().set(t);
  f.get(t).v128I32x4(0xffffffff, 0, 0xffffffff, 0).v128And();
  f.get(t).i32(32).i64x2ShrU().i64x2Add();
});

// ---- packs and unpacks --------------------------------------------------------------------------

/** MMX packs keep the low 4 results of each source. */
const MMX_PACK = [0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0];
function pack(op: (f: FnBody) => void): Emit {
  return (f, _g, mmx) => {
    op(f);
    if (mmx) { f.v128Zero(); f.i8x16Shuffle(MMX_PACK); }
  };
}
bin(M.Packsswb, pack((f) => f.i8x16NarrowI16x8S()));
bin(M.Packuswb, pack((f) => f.i8x16NarrowI16x8U()));
bin(M.Packssdw, pack((f) => f.i16x8NarrowI32x4S()));
bin(M.Packusdw, pack((f) => f.i16x8NarrowI32x4U()));

/** Byte indices interleaving elements of `esz` bytes from a (0-15) and b (16-31), from element `start`. */
export function interleave(esz: number, startByte: number): number[] {
  const out: number[] = [];
  for (let j = 0; out.length < 16; j++) {
    for (let k = 0; k < esz; k++) out.push(startByte + j * esz + k);
    for (let k = 0; k < esz; k++) out.push(16 + startByte + j * esz + k);
  }
  return out;
}
function unpack(mn: number, esz: number, high: boolean): void {
  bin(mn, (f, _g, mmx) => { f.i8x16Shuffle(interleave(esz, high ? (mmx ? 4 : 8) : 0)); });
}
unpack(M.Punpcklbw, 1, false); unpack(M.Punpckhbw, 1, true);
unpack(M.Punpcklwd, 2, false); unpack(M.Punpckhwd, 2, true);
unpack(M.Punpckldq, 4, false); unpack(M.Punpckhdq, 4, true);
unpack(M.Punpcklqdq, 8, false); unpack(M.Punpckhqdq, 8, true);
unpack(M.Unpcklps, 4, false); unpack(M.Unpckhps, 4, true);
unpack(M.Unpcklpd, 8, false); unpack(M.Unpckhpd, 8, true);

// ---- shifts ---------------------------------------------------------------------------------------

type ShiftOp = 'shl' | 'shr' | 'sar';
function shiftEmit(f: FnBody, w: number, op: ShiftOp): void {
  const t = { 2: ['i16x8Shl', 'i16x8ShrU', 'i16x8ShrS'], 4: ['i32x4Shl', 'i32x4ShrU', 'i32x4ShrS'], 8: ['i64x2Shl', 'i64x2ShrU', 'i64x2ShrS'] } as const;
  const name = t[w as 2 | 4 | 8][op === 'shl' ? 0 : op === 'shr' ? 1 : 2];
  (f[name] as () => FnBody).call(f);
}

function shift(mn: number, w: number, op: ShiftOp): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const f = g.f;
    const bits = w * 8;
    const a = readVL(g, 0);
    const r = v128(g);
    if (g.insn.opKind[1] >= OpKind.Immediate8 && g.insn.opKind[1] <= OpKind.Immediate32to64) {
      const n = Number(g.insn.imm[1] & 0xffn);
      if (n >= bits && op !== 'sar') f.v128Zero().set(r);
      else { f.get(a).i32(Math.min(n, bits - 1)); shiftEmit(f, w, op); f.set(r); }
    } else {
      // the count is the whole low quadword of the source: counts past the width clear (or sign-fill)
      const b = src(g, 1, mmx);
      const cnt = g.tmp64(), big = g.tmp32();
      f.get(b).i64x2ExtractLane(0).set(cnt);
      f.get(cnt).i64(bits - 1, 0).i64GtU().set(big);
      f.get(a).i32(bits - 1).get(cnt).i32WrapI64().get(big).select();
      shiftEmit(f, w, op);
      f.set(r);
      if (op !== 'sar') f.v128Zero().get(r).get(big).select().set(r);
    }
    writeV(g, 0, r);
  });
}
shift(M.Psllw, 2, 'shl'); shift(M.Pslld, 4, 'shl'); shift(M.Psllq, 8, 'shl');
shift(M.Psrlw, 2, 'shr'); shift(M.Psrld, 4, 'shr'); shift(M.Psrlq, 8, 'shr');
shift(M.Psraw, 2, 'sar'); shift(M.Psrad, 4, 'sar');

/** Whole-register byte shifts (imm8, counts past 15 clear). */
function byteShift(mn: number, left: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const n = Math.min(16, Number(g.insn.imm[1] & 0xffn));
    const a = readVL(g, 0);
    const r = v128(g);
    const lanes: number[] = [];
    // shuffle(a, zero): indices 16+ are zero bytes
    for (let i = 0; i < 16; i++) {
      const s = left ? i - n : i + n;
      lanes.push(s >= 0 && s < 16 ? s : 16);
    }
    g.f.get(a).v128Zero().i8x16Shuffle(lanes).set(r);
    writeV(g, 0, r);
  });
}
byteShift(M.Pslldq, true);
byteShift(M.Psrldq, false);

// ---- shuffles ---------------------------------------------------------------------------------

function imm8(g: Gen): number {
  for (let i = g.insn.opCount - 1; i >= 0; i--) if (g.insn.opKind[i] === OpKind.Immediate8) return Number(g.insn.imm[i] & 0xffn);
  return 0;
}

/** Byte-lane list moving element sel[j] (of `esz` bytes; +100 marks "from b") to position j. */
function elementLanes(esz: number, sel: number[]): number[] {
  const out: number[] = [];
  for (const s of sel) {
    const fromB = s >= 100;
    const e = fromB ? s - 100 : s;
    for (let k = 0; k < esz; k++) out.push((fromB ? 16 : 0) + e * esz + k);
  }
  return out;
}

/** dst = shuffle(src) by imm8, with a static lane list computed from imm. */
function shufImm(mn: number, lanesFor: (imm: number, mmx: boolean) => number[], twoOperand = false): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const imm = imm8(g);
    const b = src(g, 1, mmx);
    const a = twoOperand ? readVL(g, 0) : b;
    const r = v128(g);
    g.f.get(a).get(b).i8x16Shuffle(lanesFor(imm, mmx)).set(r);
    writeV(g, 0, r);
  });
}
const sel4 = (imm: number, base = 0): number[] => [0, 1, 2, 3].map((j) => base + ((imm >> (2 * j)) & 3));
// single-source shuffles index the second copy as "a" too (a = b)
shufImm(M.Pshufd, (imm) => elementLanes(4, sel4(imm)));
shufImm(M.Pshuflw, (imm) => elementLanes(2, [...sel4(imm), 4, 5, 6, 7]));
shufImm(M.Pshufhw, (imm) => elementLanes(2, [0, 1, 2, 3, ...sel4(imm, 4)]));
shufImm(M.Pshufw, (imm) => elementLanes(2, [...sel4(imm), 4, 5, 6, 7]));
shufImm(M.Shufps, (imm) => { const s = sel4(imm); return elementLanes(4, [s[0], s[1], 100 + s[2], 100 + s[3]]); }, true);
shufImm(M.Shufpd, (imm) => elementLanes(8, [imm & 1, 100 + ((imm >> 1) & 1)]), true);

// ---- moves ------------------------------------------------------------------------------------

/** Full-register moves: load, store or register copy of 16 bytes (MMX: 8). */
function move(mn: number | number[], align: boolean): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const n = mmx ? 8 : 16;
    const v = g.isMem(1) ? readVL(g, 1, n, align && !mmx) : readVL(g, 1);
    writeV(g, 0, v, n, align && !mmx);
  });
}
move([M.Movaps, M.Movapd, M.Movdqa, M.Movntps, M.Movntpd, M.Movntdq, M.Movntdqa], true);
move([M.Movups, M.Movupd, M.Movdqu, M.Lddqu, M.Movntq], false);

/** MOVD/MOVQ: between XMM/MMX, GPRs and memory; XMM destinations are zero-extended. */
function movdq(g: Gen, n: number): void {
  vcheck(g);
  const f = g.f;
  const d = g.insn;
  const v = g.tmp64();
  // source value as i64
  const sc = regClass(g, 1);
  if (sc === RegClass.Xmm) { f.i32(0); if (n === 4) f.i64Load32U(g.xmmOff(d.opReg[1])); else f.i64Load(g.xmmOff(d.opReg[1])); }
  else if (sc === RegClass.Mm) { f.i32(0); if (n === 4) f.i64Load32U(FPU_ST + REG[d.opReg[1]].idx * 8); else f.i64Load(FPU_ST + REG[d.opReg[1]].idx * 8); }
  else g.readOp(1, n);
  f.set(v);
  const dc = regClass(g, 0);
  if (dc === RegClass.Xmm) {
    const off = g.xmmOff(d.opReg[0]);
    f.i32(0).get(v).i64Store(off);
    f.i32(0).i64(0, 0).i64Store(off + 8);
  } else if (dc === RegClass.Mm) {
    f.i32(0).get(v).i64Store(FPU_ST + REG[d.opReg[0]].idx * 8);
  } else {
    g.writeOp(0, v, n);
  }
}
def(M.Movd, (g) => movdq(g, 4));
def(M.Movq, (g) => movdq(g, 8));

def(M.Movq2dq, (g) => {
  mmxCheck(g); sseCheck(g);
  const f = g.f;
  const off = g.xmmOff(g.insn.opReg[0]);
  f.i32(0).i32(0).i64Load(FPU_ST + REG[g.insn.opReg[1]].idx * 8).i64Store(off);
  f.i32(0).i64(0, 0).i64Store(off + 8);
});
def(M.Movdq2q, (g) => {
  mmxCheck(g); sseCheck(g);
  g.f.i32(0).i32(0).i64Load(g.xmmOff(g.insn.opReg[1])).i64Store(FPU_ST + REG[g.insn.opReg[0]].idx * 8);
});

/** MOVSS/MOVSD (scalar): register form merges the low element; a load zeroes the rest. */
function movScalar(g: Gen, n: number): void {
  sseCheck(g);
  const f = g.f;
  const d = g.insn;
  const t = g.tmp64();
  if (g.isMem(1)) {
    g.readOp(1, n); f.set(t);
    const off = g.xmmOff(d.opReg[0]);
    f.i32(0).get(t).i64Store(off);
    f.i32(0).i64(0, 0).i64Store(off + 8);
    return;
  }
  f.i32(0);
  if (n === 4) f.i64Load32U(g.xmmOff(d.opReg[1])); else f.i64Load(g.xmmOff(d.opReg[1]));
  f.set(t);
  if (g.isMem(0)) { g.writeOp(0, t, n); return; }
  f.i32(0).get(t);
  if (n === 4) f.i64Store32(g.xmmOff(d.opReg[0])); else f.i64Store(g.xmmOff(d.opReg[0]));
}
def(M.Movss, (g) => movScalar(g, 4));

const isStringKind = (k: number): boolean => k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI;
const stringMovsd = SEM[M.Movsd];
def(M.Movsd, (g) => {
  if (g.insn.opCount === 0 || isStringKind(g.insn.opKind[0]) || isStringKind(g.insn.opKind[1] ?? 0)) { stringMovsd!(g); return; }
  movScalar(g, 8);
});

/** 8-byte half moves: low or high quadword of an XMM register with memory or the other half. */
function half(mn: number | number[], dstHigh: boolean, srcHigh: boolean): void {
  def(mn, (g) => {
    sseCheck(g);
    const f = g.f;
    const d = g.insn;
    const t = g.tmp64();
    if (g.isMem(1)) g.readOp(1, 8);
    else f.i32(0).i64Load(g.xmmOff(d.opReg[1]) + (srcHigh ? 8 : 0));
    f.set(t);
    if (g.isMem(0)) { g.writeOp(0, t, 8); return; }
    f.i32(0).get(t).i64Store(g.xmmOff(d.opReg[0]) + (dstHigh ? 8 : 0));
  });
}
// MOVLPS/MOVLPD: m64 ↔ low half; MOVHPS/MOVHPD: m64 ↔ high half
def([M.Movlps, M.Movlpd], (g) => {
  if (!g.isMem(0) && !g.isMem(1)) { SEM[M.Movhlps]!(g); return; } // 0F 12 register form is MOVHLPS
  const f = g.f, d = g.insn, t = g.tmp64();
  sseCheck(g);
  if (g.isMem(1)) { g.readOp(1, 8); f.set(t); f.i32(0).get(t).i64Store(g.xmmOff(d.opReg[0])); }
  else { f.i32(0).i64Load(g.xmmOff(d.opReg[1])).set(t); g.writeOp(0, t, 8); }
});
def([M.Movhps, M.Movhpd], (g) => {
  if (!g.isMem(0) && !g.isMem(1)) { SEM[M.Movlhps]!(g); return; }
  const f = g.f, d = g.insn, t = g.tmp64();
  sseCheck(g);
  if (g.isMem(1)) { g.readOp(1, 8); f.set(t); f.i32(0).get(t).i64Store(g.xmmOff(d.opReg[0]) + 8); }
  else { f.i32(0).i64Load(g.xmmOff(d.opReg[1]) + 8).set(t); g.writeOp(0, t, 8); }
});
half(M.Movhlps, false, true);
half(M.Movlhps, true, false);

def(M.Movnti, (g) => {
  const t = g.tmp64();
  g.readOp(1); g.f.set(t);
  g.writeOp(0, t);
});

// ---- masks, extracts, inserts -------------------------------------------------------------------

function toGpr(g: Gen, i: number, t32: number): void {
  const t = g.tmp64();
  g.f.get(t32).i64ExtendI32U().set(t);
  if (g.isMem(i)) g.writeOp(i, t);
  else g.setRegFrom(g.insn.opReg[i], t);
}

function movmsk(mn: number, op: (f: FnBody) => void, mmxMask = 0xffff): void {
  def(mn, (g) => {
    const mmx = vcheck(g);
    const t = g.tmp32();
    readV(g, 1);
    op(g.f);
    if (mmx) g.f.i32(mmxMask & 0xff).i32And();
    g.f.set(t);
    toGpr(g, 0, t);
  });
}
movmsk(M.Pmovmskb, (f) => f.i8x16Bitmask());
movmsk(M.Movmskps, (f) => f.i32x4Bitmask());
movmsk(M.Movmskpd, (f) => f.i64x2Bitmask());

def(M.Pextrw, (g) => {
  const mmx = vcheck(g);
  const lane = imm8(g) & (mmx ? 3 : 7);
  const t = g.tmp32();
  readV(g, 1);
  g.f.i16x8ExtractLaneU(lane).set(t);
  if (g.isMem(0)) { const v = g.tmp64(); g.f.get(t).i64ExtendI32U().set(v); g.writeOp(0, v, 2); return; }
  toGpr(g, 0, t);
});

def(M.Pinsrw, (g) => {
  const mmx = vcheck(g);
  const lane = imm8(g) & (mmx ? 3 : 7);
  const a = readVL(g, 0);
  const v = g.tmp64();
  g.readOp(1, 2); g.f.set(v);
  const r = v128(g);
  g.f.get(a).get(v).i32WrapI64().i16x8ReplaceLane(lane).set(r);
  writeV(g, 0, r);
});

/** MASKMOVDQU/MASKMOVQ: byte-masked store to DS:rDI (rare: a TypeScript helper). */
function maskmov(g: Gen, n: number): void {
  const mmx = vcheck(g);
  const d = g.insn;
  const cpu = g.cpu;
  const srcOff = mmx ? FPU_ST + REG[d.opReg[1]].idx * 8 : g.xmmOff(d.opReg[1]);
  const mskOff = mmx ? FPU_ST + REG[d.opReg[2]].idx * 8 : g.xmmOff(d.opReg[2]);
  const k = d.opKind[0];
  const asz = k === OpKind.MemorySegRDI ? 8 : k === OpKind.MemorySegEDI ? 4 : 2;
  const seg = d.memSeg === Register.None ? 3 : d.memSeg - Register.ES;
  g.callHelper(() => {
    const st = cpu.st;
    let off = st.gpr(7);
    if (asz === 4) off &= 0xffffffffn; else if (asz === 2) off &= 0xffffn;
    const lin = cpu.segLinear(seg, off);
    for (let i = 0; i < n; i++) {
      if (st.u8[mskOff + i] & 0x80) cpu.writeLin(lin + BigInt(i), 1, BigInt(st.u8[srcOff + i]));
    }
  });
}
def(M.Maskmovdqu, (g) => maskmov(g, 16));
def(M.Maskmovq, (g) => maskmov(g, 8));

def(M.Emms, (g) => {
  mmxCheckOnly(g);
  g.f.i32(0).i32(0).i32Store(FPU_TW);
  g.f.i32(0).i32(0).i32Store(FPU_MMX);
});
/** EMMS faults like an MMX instruction but does not enter MMX state. */
function mmxCheckOnly(g: Gen): void { mmxCheck(g); }

export { src as vecSrc, imm8, elementLanes, alignCheck, HELPER_ARG0, XMM };
