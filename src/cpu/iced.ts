// iced-x86 is CommonJS (wasm-bindgen); re-export what the project uses under ESM.
import iced from 'iced-x86';

export const { Decoder, Instruction, Code, Mnemonic, OpKind, Register, FlowControl, RflagsBits, DecoderOptions, MemorySize, Encoder, BlockEncoder, Formatter, FormatterSyntax, ConditionCode, InstructionInfoFactory, OpAccess, RepPrefixKind, CodeSize, MemoryOperand, CpuidFeature } = iced;
export type Decoder = iced.Decoder;
export type Instruction = iced.Instruction;
export type Code = iced.Code;
export type Mnemonic = iced.Mnemonic;
export type Register = iced.Register;
