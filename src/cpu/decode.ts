import { Decoder, Instruction, OpKind, DecoderOptions, Register, Mnemonic, FlowControl } from './iced.js';
import { REG, RegClass } from './regs.js';

/**
 * One decoded guest instruction, with every field the semantics need read out of iced-x86 once
 * (each iced getter is a JS→Wasm call, so translation reads them here and nowhere else).
 */
export interface Insn {
  code: number;
  mnemonic: number;
  len: number;
  /** Offset (EIP/RIP) of this instruction and of the next one. */
  ip: bigint;
  next: bigint;
  bitness: 16 | 32 | 64;
  opCount: number;
  opKind: number[];
  opReg: number[];
  /** Immediate of operand i (sign/zero extended as iced reports it), 0n if none. */
  imm: bigint[];
  memBase: number;
  memIndex: number;
  memScale: number;
  memDispl: bigint;
  /** Effective segment register (iced Register) of the memory operand. */
  memSeg: number;
  memSize: number;
  /** Address size in bytes (2, 4, 8). */
  addrSize: number;
  flow: number;
  rflagsRead: number;
  rflagsWritten: number;
  rflagsUndefined: number;
  rflagsModified: number;
  rep: boolean;
  repne: boolean;
  lock: boolean;
  segPrefix: number;
  branchTarget: bigint;
  farSel: number;
  farOff: number;
  isInvalid: boolean;
  /** Bytes of the instruction (for diagnostics and --stats). */
  bytes: Uint8Array;
  /** For stringops: iced's stack pointer increment etc. as needed. */
  stackInc: number;
}

function addrSizeOf(ins: Instruction, bitness: number): number {
  // Address size from the registers that form the address, else from the displacement size.
  const b = ins.memoryBase !== Register.None ? ins.memoryBase : ins.memoryIndex;
  if (b !== Register.None) {
    if (b === Register.RIP) return 8;
    if (b === Register.EIP) return 4;
    const info = REG[b];
    if (info.cls === RegClass.Gpr) return info.width;
  }
  const ds = ins.memoryDisplSize;
  if (ds === 2 || ds === 4 || ds === 8) return ds;
  return bitness / 8;
}

/** Mnemonics that move the stack pointer without being a call/return/interrupt (see toInsn). */
const STACK_MNEMONICS = new Set([Mnemonic.Push, Mnemonic.Pop, Mnemonic.Pushf, Mnemonic.Pushfd, Mnemonic.Pushfq, Mnemonic.Popf, Mnemonic.Popfd, Mnemonic.Popfq,
  Mnemonic.Pusha, Mnemonic.Pushad, Mnemonic.Popa, Mnemonic.Popad, Mnemonic.Enter, Mnemonic.Leave]);

function stringAddrSize(kind: number): number {
  switch (kind) {
    case OpKind.MemorySegSI: case OpKind.MemorySegDI: case OpKind.MemoryESDI: return 2;
    case OpKind.MemorySegESI: case OpKind.MemorySegEDI: case OpKind.MemoryESEDI: return 4;
    case OpKind.MemorySegRSI: case OpKind.MemorySegRDI: case OpKind.MemoryESRDI: return 8;
    default: return 0;
  }
}

/** Properties of an iced `Code` that never depend on the operands: read once per code, then cached. */
interface CodeInfo {
  mnemonic: number;
  flow: number;
  opCount: number;
  /**
   * RFLAGS read/written/undefined/modified for the general case (null until seen). iced refines them
   * for shifts and rotates by an immediate (the masked count) and for `xor r, r` / `sub r, r` (constant
   * results): those read the getters every time.
   */
  rflags: [number, number, number, number] | null;
}
const CODE_INFO: (CodeInfo | undefined)[] = [];
const COUNT_DEPENDENT = new Set([Mnemonic.Rol, Mnemonic.Ror, Mnemonic.Rcl, Mnemonic.Rcr, Mnemonic.Shl, Mnemonic.Sal, Mnemonic.Shr, Mnemonic.Sar, Mnemonic.Shld, Mnemonic.Shrd]);

function codeInfo(ins: Instruction, code: number): CodeInfo {
  let ci = CODE_INFO[code];
  if (!ci) {
    ci = { mnemonic: ins.mnemonic, flow: ins.flowControl, opCount: ins.opCount, rflags: null };
    CODE_INFO[code] = ci;
  }
  return ci;
}

function rflagsOf(ins: Instruction, ci: CodeInfo, opKind: number[], opReg: number[]): [number, number, number, number] {
  const special = COUNT_DEPENDENT.has(ci.mnemonic) || (opKind.length >= 2 && opKind[0] === OpKind.Register && opKind[1] === OpKind.Register && opReg[0] === opReg[1]);
  if (!special && ci.rflags) return ci.rflags;
  const r: [number, number, number, number] = [ins.rflagsRead, ins.rflagsWritten, ins.rflagsUndefined, ins.rflagsModified];
  if (!special) ci.rflags = r;
  return r;
}

/** Legacy prefixes seen in the instruction's bytes (REX bytes, which may sit between them in 64-bit mode, skipped). */
function prefixBits(bytes: Uint8Array, bitness: number): number {
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0xf0) bits |= 1;
    else if (b === 0xf2 || b === 0xf3) bits |= 2;
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65) bits |= 4;
    else if (b !== 0x66 && b !== 0x67 && !(bitness === 64 && (b & 0xf0) === 0x40)) break;
  }
  return bits;
}

