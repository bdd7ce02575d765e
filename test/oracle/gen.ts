// Random x86-64 integer instruction sequences for the differential test.
//
// Every sequence obeys the contract in contract.ts: R15 is only ever a memory
// base ([r15 + disp], inside the scratch area) and RSP is never an operand, so
// neither address leaks into compared state. Each instruction carries what it
// reads and writes (from iced-x86's InstructionInfo) plus the two facts the
// definedness analysis (mask.ts) cannot get statically: the count of a
// shift/rotate and the source of a bit scan.
import {
  ALL_STATUS,
  Code,
  Encoder,
  Instruction,
  InstructionInfoFactory,
  MemoryOperand,
  MemorySizeExt,
  OpAccess,
  Register,
  RflagsBits,
  gprSlot,
  reg,
  type GprSlot,
} from './iced.js';
import { MIN_MEM_SIZE, REG_COUNT, RFLAGS, SCRATCH_BASE_REG, type SnippetInput } from './contract.js';
import { Rng } from './rng.js';

export type ShiftOp = 'shl' | 'shr' | 'sar' | 'rol' | 'ror' | 'rcl' | 'rcr' | 'shld' | 'shrd';

export type Loc = ({ kind: 'reg' } & GprSlot) | { kind: 'mem'; off: number; size: number };

export interface GenInstr {
  bytes: Uint8Array;
  /** iced Code, for statistics and debugging. */
  code: number;
  /** [register index, byte mask] pairs; RSP and R15 never appear. */
  regReads: Array<[number, number]>;
  regWrites: Array<[number, number]>;
  /** [scratch offset, size] pairs. */
  memReads: Array<[number, number]>;
  memWrites: Array<[number, number]>;
  /** iced RflagsBits. */
  flagsRead: number;
  flagsModified: number;
  flagsUndefined: number;
  /** Shifts and rotates: flags depend on the (masked) count. */
  shift?: { op: ShiftOp; width: number; count: number | 'cl' };
  /** BSF/BSR: the destination is undefined when this source is zero. */
  bitScanSource?: Loc;
  /** Whether it can fault depending on data (DIV/IDIV #DE). */
  mayFault?: boolean;
}

export interface Sequence {
  seed: number;
  index: number;
  instrs: GenInstr[];
  /** Byte offset of each instruction, plus the end. */
  offsets: number[];
  code: Uint8Array;
  regs: BigUint64Array;
  mem: Uint8Array;
}

export interface GenFeatures {
  lahfLm: boolean;
  popcnt: boolean;
  lzcnt: boolean;
  bmi1: boolean;
  adx: boolean;
}

export interface GenOptions {
  features: GenFeatures;
  /** Randomly chosen instructions per sequence (setup instructions come on top). */
  length?: number;
  memSize?: number;
}

// ---------------------------------------------------------------------------
// Instruction forms, derived from iced's Code names (e.g. Shld_rm32_r32_CL).

type Spec =
  | 'rm8' | 'rm16' | 'rm32' | 'rm64'
  | 'r8' | 'r16' | 'r32' | 'r64'
  | 'imm8' | 'imm16' | 'imm32' | 'imm64'
  | 'AL' | 'AX' | 'EAX' | 'RAX' | 'CL' | '1' | 'm';

interface Form {
  code: Code;
  name: string;
  mnemonic: string;
  specs: Spec[];
}

const MNEMONICS = new Set([
  'Add', 'Adc', 'Sub', 'Sbb', 'And', 'Or', 'Xor', 'Cmp', 'Test', 'Inc', 'Dec', 'Neg', 'Not',
  'Shl', 'Shr', 'Sar', 'Rol', 'Ror', 'Rcl', 'Rcr', 'Shld', 'Shrd',
  'Mul', 'Imul', 'Div', 'Idiv', 'Bt', 'Bts', 'Btr', 'Btc', 'Bsf', 'Bsr', 'Tzcnt', 'Lzcnt', 'Popcnt',
  'Bswap', 'Xchg', 'Xadd', 'Cmpxchg', 'Movzx', 'Movsx', 'Movsxd',
  'Cbw', 'Cwde', 'Cdqe', 'Cwd', 'Cdq', 'Cqo', 'Lea', 'Mov', 'Lahf', 'Sahf', 'Clc', 'Stc', 'Cmc', 'Adcx', 'Adox',
]);

