import { Decoder, Instruction, OpKind, DecoderOptions, Register } from './iced.js';
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

function stringAddrSize(kind: number): number {
  switch (kind) {
    case OpKind.MemorySegSI: case OpKind.MemorySegDI: case OpKind.MemoryESDI: return 2;
    case OpKind.MemorySegESI: case OpKind.MemorySegEDI: case OpKind.MemoryESEDI: return 4;
    case OpKind.MemorySegRSI: case OpKind.MemorySegRDI: case OpKind.MemoryESRDI: return 8;
    default: return 0;
  }
}

export function toInsn(ins: Instruction, bitness: 16 | 32 | 64, bytes: Uint8Array): Insn {
  const opCount = ins.opCount;
  const opKind: number[] = [];
  const opReg: number[] = [];
  const imm: bigint[] = [];
  let hasMem = false;
  let addrSize = bitness / 8;
  for (let i = 0; i < opCount; i++) {
    const k = ins.opKind(i);
    opKind.push(k);
    opReg.push(k === OpKind.Register ? ins.opRegister(i) : Register.None);
    if (k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64) imm.push(ins.immediate(i));
    else imm.push(0n);
    if (k === OpKind.Memory) hasMem = true;
    const sa = stringAddrSize(k);
    if (sa) addrSize = sa;
  }
  if (hasMem) addrSize = addrSizeOf(ins, bitness);
  const flow = ins.flowControl;
  let branchTarget = 0n;
  let farSel = 0;
  let farOff = 0;
  for (const k of opKind) {
    if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) branchTarget = ins.nearBranchTarget;
    if (k === OpKind.FarBranch16) { farSel = ins.farBranchSelector; farOff = ins.farBranch16; }
    if (k === OpKind.FarBranch32) { farSel = ins.farBranchSelector; farOff = ins.farBranch32; }
  }
  return {
    code: ins.code,
    mnemonic: ins.mnemonic,
    len: ins.length,
    ip: ins.ip,
    next: ins.nextIP,
    bitness,
    opCount,
    opKind,
    opReg,
    imm,
    memBase: hasMem ? ins.memoryBase : Register.None,
    memIndex: hasMem ? ins.memoryIndex : Register.None,
    memScale: hasMem ? ins.memoryIndexScale : 1,
    memDispl: hasMem ? ins.memoryDisplacement : 0n,
    memSeg: ins.memorySegment,
    memSize: ins.memorySize,
    addrSize,
    flow,
    rflagsRead: ins.rflagsRead,
    rflagsWritten: ins.rflagsWritten,
    rflagsUndefined: ins.rflagsUndefined,
    rflagsModified: ins.rflagsModified,
    rep: ins.hasRepPrefix || ins.hasRepePrefix,
    repne: ins.hasRepnePrefix,
    lock: ins.hasLockPrefix,
    segPrefix: ins.segmentPrefix,
    branchTarget,
    farSel,
    farOff,
    isInvalid: ins.isInvalid,
    bytes,
    stackInc: ins.stackPointerIncrement,
  };
}

/** Reusable decoding state: one iced Decoder per window of guest bytes, one Instruction reused. */
export class InsnDecoder {
  private readonly ins = new Instruction();

  /**
   * Decode instructions from `window` (guest bytes starting at offset `windowIp`), starting at `ip`,
   * calling `each` until it returns false or the window is exhausted (then `truncated` is reported).
   */
  decodeRun(window: Uint8Array, windowIp: bigint, ip: bigint, bitness: 16 | 32 | 64, each: (insn: Insn) => boolean): void {
    const dec = new Decoder(bitness, window, DecoderOptions.None);
    try {
      dec.ip = ip;
      dec.position = Number(ip - windowIp);
      while (dec.canDecode) {
        const start = dec.position;
        dec.decodeOut(this.ins);
        const bytes = window.subarray(start, dec.position);
        const insn = toInsn(this.ins, bitness, bytes);
        if (!each(insn)) break;
      }
    } finally {
      dec.free();
    }
  }
}
