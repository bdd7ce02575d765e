// iced-x86 is CommonJS (wasm-bindgen); re-export what the project uses under ESM.
import { createRequire } from 'node:module';
import type * as IcedTypes from 'iced-x86';

// Loading through require() skips Node's CommonJS export scan of the 900 KB glue (~150 ms at start-up).
const iced = createRequire(import.meta.url)('iced-x86') as typeof IcedTypes;

export const { Decoder, Instruction, Code, Mnemonic, OpKind, Register, FlowControl, RflagsBits, DecoderOptions, MemorySize, MemorySizeExt, CodeExt, Encoder, BlockEncoder, Formatter, FormatterSyntax, ConditionCode, InstructionInfoFactory, OpAccess, RepPrefixKind, CodeSize, MemoryOperand, CpuidFeature } = iced;
export type Decoder = IcedTypes.Decoder;
export type Instruction = IcedTypes.Instruction;
export type Code = IcedTypes.Code;
export type Mnemonic = IcedTypes.Mnemonic;
export type Register = IcedTypes.Register;
