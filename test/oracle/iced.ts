// iced-x86 is CommonJS (wasm-bindgen); this is the one place the oracle touches it
// so the interop shape lives in a single file.
import iced from 'iced-x86';

export const {
  Instruction,
  Code,
  Register,
  Encoder,
  Decoder,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  InstructionInfoFactory,
  MemoryOperand,
  MemorySizeExt,
  OpAccess,
  RflagsBits,
} = iced;
export type Instruction = iced.Instruction;
export type Register = iced.Register;
export type Code = iced.Code;
export type MemoryOperand = iced.MemoryOperand;

/** iced's RflagsBits → architectural RFLAGS bits. */
export function icedFlagsToX86(bits: number): bigint {
  let r = 0n;
  if (bits & RflagsBits.CF) r |= 0x1n;
  if (bits & RflagsBits.PF) r |= 0x4n;
  if (bits & RflagsBits.AF) r |= 0x10n;
  if (bits & RflagsBits.ZF) r |= 0x40n;
  if (bits & RflagsBits.SF) r |= 0x80n;
  if (bits & RflagsBits.OF) r |= 0x800n;
  return r;
}

/** The six status flags in iced's encoding. */
export const ALL_STATUS = RflagsBits.CF | RflagsBits.PF | RflagsBits.AF | RflagsBits.ZF | RflagsBits.SF | RflagsBits.OF;

/** Where a GPR operand lives: register index (encoding order), byte offset, size. */
export interface GprSlot {
  idx: number;
  off: number;
  size: number;
}

/** GPR register → slot, or undefined for non-GPRs. Built from iced's enum layout. */
export function gprSlot(reg: Register): GprSlot | undefined {
  return GPR_SLOTS.get(reg);
}

const GPR_SLOTS = new Map<Register, GprSlot>();
{
  const names64 = ['RAX', 'RCX', 'RDX', 'RBX', 'RSP', 'RBP', 'RSI', 'RDI', 'R8', 'R9', 'R10', 'R11', 'R12', 'R13', 'R14', 'R15'];
  const names32 = ['EAX', 'ECX', 'EDX', 'EBX', 'ESP', 'EBP', 'ESI', 'EDI', 'R8D', 'R9D', 'R10D', 'R11D', 'R12D', 'R13D', 'R14D', 'R15D'];
  const names16 = ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI', 'R8W', 'R9W', 'R10W', 'R11W', 'R12W', 'R13W', 'R14W', 'R15W'];
  const names8 = ['AL', 'CL', 'DL', 'BL', 'SPL', 'BPL', 'SIL', 'DIL', 'R8L', 'R9L', 'R10L', 'R11L', 'R12L', 'R13L', 'R14L', 'R15L'];
  const regEnum = Register as unknown as Record<string, number>;
  const put = (name: string, slot: GprSlot): void => {
    const v = regEnum[name];
    if (v === undefined) throw new Error(`iced has no register ${name}`);
    GPR_SLOTS.set(v as Register, slot);
  };
  for (let i = 0; i < 16; i++) {
    put(names64[i]!, { idx: i, off: 0, size: 8 });
    put(names32[i]!, { idx: i, off: 0, size: 4 });
    put(names16[i]!, { idx: i, off: 0, size: 2 });
    put(names8[i]!, { idx: i, off: 0, size: 1 });
  }
  ['AH', 'CH', 'DH', 'BH'].forEach((n, i) => put(n, { idx: i, off: 1, size: 1 }));
}

/** Register by name, e.g. reg('R8L'); throws on typos so tables fail loudly. */
export function reg(name: string): Register {
  const v = (Register as unknown as Record<string, number>)[name];
  if (v === undefined) throw new Error(`iced has no register ${name}`);
  return v as Register;
}
