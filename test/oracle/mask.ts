// Which parts of the final state the SDM defines, so the comparison ignores the
// rest. Definedness is tracked per register byte, per memory byte and per
// status flag, and propagates: an instruction with any undefined input makes
// all its outputs undefined (conservative: it may hide a few real results, it
// never reports a CPU's free choice as a mismatch). On top of that, each
// instruction declares the flags it leaves undefined (iced-x86's tables), and
// the value-dependent rules are applied here: shift/rotate counts and BSF/BSR
// with a zero source.
import { ALL_STATUS, RflagsBits, icedFlagsToX86 } from './iced.js';
import type { GenInstr, Loc, Sequence, ShiftOp } from './gen.js';

export interface Definedness {
  /** Per register (encoding order), bit i set = byte i defined. */
  regs: Uint8Array;
  /** iced RflagsBits of the defined status flags. */
  flags: number;
  /** Per scratch byte, 1 = defined. */
  mem: Uint8Array;
  /**
   * Index of the first instruction that may or may not fault depending on
   * undefined inputs (a DIV of an undefined value): from there on, the two
   * runs may legitimately take different paths.
   */
  poison?: number;
}

/** Machine state before some instruction, as the native oracle saw it. */
export interface ProbeState {
  regs: BigUint64Array;
  mem: Uint8Array;
}

const { CF, PF, AF, ZF, SF, OF } = RflagsBits;

export interface ShiftEffect {
  /** Flags that change (become defined unless also undefined). */
  modified: number;
  undefined: number;
  /** The destination's value is undefined. */
  destUndefined: boolean;
}

/**
 * SDM rules for shifts and rotates given the count operand's value. The count is
 * masked to 5 bits (6 for 64-bit operands) first; a masked count of 0 changes
 * no flags at all.
 */
export function shiftEffect(op: ShiftOp, width: number, count: number): ShiftEffect {
  const c = count & (width === 64 ? 0x3f : 0x1f);
  const none: ShiftEffect = { modified: 0, undefined: 0, destUndefined: false };
  if (c === 0) return none;
  const ofUndef = c === 1 ? 0 : OF;
  switch (op) {
    case 'shl':
    case 'shr':
      // CF is "the last bit shifted out", undefined once the count reaches the width.
      return { modified: ALL_STATUS, undefined: AF | ofUndef | (c >= width ? CF : 0), destUndefined: false };
    case 'sar':
      return { modified: ALL_STATUS, undefined: AF | ofUndef, destUndefined: false };
    case 'rol':
    case 'ror':
    case 'rcl':
    case 'rcr':
      return { modified: CF | OF, undefined: ofUndef, destUndefined: false };
    case 'shld':
    case 'shrd':
      // Only 16-bit operands can see a count above the width: result and flags undefined.
      if (c > width) return { modified: ALL_STATUS, undefined: ALL_STATUS, destUndefined: true };
      return { modified: ALL_STATUS, undefined: AF | ofUndef, destUndefined: false };
  }
}

function readLoc(loc: Loc, st: ProbeState): bigint {
  if (loc.kind === 'reg') {
    return (st.regs[loc.idx]! >> BigInt(8 * loc.off)) & ((1n << BigInt(8 * loc.size)) - 1n);
  }
  let v = 0n;
  for (let i = loc.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(st.mem[loc.off + i]!);
  return v;
}

/** Instructions whose definedness needs the machine state in front of them. */
export function needsProbe(g: GenInstr): boolean {
  return g.shift?.count === 'cl' || g.bitScanSource !== undefined;
}

export function allDefined(memSize: number): Definedness {
  return { regs: new Uint8Array(16).fill(0xff), flags: ALL_STATUS, mem: new Uint8Array(memSize).fill(1) };
}

/**
 * Definedness after the first `upTo` instructions of `seq`. `probe(k)` returns
 * the native state before instruction k; it is only called for instructions
 * with value-dependent rules whose inputs are all defined.
 */
export function definedness(seq: Sequence, upTo: number, probe: (k: number) => ProbeState | undefined): Definedness {
  const d = allDefined(seq.mem.length);
  for (let k = 0; k < upTo; k++) {
    const g = seq.instrs[k]!;
    if (g.mayFault && !inputsDefined(d, g)) {
      d.poison = k;
      return d;
    }
    step(d, g, () => {
      const st = probe(k);
      if (!st) throw new Error(`oracle: no probe state before instruction ${k} of sequence ${seq.index}`);
      return st;
    });
  }
  // The instruction the run stopped at may have faulted because of undefined inputs.
  const at = seq.instrs[upTo];
  if (at?.mayFault && !inputsDefined(d, at)) d.poison = upTo;
  return d;
}

function inputsDefined(d: Definedness, g: GenInstr): boolean {
  if ((g.flagsRead & ~d.flags) !== 0) return false;
  for (const [idx, mask] of g.regReads) if ((d.regs[idx]! & mask) !== mask) return false;
  for (const [off, size] of g.memReads) for (let i = 0; i < size; i++) if (!d.mem[off + i]) return false;
  return true;
}

function step(d: Definedness, g: GenInstr, probe: () => ProbeState): void {
  const inputsOk = inputsDefined(d, g);

  let modified = g.flagsModified;
  let undef = g.flagsUndefined;
  let destUndefined = false;
  if (inputsOk && g.shift) {
    const count = g.shift.count === 'cl' ? Number(probe().regs[1]! & 0xffn) : g.shift.count;
    const e = shiftEffect(g.shift.op, g.shift.width, count);
    modified = e.modified;
    undef = e.undefined;
    destUndefined = e.destUndefined;
  }
  if (inputsOk && g.bitScanSource && readLoc(g.bitScanSource, probe()) === 0n) destUndefined = true;

  const outDefined = inputsOk && !destUndefined;
  for (const [idx, mask] of g.regWrites) d.regs[idx] = outDefined ? d.regs[idx]! | mask : d.regs[idx]! & ~mask;
  for (const [off, size] of g.memWrites) d.mem.fill(outDefined ? 1 : 0, off, off + size);
  if (inputsOk) d.flags = (d.flags | modified) & ~undef;
  else d.flags &= ~modified;
}

/** The defined status flags as an RFLAGS mask. */
export function definedFlagsMask(d: Definedness): bigint {
  return icedFlagsToX86(d.flags);
}

/** Defined bytes of register `idx` as a 64-bit mask. */
export function regMask(d: Definedness, idx: number): bigint {
  let m = 0n;
  const bits = d.regs[idx]!;
  for (let b = 0; b < 8; b++) if (bits & (1 << b)) m |= 0xffn << BigInt(8 * b);
  return m;
}

export { CF, PF, AF, ZF, SF, OF };