const STACK_CHANGING = new Set([FlowControl.Call, FlowControl.IndirectCall, FlowControl.Return, FlowControl.Interrupt]);

/**
 * Read a decoded iced `Instruction` into an `Insn`. Each iced getter is a JS→Wasm call (30–90 ns),
 * so this reads only what the instruction can have: per-code facts come from a cache, IP and length
 * from the decoder position, prefixes only when the bytes hold one, memory fields only with a
 * memory operand.
 */
export function toInsn(ins: Instruction, bitness: 16 | 32 | 64, bytes: Uint8Array, ip: bigint): Insn {
  const code = ins.code;
  const ci = codeInfo(ins, code);
  const opCount = ci.opCount;
  const opKind: number[] = [];
  const opReg: number[] = [];
  const imm: bigint[] = [];
  let hasMem = false, hasString = false;
  let addrSize = bitness / 8;
  let branchTarget = 0n, farSel = 0, farOff = 0;
  for (let i = 0; i < opCount; i++) {
    const k = ins.opKind(i);
    opKind.push(k);
    opReg.push(k === OpKind.Register ? ins.opRegister(i) : Register.None);
    if (k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64) imm.push(ins.immediate(i));
    else imm.push(0n);
    if (k === OpKind.Memory) hasMem = true;
    const sa = stringAddrSize(k);
    if (sa) { addrSize = sa; hasString = true; }
    if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) branchTarget = ins.nearBranchTarget;
    else if (k === OpKind.FarBranch16) { farSel = ins.farBranchSelector; farOff = ins.farBranch16; }
    else if (k === OpKind.FarBranch32) { farSel = ins.farBranchSelector; farOff = ins.farBranch32; }
  }
  if (hasMem) addrSize = addrSizeOf(ins, bitness);
  const mem = hasMem || hasString;
  const rflags = rflagsOf(ins, ci, opKind, opReg);
  const prefixes = prefixBits(bytes, bitness);
  const rep = (prefixes & 2) !== 0 && (ins.hasRepPrefix || ins.hasRepePrefix);
  const len = bytes.length;
  // the stack pointer moves for pushes/pops, calls/returns, ENTER/LEAVE, interrupts
  const stackInc = STACK_CHANGING.has(ci.flow) || STACK_MNEMONICS.has(ci.mnemonic) ? ins.stackPointerIncrement : 0;
  return {
    code,
    mnemonic: ci.mnemonic,
    len,
    ip,
    next: ip + BigInt(len),
    bitness,
    opCount,
    opKind,
    opReg,
    imm,
    memBase: hasMem ? ins.memoryBase : Register.None,
    memIndex: hasMem ? ins.memoryIndex : Register.None,
    memScale: hasMem ? ins.memoryIndexScale : 1,
    memDispl: hasMem ? ins.memoryDisplacement : 0n,
    memSeg: mem ? ins.memorySegment : Register.None,
    memSize: mem ? ins.memorySize : 0,
    addrSize,
    flow: ci.flow,
    rflagsRead: rflags[0],
    rflagsWritten: rflags[1],
    rflagsUndefined: rflags[2],
    rflagsModified: rflags[3],
    rep,
    repne: (prefixes & 2) !== 0 && ins.hasRepnePrefix,
    lock: (prefixes & 1) !== 0 && ins.hasLockPrefix,
    segPrefix: prefixes & 4 ? ins.segmentPrefix : Register.None,
    branchTarget,
    farSel,
    farOff,
    isInvalid: code === 0,
    bytes,
    stackInc,
  };
}

/** Reusable decoding state: one iced Decoder per window of guest bytes (cached for a batch), one Instruction reused. */
export class InsnDecoder {
  private readonly ins = new Instruction();
  private readonly decoders = new Map<Uint8Array, Decoder>();

  /** Free the decoders of the windows decoded since the last call (iced copies each window once). */
  release(): void {
    for (const d of this.decoders.values()) d.free();
    this.decoders.clear();
  }

  /**
   * Decode instructions from `window` (guest bytes starting at offset `windowIp`), starting at `ip`,
   * calling `each` until it returns false or the window is exhausted. Decoders are cached per window
   * (same bitness) until `release`.
   */
  decodeRun(window: Uint8Array, windowIp: bigint, ip: bigint, bitness: 16 | 32 | 64, each: (insn: Insn) => boolean): void {
    const key = window;
    let dec = this.decoders.get(key);
    if (!dec) {
      dec = new Decoder(bitness, window, DecoderOptions.None);
      this.decoders.set(key, dec);
    }
    let pos = Number(ip - windowIp);
    dec.ip = ip;
    dec.position = pos;
    let cur = ip;
    // the position is tracked here rather than read back (each iced getter is a call into Wasm)
    while (pos < window.length) {
      dec.decodeOut(this.ins);
      const len = this.ins.length;
      if (len === 0) break;
      const insn = toInsn(this.ins, bitness, window.subarray(pos, pos + len), cur);
      pos += len;
      cur = insn.next;
      if (!each(insn)) break;
    }
  }
}