// Encodings that are invalid in 64-bit mode, undocumented aliases, forms whose
// result the SDM leaves undefined wholesale, and operands outside the contract.
const EXCLUDE = [
  /_82$/, /_F[67]r1$/, /Sreg/, /_(cr|dr|tr)$/, /^Mov_(cr|dr|tr)_/, /moffs/,
  /^(Inc|Dec)_r(16|32)$/, /^Movsxd_r(16|32)_/, /^Bswap_r16$/,
  // xchg eax,eax would encode as NOP (90) and not zero-extend; the r/m form covers XCHG.
  /^Xchg_r(16|32|64)_(AX|EAX|RAX)$/,
];

const SPEC_RE = /^(rm(8|16|32|64)|r(8|16|32|64)|imm(8|16|32|64)|AL|AX|EAX|RAX|CL|1|m)$/;

function groupOf(mnemonic: string): string {
  if (/^Set/.test(mnemonic)) return 'setcc';
  if (/^Cmov/.test(mnemonic)) return 'cmovcc';
  if (/^(Cbw|Cwde|Cdqe|Cwd|Cdq|Cqo)$/.test(mnemonic)) return 'convert';
  if (/^(Clc|Stc|Cmc)$/.test(mnemonic)) return 'flagop';
  if (/^(Lahf|Sahf)$/.test(mnemonic)) return 'ahflags';
  return mnemonic.toLowerCase();
}

const GROUP_WEIGHT: Record<string, number> = {
  mov: 1.5, div: 0.5, idiv: 0.5, flagop: 0.5, ahflags: 0.5, convert: 0.8, setcc: 1, cmovcc: 1,
};

function featureAllows(mnemonic: string, f: GenFeatures): boolean {
  switch (mnemonic) {
    case 'Lahf':
    case 'Sahf':
      return f.lahfLm;
    case 'Popcnt':
      return f.popcnt;
    case 'Lzcnt':
      return f.lzcnt;
    case 'Tzcnt':
      return f.bmi1;
    case 'Adcx':
    case 'Adox':
      return f.adx;
    default:
      return true;
  }
}

let allForms: Form[] | undefined;

/** Every usable form, independent of host features. */
export function forms(): Form[] {
  if (allForms) return allForms;
  const out: Form[] = [];
  for (const [name, value] of Object.entries(Code as unknown as Record<string, number | string>)) {
    if (typeof value !== 'number') continue;
    const parts = name.split('_');
    const mnemonic = parts[0]!;
    const isCc = /^(Set|Cmov)(o|no|b|ae|e|ne|be|a|s|ns|p|np|l|ge|le|g)$/.test(mnemonic);
    if (!MNEMONICS.has(mnemonic) && !isCc) continue;
    if (EXCLUDE.some((re) => re.test(name))) continue;
    const specs = parts.slice(1);
    if (!specs.every((s) => SPEC_RE.test(s))) continue;
    out.push({ code: value as Code, name, mnemonic, specs: specs as Spec[] });
  }
  allForms = out;
  return out;
}

// ---------------------------------------------------------------------------
// Operands.

