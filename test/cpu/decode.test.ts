import { describe, it, expect } from 'vitest';
import { Decoder, DecoderOptions, Instruction, OpKind, Register } from '../../src/cpu/iced.js';
import { InsnDecoder, type Insn } from '../../src/cpu/decode.js';

/** Every Insn field straight from iced's getters: what toInsn's shortcuts must reproduce. */
function reference(ins: Instruction): Partial<Insn> {
  const opKind: number[] = [], opReg: number[] = [], imm: bigint[] = [];
  let branchTarget = 0n, farSel = 0, farOff = 0;
  for (let i = 0; i < ins.opCount; i++) {
    const k = ins.opKind(i);
    opKind.push(k);
    opReg.push(k === OpKind.Register ? ins.opRegister(i) : Register.None);
    imm.push(k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64 ? ins.immediate(i) : 0n);
    if (k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64) branchTarget = ins.nearBranchTarget;
    if (k === OpKind.FarBranch16) { farSel = ins.farBranchSelector; farOff = ins.farBranch16; }
    if (k === OpKind.FarBranch32) { farSel = ins.farBranchSelector; farOff = ins.farBranch32; }
  }
  const hasMem = opKind.includes(OpKind.Memory);
  const mem = hasMem || opKind.some((k) => k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI);
  return {
    code: ins.code, mnemonic: ins.mnemonic, len: ins.length, ip: ins.ip, next: ins.nextIP, opCount: ins.opCount, opKind, opReg, imm,
    memBase: hasMem ? ins.memoryBase : Register.None, memIndex: hasMem ? ins.memoryIndex : Register.None,
    memScale: hasMem ? ins.memoryIndexScale : 1, memDispl: hasMem ? ins.memoryDisplacement : 0n,
    memSeg: mem ? ins.memorySegment : Register.None, memSize: mem ? ins.memorySize : 0,
    flow: ins.flowControl, rflagsRead: ins.rflagsRead, rflagsWritten: ins.rflagsWritten, rflagsUndefined: ins.rflagsUndefined, rflagsModified: ins.rflagsModified,
    rep: ins.hasRepPrefix || ins.hasRepePrefix, repne: ins.hasRepnePrefix, lock: ins.hasLockPrefix, segPrefix: ins.segmentPrefix,
    branchTarget, farSel, farOff, isInvalid: ins.isInvalid, stackInc: ins.stackPointerIncrement,
  };
}

/** xorshift32: reproducible random bytes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

describe('instruction decoding (toInsn shortcuts vs every iced getter)', () => {
  for (const bitness of [16, 32, 64] as const) {
    it(`${bitness}-bit: 20,000 random instructions decode to the same Insn`, () => {
      const next = rng(bitness * 7919);
      const bytes = new Uint8Array(4096 + 15);
      // random bytes with prefixes and common opcodes over-represented
      const common = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x48, 0x0f, 0xd1, 0xc1, 0xd3, 0xc0, 0xff, 0xe8, 0xc3, 0xc2, 0x50, 0x58, 0xa4, 0xab];
      const insDecoder = new InsnDecoder();
      const ref = new Instruction();
      let checked = 0;
      try {
        for (let round = 0; round < 40 && checked < 20000; round++) {
          for (let i = 0; i < bytes.length; i++) bytes[i] = next() % 3 === 0 ? common[next() % common.length] : next() & 0xff;
          const window = bytes.slice();
          const windowIp = 0x7000n + BigInt(round) * 0x10000n;
          const refDec = new Decoder(bitness, window, DecoderOptions.None);
          refDec.ip = windowIp;
          const got: Insn[] = [];
          insDecoder.decodeRun(window, windowIp, windowIp, bitness, (d) => { got.push(d); return d.ip - windowIp < 4000n; });
          insDecoder.release();
          for (const d of got) {
            refDec.decodeOut(ref);
            const want = reference(ref);
            const have: Record<string, unknown> = {};
            for (const k of Object.keys(want)) have[k] = d[k as keyof Insn];
            expect(have, `bytes ${Array.from(d.bytes, (b) => b.toString(16)).join(' ')}`).toEqual(want);
            checked++;
          }
          refDec.free();
        }
      } finally {
        ref.free();
      }
      expect(checked).toBeGreaterThan(5000);
    });
  }
});
