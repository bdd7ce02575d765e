// Flag liveness inside a block: which instructions' lazy-flag stores can be skipped because every
// flag they write is overwritten before anything reads it. Block exits count as reading everything.
import { Mnemonic, RflagsBits, OpKind } from '../cpu/iced.js';
import type { Insn } from '../cpu/decode.js';

const M = Mnemonic;
const ARITH = RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.AF | RflagsBits.CF | RflagsBits.PF;

/** Instructions whose semantics overwrite the whole lazy-flags state (see sem/alu.ts). */
const PURE = new Set<number>([M.Add, M.Adc, M.Sub, M.Sbb, M.And, M.Or, M.Xor, M.Cmp, M.Test, M.Neg, M.Inc, M.Dec, M.Mul, M.Imul, M.Xadd, M.Cmpxchg]);
const SHIFTS = new Set<number>([M.Shl, M.Sal, M.Shr, M.Sar]);
const NEEDS_CF = new Set<number>([M.Inc, M.Dec, M.Adc, M.Sbb]);

const { CF, ZF, OF } = RflagsBits;

/**
 * Instructions whose semantics update only some flags eagerly (materialize RFLAGS, then replace
 * `mask`): when none of those flags is read before being overwritten, they skip both steps and the
 * lazy state stays that of the previous writer, which still describes every other flag.
 */
const EAGER: Record<number, number> = {
  [M.Rol]: CF | OF, [M.Ror]: CF | OF,
  [M.Bt]: CF, [M.Bts]: CF, [M.Btr]: CF, [M.Btc]: CF,
  [M.Bsf]: ZF, [M.Bsr]: ZF, [M.Tzcnt]: CF | ZF, [M.Lzcnt]: CF | ZF,
  [M.Clc]: CF, [M.Stc]: CF, [M.Cmc]: CF,
};

function isPureWriter(d: Insn): boolean {
  if (PURE.has(d.mnemonic)) return true;
  if (SHIFTS.has(d.mnemonic)) {
    // constant non-zero count: always writes; CL count may be zero at run time (flags unchanged)
    if (d.opCount < 2) return true;
    return d.opKind[1] === OpKind.Immediate8 && (Number(d.imm[1]) & 31) !== 0;
  }
  return false;
}

/**
 * For each instruction, whether its lazy flag state must be stored. `helperBased[i]` marks
 * instructions implemented by TypeScript helpers, which may read RFLAGS (treated as reading all).
 */
export function flagLiveness(insns: Insn[], helperBased: (d: Insn) => boolean): boolean[] {
  const live: boolean[] = new Array(insns.length).fill(true);
  let after = ARITH; // at block exit everything is live
  for (let i = insns.length - 1; i >= 0; i--) {
    const d = insns[i];
    const read = d.rflagsRead & ARITH;
    const mod = d.rflagsModified & ARITH;
    if (isPureWriter(d)) {
      live[i] = (after & ARITH) !== 0;
      after = read | (NEEDS_CF.has(d.mnemonic) ? RflagsBits.CF : 0);
    } else if (EAGER[d.mnemonic] !== undefined && !helperBased(d)) {
      // a dead update changes nothing: what is live after is live before (plus what it reads)
      live[i] = (after & EAGER[d.mnemonic]) !== 0;
      after = live[i] ? ARITH : after | read;
    } else if (mod !== 0 || helperBased(d) || d.rep || d.repne) {
      live[i] = true;
      after = ARITH; // materializes or may leave flags unchanged: everything before must be exact
    } else {
      after |= read;
    }
  }
  return live;
}