const REGS64 = ['RAX', 'RCX', 'RDX', 'RBX', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14'].map(reg);
const REGS32 = ['EAX', 'ECX', 'EDX', 'EBX', 'EBP', 'ESI', 'EDI', 'R8D', 'R9D', 'R10D', 'R11D', 'R12D', 'R13D', 'R14D'].map(reg);
const REGS16 = ['AX', 'CX', 'DX', 'BX', 'BP', 'SI', 'DI', 'R8W', 'R9W', 'R10W', 'R11W', 'R12W', 'R13W', 'R14W'].map(reg);
const REGS8 = ['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH', 'BPL', 'SIL', 'DIL', 'R8L', 'R9L', 'R10L', 'R11L', 'R12L', 'R13L', 'R14L'].map(reg);
const REGS_BY_SIZE: Record<number, Register[]> = { 8: REGS8, 16: REGS16, 32: REGS32, 64: REGS64 };

export type Operand =
  | { k: 'reg'; r: Register }
  | { k: 'mem'; off: number }
  | { k: 'lea'; base: Register; index: Register; scale: number; disp: number }
  | { k: 'imm'; v: number }
  | { k: 'imm64'; v: bigint };

const SHIFT_OPS = new Set(['Shl', 'Shr', 'Sar', 'Rol', 'Ror', 'Rcl', 'Rcr', 'Shld', 'Shrd']);
const COUNT_IMM = new Set([...SHIFT_OPS, 'Bt', 'Bts', 'Btr', 'Btc']);
// Counts around 0, 1 and every operand width, where the flag rules change.
const INTERESTING_COUNTS = [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 64, 65, 127, 128, 255];

function countValue(rng: Rng): number {
  return rng.bool(0.6) ? rng.pick(INTERESTING_COUNTS) : rng.int(256);
}

function signedImm(rng: Rng, bits: number): number {
  const max = 2 ** (bits - 1);
  if (rng.bool(0.25)) return rng.pick([0, 1, -1, max - 1, -max, 2, -2]);
  return rng.range(-max, max - 1);
}

/** Register values that hit carries, sign changes and zero results. */
export function interestingU64(rng: Rng): bigint {
  switch (rng.int(12)) {
    case 0:
      return 0n;
    case 1:
      return rng.pick([1n, 2n, 0xffn, 0x7fn, 0x80n, 0xffffn, 0x7fffn, 0x8000n]);
    case 2:
      return rng.pick([0xffff_ffffn, 0x7fff_ffffn, 0x8000_0000n, 0x1_0000_0000n]);
    case 3:
      return rng.pick([0xffff_ffff_ffff_ffffn, 0x7fff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n]);
    case 4:
      return BigInt(rng.int(256));
    case 5:
      return (0xffff_ffff_ffff_ffffn - BigInt(rng.int(256))) & 0xffff_ffff_ffff_ffffn;
    case 6:
      return BigInt(rng.u32());
    default:
      return rng.u64();
  }
}

const MASK64 = 0xffff_ffff_ffff_ffffn;

// ---------------------------------------------------------------------------
// Encoding and static information.

const encoder = new Encoder(64);
const infoFactory = new InstructionInfoFactory();
const R15 = reg('R15');
const CL = reg('CL');

function memOperand(off: number): MemoryOperand {
  return new MemoryOperand(R15, Register.None, 1, BigInt(off), off < 128 ? 1 : 4, false, Register.None);
}

function create(code: Code, ops: Operand[]): Instruction {
  let name = 'create';
  const args: unknown[] = [code];
  for (const op of ops) {
    switch (op.k) {
      case 'reg':
        name += 'Reg';
        args.push(op.r);
        break;
      case 'mem':
        name += 'Mem';
        args.push(memOperand(op.off));
        break;
      case 'lea':
        name += 'Mem';
        args.push(new MemoryOperand(op.base, op.index, op.scale, BigInt(op.disp), op.disp === 0 ? 0 : 4, false, Register.None));
        break;
      case 'imm':
        name += op.v < 0 ? 'I32' : 'U32';
        args.push(op.v);
        break;
      case 'imm64':
        name += 'U64';
        args.push(op.v);
        break;
    }
  }
  const fn = (Instruction as unknown as Record<string, (...a: unknown[]) => Instruction>)[name];
  if (!fn) throw new Error(`iced has no Instruction.${name}`);
  return fn.apply(Instruction, args);
}

const READS = new Set<number>([OpAccess.Read, OpAccess.CondRead, OpAccess.ReadWrite, OpAccess.ReadCondWrite, OpAccess.CondWrite]);
const WRITES = new Set<number>([OpAccess.Write, OpAccess.CondWrite, OpAccess.ReadWrite, OpAccess.ReadCondWrite]);

function byteMask(slot: GprSlot, write: boolean): number {
  // 32-bit writes zero-extend to 64 bits in 64-bit mode.
  if (write && slot.size >= 4) return 0xff;
  return (((1 << slot.size) - 1) << slot.off) & 0xff;
}

/** Encodes `ins` and extracts its reads/writes; throws when iced cannot encode it. */
function finish(ins: Instruction, form: Form, ops: Operand[]): GenInstr {
  try {
    let len: number;
    try {
      len = encoder.encode(ins, 0n);
    } catch (e) {
      // A failed encode leaves partial bytes in the encoder's buffer.
      encoder.takeBuffer();
      throw e;
    }
    const bytes = encoder.takeBuffer();
    if (bytes.length !== len) throw new Error(`generator bug: encoder returned ${bytes.length} bytes, expected ${len}`);
    const info = infoFactory.info(ins);
    const regReads: Array<[number, number]> = [];
    const regWrites: Array<[number, number]> = [];
    for (const u of info.usedRegisters()) {
      const slot = gprSlot(u.register);
      const access = u.access as number;
      u.free();
      if (!slot) continue;
      if (slot.idx === 4 || slot.idx === SCRATCH_BASE_REG) {
        if (WRITES.has(access)) throw new Error(`generator bug: ${form.name} writes RSP/R15`);
        continue;
      }
      if (READS.has(access)) regReads.push([slot.idx, byteMask(slot, false)]);
      if (WRITES.has(access)) regWrites.push([slot.idx, byteMask(slot, true)]);
    }
    const memReads: Array<[number, number]> = [];
    const memWrites: Array<[number, number]> = [];
    for (const m of info.usedMemory()) {
      const access = m.access as number;
      const base = m.base;
      const off = Number(m.displacement);
      const size = MemorySizeExt.size(m.memorySize);
      m.free();
      if (!READS.has(access) && !WRITES.has(access)) continue;
      if (base !== R15) throw new Error(`generator bug: ${form.name} accesses memory off R15`);
      if (READS.has(access)) memReads.push([off, size]);
      if (WRITES.has(access)) memWrites.push([off, size]);
    }
    info.free();
    const g: GenInstr = {
      bytes,
      code: form.code,
      regReads,
      regWrites,
      memReads,
      memWrites,
      flagsRead: ins.rflagsRead,
      flagsModified: ins.rflagsModified,
      flagsUndefined: ins.rflagsUndefined,
    };
    if (SHIFT_OPS.has(form.mnemonic)) {
      const width = specSize(form.specs[0]!);
      let count: number | 'cl';
      const last = form.specs[form.specs.length - 1]!;
      const lastOp = ops[ops.length - 1]!;
      if (last === 'CL') count = 'cl';
      else if (last === '1') count = 1;
      else if (lastOp.k === 'imm') count = lastOp.v & 0xff;
      else throw new Error(`generator bug: no count in ${form.name}`);
      g.shift = { op: form.mnemonic.toLowerCase() as ShiftOp, width, count };
      // The count decides everything the shift does to the flags (mask.ts).
      g.flagsModified = ALL_STATUS;
      // iced drops the CF input of RCL/RCR when an immediate count rotates by a
      // multiple of width+1, but CF is then kept as it was: still an input.
      if (g.shift.op === 'rcl' || g.shift.op === 'rcr') g.flagsRead |= RflagsBits.CF;
    }
    if (form.mnemonic === 'Div' || form.mnemonic === 'Idiv') g.mayFault = true;
    if (form.mnemonic === 'Bsf' || form.mnemonic === 'Bsr') {
      const src = ops[1]!;
      const size = specSize(form.specs[1]!) / 8;
      if (src.k === 'mem') g.bitScanSource = { kind: 'mem', off: src.off, size };
      else if (src.k === 'reg') g.bitScanSource = { kind: 'reg', ...gprSlot(src.r)! };
    }
    return g;
  } finally {
    ins.free();
  }
}

function specSize(s: Spec): number {
  const m = /(\d+)$/.exec(s);
  if (m) return Number(m[1]);
  switch (s) {
    case 'AL':
    case 'CL':
      return 8;
    case 'AX':
      return 16;
    case 'EAX':
      return 32;
    case 'RAX':
      return 64;
    default:
      return 0;
  }
}

// ---------------------------------------------------------------------------
// Random instructions.

export class Generator {
  private readonly groups: Array<{ name: string; weight: number; forms: Form[] }> = [];
  private readonly totalWeight: number;
  private readonly byName = new Map<string, Form>();
  readonly memSize: number;
  readonly length: number;

  constructor(opts: GenOptions) {
    this.memSize = opts.memSize ?? MIN_MEM_SIZE;
    this.length = opts.length ?? 10;
    const map = new Map<string, Form[]>();
    for (const f of forms()) {
      this.byName.set(f.name, f);
      if (!featureAllows(f.mnemonic, opts.features)) continue;
      const g = groupOf(f.mnemonic);
      let list = map.get(g);
      if (!list) map.set(g, (list = []));
      list.push(f);
    }
    for (const [name, list] of map) this.groups.push({ name, weight: GROUP_WEIGHT[name] ?? 1, forms: list });
    this.groups.sort((a, b) => (a.name < b.name ? -1 : 1));
    this.totalWeight = this.groups.reduce((s, g) => s + g.weight, 0);
  }

  /** Names of the instruction groups in use (for the test log). */
  groupNames(): string[] {
    return this.groups.map((g) => g.name);
  }

  /** Builds one specific instruction, e.g. for setup code and hand-written tests. */
  fixed(formName: string, ops: Operand[]): GenInstr {
    const form = this.byName.get(formName);
    if (!form) throw new Error(`unknown form ${formName}`);
    return finish(create(form.code, ops), form, ops);
  }

  private pickForm(rng: Rng): Form {
    let x = (rng.u32() / 0x1_0000_0000) * this.totalWeight;
    for (const g of this.groups) {
      x -= g.weight;
      if (x < 0) return rng.pick(g.forms);
    }
    return rng.pick(this.groups[this.groups.length - 1]!.forms);
  }

  private memOffset(rng: Rng, bytes: number): number {
    // Mostly a small hot window so stores and loads meet; sometimes anywhere.
    const limit = rng.bool(0.75) ? Math.min(64, this.memSize) : this.memSize;
    return rng.int(limit - bytes + 1);
  }

  private operands(rng: Rng, form: Form): Operand[] | null {
    const ops: Operand[] = [];
    // Bit offsets from a register reach far beyond a memory operand: keep BT* r/m a register.
    const rmRegOnly = /^Bt[src]?$/.test(form.mnemonic) && form.specs[1]?.startsWith('r') === true;
    let usedMem = false;
    for (const s of form.specs) {
      switch (s) {
        case 'rm8':
        case 'rm16':
        case 'rm32':
        case 'rm64':
          if (!rmRegOnly && !usedMem && rng.bool(0.35)) {
            usedMem = true;
            ops.push({ k: 'mem', off: this.memOffset(rng, specSize(s) / 8) });
          } else {
            ops.push({ k: 'reg', r: rng.pick(REGS_BY_SIZE[specSize(s)]!) });
          }
          break;
        case 'r8':
        case 'r16':
        case 'r32':
        case 'r64':
          ops.push({ k: 'reg', r: rng.pick(REGS_BY_SIZE[specSize(s)]!) });
          break;
        case 'AL':
        case 'AX':
        case 'EAX':
        case 'RAX':
        case 'CL':
          ops.push({ k: 'reg', r: reg(s) });
          break;
        case '1':
          ops.push({ k: 'imm', v: 1 });
          break;
        case 'imm8':
          ops.push({ k: 'imm', v: COUNT_IMM.has(form.mnemonic) ? countValue(rng) : signedImm(rng, 8) });
          break;
        case 'imm16':
          ops.push({ k: 'imm', v: signedImm(rng, 16) });
          break;
        case 'imm32':
          ops.push({ k: 'imm', v: signedImm(rng, 32) });
          break;
        case 'imm64':
          ops.push({ k: 'imm64', v: interestingU64(rng) });
          break;
        case 'm': {
          // LEA: pure arithmetic on allowed registers; never R15 (its value must not leak).
          const addr32 = rng.bool(0.25);
          const pool = addr32 ? REGS32 : REGS64;
          const base = rng.bool(0.85) ? rng.pick(pool) : Register.None;
          const index = rng.bool(0.6) ? rng.pick(pool) : Register.None;
          const disp = rng.bool(0.3) ? 0 : signedImm(rng, rng.bool(0.5) ? 8 : 32);
          if (base === Register.None && index === Register.None) return null;
          ops.push({ k: 'lea', base, index, scale: rng.pick([1, 2, 4, 8]), disp });
          break;
        }
      }
    }
    return ops;
  }

  /** Instructions that make the next one interesting: known shift counts, divisions that fit. */
  private setup(rng: Rng, form: Form, ops: Operand[]): GenInstr[] {
    const m = form.mnemonic;
    if (SHIFT_OPS.has(m) && form.specs.includes('CL') && rng.bool(0.5)) {
      return [this.fixed('Mov_r8_imm8', [{ k: 'reg', r: CL }, { k: 'imm', v: countValue(rng) }])];
    }
    if ((m === 'Div' || m === 'Idiv') && rng.bool(0.7)) {
      const width = specSize(form.specs[0]!);
      const src = ops[0]!;
      // The setup must not clobber the divisor it prepares for.
      if (src.k === 'reg' && (gprSlot(src.r)!.idx === 0 || gprSlot(src.r)!.idx === 2)) return [];
      if (m === 'Div') {
        return width === 8
          ? [this.fixed('Movzx_r32_rm8', [{ k: 'reg', r: reg('EAX') }, { k: 'reg', r: reg('AL') }])]
          : [this.fixed('Xor_r32_rm32', [{ k: 'reg', r: reg('EDX') }, { k: 'reg', r: reg('EDX') }])];
      }
      const ext: Record<number, string> = { 8: 'Cbw', 16: 'Cwd', 32: 'Cdq', 64: 'Cqo' };
      return [this.fixed(ext[width]!, [])];
    }
    return [];
  }

  /** One random instruction, possibly preceded by setup instructions. */
  randomInstr(rng: Rng): GenInstr[] {
    for (let attempt = 0; attempt < 100; attempt++) {
      const form = this.pickForm(rng);
      const ops = this.operands(rng, form);
      if (!ops) continue;
      let ins: Instruction;
      try {
        ins = create(form.code, ops);
      } catch {
        continue; // e.g. an immediate that does not fit
      }
      let g: GenInstr;
      try {
        g = finish(ins, form, ops);
      } catch (e) {
        if (String(e).includes('generator bug')) throw e;
        continue; // e.g. AH together with a REX prefix
      }
      return [...this.setup(rng, form, ops), g];
    }
    throw new Error('generator: could not produce an encodable instruction');
  }

  /** Sequence `index` of the run with `seed`; reproducible on its own. */
  sequence(seed: number, index: number): Sequence {
    const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const instrs: GenInstr[] = [];
    for (let i = 0; i < this.length; i++) instrs.push(...this.randomInstr(rng));
    const regs = new BigUint64Array(REG_COUNT);
    for (let i = 0; i < 16; i++) regs[i] = interestingU64(rng) & MASK64;
    regs[4] = 0n;
    regs[SCRATCH_BASE_REG] = 0n;
    regs[RFLAGS] = BigInt(rng.u32() & 0x8d5) | 0x2n;
    const mem = new Uint8Array(this.memSize);
    rng.fill(mem);
    return assemble(seed, index, instrs, regs, mem);
  }
}

/** Lays out a list of instructions as one snippet. */
export function assemble(seed: number, index: number, instrs: GenInstr[], regs: BigUint64Array, mem: Uint8Array): Sequence {
  const offsets: number[] = [];
  let len = 0;
  for (const g of instrs) {
    offsets.push(len);
    len += g.bytes.length;
  }
  offsets.push(len);
  const code = new Uint8Array(len);
  instrs.forEach((g, i) => code.set(g.bytes, offsets[i]!));
  return { seed, index, instrs, offsets, code, regs, mem };
}

/** The first `n` instructions of a sequence, same inputs. */
export function prefix(seq: Sequence, n: number): Sequence {
  return assemble(seq.seed, seq.index, seq.instrs.slice(0, n), seq.regs, seq.mem);
}

export function toInput(seq: Sequence): SnippetInput {
  return { code: seq.code, regs: seq.regs, mem: seq.mem };
}
