import { FnBody, T, type TableFn } from '../../jit/wasm/encoder.js';
import { GPR, RIP, FLAG_OP, FLAG_RES, FLAG_A, FLAG_B, FLAG_AUX, RFLAGS, segOff, SEG_BASE, XMM, ICOUNT, HOT_ICOUNT } from '../state-layout.js';
import type { Insn } from '../decode.js';
import type { Cpu } from '../cpu.js';
import { REG, RegClass } from '../regs.js';
import { OpKind, Register } from '../iced.js';
import { MEMSIZE_BYTES } from '../memsize.js';
import { FK, flagOp, emitCond } from '../flags.js';
import { MODE_CS64, MODE_NOLIMIT_SHIFT, MODE_AC } from '../mode.js';
import { Tlb } from '../../mmu/tlb.js';
import { TLB_ENTRIES } from '../../mmu/layout.js';

/**
 * The runtime functions generated code calls, as slots of the runtime table (src/jit/runtime-module.ts)
 * with their signatures in the calling module.
 */
export interface RtFns {
  rd: TableFn[]; // by log2 size: rd8 rd16 rd32 rd64 : (i64 linear) -> i64
  wr: TableFn[]; // (i64 linear, i64 value)
  rds: TableFn[]; // rd and wr for accesses through SS in 64-bit mode (non-canonical: #SS(0))
  wrs: TableFn[];
  flagsGet: TableFn; // () -> i32
  helper: TableFn; // (i32 id) : calls a TypeScript helper bound at translation time
  ioIn: TableFn; // (port i32, size i32) -> i32
  ioOut: TableFn; // (port, size, value)
  raise: TableFn; // (vector, errcode) : throws a guest exception
  segCheck: TableFn; // (seg, offset i32, size, write) : limit/type check, throws #GP/#SS
  mul128: TableFn; // (a i64, b i64, signed i32) -> lo i64; hi in RET64
  div128: TableFn; // (hi, lo, divisor i64, signed i32, bytes i32) -> quotient; remainder in RET64 (raises #DE)
  dispatch: TableFn; // () : chain to the next block or return to the engine
  hot: TableFn; // (i32 table slot) : a cold block reached the hot threshold
}

export type HelperFn = () => void;

/**
 * Whether a helper returns control to the machine loop afterwards (a "kick"): needed when it may make
 * an interrupt deliverable, change timers, halt or stop; a pure computation (RDTSC, CPUID, SIMD
 * corner cases) goes straight on to the next block.
 */
export const enum Kick { Never, IfPending, Always }

/** Sizes as log2 for rd/wr tables. */
export const log2 = (b: number): number => (b === 1 ? 0 : b === 2 ? 1 : b === 4 ? 2 : 3);

export function maskOf(f: FnBody, bytes: number): void {
  if (bytes === 8) f.i64(-1, -1);
  else f.i64(bytes === 4 ? 0xffffffff : (1 << (bytes * 8)) - 1, 0);
}

/**
 * Translation context for one instruction inside a block. Semantics call these methods to emit Wasm;
 * the same semantics serve every tier (only the state access strategy differs between tiers).
 */
export class Gen {
  insn!: Insn;
  /** Static knowledge of the lazy-flags kind at this point in the block (-1 unknown). */
  lazyKind: FK | -1 = -1;
  lazyBytes = 8;
  /** Whether the flags this instruction writes are read later (liveness); when false, skip storing them. */
  flagsLive = true;
  /** Set when the instruction ended the block (it wrote RIP or transferred control). */
  ended = false;
  /** Set by semantics that must end the block after this instruction (mode changes, I/O, ...). */
  endAfter = false;
  /** Instructions retired in this block up to and including the current one. */
  retired = 0;
  /** Kick mode of helpers this instruction calls (system instructions set it; see Kick). */
  helperKick = Kick.Never;
  private memAddrLocal = -1;
  /** Address locals linearized through SS in 64-bit mode (their slow paths are RtFns.rds/wrs). */
  private readonly stackAddrs = new Set<number>();

  constructor(
    readonly f: FnBody,
    readonly mode: number,
    readonly rt: RtFns,
    readonly bindHelper: (fn: HelperFn, kick: Kick) => number,
    readonly cpu: Cpu,
  ) {}

  get is64(): boolean { return (this.mode & MODE_CS64) !== 0; }
  get bitness(): number { return this.insn.bitness; }

  beginInsn(insn: Insn): void {
    this.insn = insn;
    this.memAddrLocal = -1;
    this.stackAddrs.clear();
    this.helperKick = Kick.Never;
  }

  tmp64(): number { return this.f.local(T.i64); }
  tmp32(): number { return this.f.local(T.i32); }

  // ---- registers -------------------------------------------------------------------------
  // In the cold tier GPRs live in the state block; in a hot region (`regs` set) GPR n lives in Wasm
  // local regs[n] and the region spills them around anything that can observe the state block.

  /** Hot tier: the locals holding GPR 0-15 (null: registers are in the state block). */
  regs: number[] | null = null;
  /**
   * Hot tier: GPRs the region reads or writes (loaded on entry and after helpers) and writes
   * (stored before anything that can observe the state block) — bit n for GPR n. `seen` collects
   * them while generating.
   */
  regsUsed = 0xffff;
  regsWritten = 0xffff;
  seen = { used: 0, written: 0 };

  /** Push GPR n's bits at `width` bytes (high byte of the low word when hi8), zero-extended to i64. */
  private loadGpr(n: number, width: number, hi8: boolean): void {
    const f = this.f;
    if (this.regs) {
      this.seen.used |= 1 << n;
      f.get(this.regs[n]);
      if (hi8) f.i64(8, 0).i64ShrU();
      if (width < 8) { maskOf(f, width); f.i64And(); }
      return;
    }
    const off = GPR + n * 8 + (hi8 ? 1 : 0);
    f.i32(0);
    if (width === 8) f.i64Load(off);
    else if (width === 4) f.i64Load32U(off);
    else if (width === 2) f.i64Load16U(off);
    else f.i64Load8U(off);
  }

  /** Write GPR n at `width` bytes from an i64 local (x86 rules: 32-bit writes zero-extend, 8/16-bit merge). */
  private storeGpr(n: number, width: number, hi8: boolean, local: number): void {
    const f = this.f;
    if (this.regs) {
      this.seen.used |= 1 << n;
      this.seen.written |= 1 << n;
      const r = this.regs[n];
      if (width === 8) f.get(local);
      else if (width === 4) f.get(local).zext32();
      else {
        const mask = width === 2 ? 0xffff : 0xff;
        const shift = hi8 ? 8 : 0;
        f.get(r).i64(~(mask << shift), -1).i64And();
        f.get(local).i64(mask, 0).i64And();
        if (shift) f.i64(shift, 0).i64Shl();
        f.i64Or();
      }
      f.set(r);
      return;
    }
    const off = GPR + n * 8 + (hi8 ? 1 : 0);
    f.i32(0).get(local);
    if (width === 8) f.i64Store(off);
    else if (width === 4) f.zext32().i64Store(off);
    else if (width === 2) f.i64Store16(off);
    else f.i64Store8(off);
  }

  /** Hot tier: local counting the instructions retired since ICOUNT was last updated. */
  icountLocal = -1;

  /**
   * Region code, before leaving Wasm or letting TypeScript look: store the written register locals
   * to the state block and add the pending instruction count to ICOUNT (and HOT_ICOUNT).
   */
  spillRegs(): void {
    if (!this.regs) return;
    const f = this.f;
    for (let n = 0; n < 16; n++) if (this.regsWritten & (1 << n)) f.i32(0).get(this.regs[n]).i64Store(GPR + n * 8);
    if (this.icountLocal >= 0) {
      f.i32(0).i32(0).i64Load(ICOUNT).get(this.icountLocal).i64Add().i64Store(ICOUNT);
      f.i32(0).i32(0).i64Load(HOT_ICOUNT).get(this.icountLocal).i64Add().i64Store(HOT_ICOUNT);
      f.i64(0, 0).set(this.icountLocal);
    }
  }
  reloadRegs(): void {
    if (!this.regs) return;
    for (let n = 0; n < 16; n++) if (this.regsUsed & (1 << n)) this.f.i32(0).i64Load(GPR + n * 8).set(this.regs[n]);
  }

  /** Push GPR value (zero-extended i64) for an iced Register. */
  getReg(r: number): void {
    const info = REG[r];
    if (info.cls !== RegClass.Gpr) throw new Error(`getReg: not a GPR (${r})`);
    this.loadGpr(info.idx, info.width, info.hi8);
  }

  /** Write GPR from a local holding i64 (x86 rules: 32-bit writes zero-extend, 8/16-bit merge). */
  setRegFrom(r: number, local: number): void {
    const info = REG[r];
    if (info.cls !== RegClass.Gpr) throw new Error(`setReg: not a GPR (${r})`);
    this.storeGpr(info.idx, info.width, info.hi8, local);
  }

  /** Full 64-bit GPR by number (0-15). */
  getGpr(n: number): void { this.loadGpr(n, 8, false); }
  setGprFrom(n: number, local: number): void { this.storeGpr(n, 8, false, local); }
  /** Write GPR n at a width from a local (merging/zero-extending). */
  setGprWidthFrom(n: number, bytes: number, local: number): void { this.storeGpr(n, bytes, false, local); }
  getGprWidth(n: number, bytes: number): void { this.loadGpr(n, bytes, false); }

  // ---- operands --------------------------------------------------------------------------

  opBytes(i: number): number {
    const k = this.insn.opKind[i];
    if (k === OpKind.Register) return REG[this.insn.opReg[i]].width || 0;
    if (k === OpKind.Memory || (k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI)) return MEMSIZE_BYTES[this.insn.memSize];
    switch (k) {
      case OpKind.Immediate8: case OpKind.Immediate8_2nd: return 1;
      case OpKind.Immediate16: case OpKind.Immediate8to16: return 2;
      case OpKind.Immediate32: case OpKind.Immediate8to32: return 4;
      default: return 8;
    }
  }

  isMem(i: number): boolean { return this.insn.opKind[i] === OpKind.Memory; }
  isReg(i: number): boolean { return this.insn.opKind[i] === OpKind.Register; }

  /** Push the effective address (offset within the segment, masked to the address size) as i64. */
  effectiveAddress(): void {
    const d = this.insn;
    const f = this.f;
    if (d.memBase === Register.RIP || d.memBase === Register.EIP) {
      f.i64Big(d.addrSize === 4 ? d.memDispl & 0xffffffffn : d.memDispl);
      return;
    }
    let terms = 0;
    if (d.memBase !== Register.None) { this.getGprWidth(REG[d.memBase].idx, 8); terms++; }
    if (d.memIndex !== Register.None) {
      this.getGprWidth(REG[d.memIndex].idx, 8);
      if (d.memScale > 1) f.i64(Math.log2(d.memScale), 0).i64Shl();
      if (terms++) f.i64Add();
    }
    if (d.memDispl !== 0n || terms === 0) {
      f.i64Big(d.memDispl);
      if (terms++) f.i64Add();
    }
    if (d.addrSize === 4) f.zext32();
    else if (d.addrSize === 2) f.i64(0xffff, 0).i64And();
  }

  /** Segment slot index (0-5) for an iced segment Register. */
  segIndex(r: number): number {
    return r - Register.ES;
  }

  /**
   * Push the linear address for `offset` (i64 on stack) through segment `seg` (slot 0-5), applying
   * the base and, outside flat modes, a limit/type check for an access of `bytes` bytes.
   */
  linearize(seg: number, bytes: number, write: boolean): void {
    const f = this.f;
    if (this.is64) {
      // Stack references to non-canonical addresses raise #SS(0), not #GP (SDM vol. 3 §6.14): such
      // an address never hits the TLB, and the slow path the access then takes (rds/wrs) raises it.
      if (seg === 4 || seg === 5) f.i32(0).i64Load(segOff(seg, SEG_BASE)).i64Add();
      return;
    }
    if (!(this.mode & (1 << (MODE_NOLIMIT_SHIFT + seg)))) {
      const t = this.tmp64();
      f.set(t);
      f.i32(seg).get(t).i32WrapI64().i32(bytes).i32(write ? 1 : 0).callTable(this.rt.segCheck);
      f.get(t);
    }
    f.i32(0).i64Load(segOff(seg, SEG_BASE)).i64Add().zext32();
  }

  /** linearize the offset on the stack into a new local (which load and store then recognise as a stack address). */
  linearizeTo(seg: number, bytes: number, write: boolean): number {
    const t = this.tmp64();
    this.linearize(seg, bytes, write);
    this.f.set(t);
    if (this.is64 && seg === 2) this.stackAddrs.add(t);
    return t;
  }

  /** Linear address of the instruction's memory operand, computed once per instruction into a local. */
  memLinear(write: boolean, bytes?: number): number {
    if (this.memAddrLocal >= 0) return this.memAddrLocal;
    this.effectiveAddress();
    const t = this.linearizeTo(this.segIndex(this.insn.memSeg), bytes ?? this.opBytes(this.memOperandIndex()), write);
    this.memAddrLocal = t;
    return t;
  }

  private memOperandIndex(): number {
    for (let i = 0; i < this.insn.opCount; i++) if (this.insn.opKind[i] === OpKind.Memory) return i;
    return 0;
  }

  /** Push memory value at linear address in local `addr` (i64, zero-extended). */
  load(addr: number, bytes: number): void {
    this.alignCheck(addr, bytes);
    const f = this.f;
    const e = this.tlbEntry(addr), bank = this.tlbBank();
    // inline TLB hit path; the runtime function repeats the probe and handles the miss
    f.get(e).i64Load(bank);
    this.tlbTag(addr, bytes);
    f.i64Eq().if_(T.i64);
    f.get(addr).get(e).i64Load(bank + 16).i64Add().i32WrapI64();
    if (bytes === 1) f.i64Load8U(); else if (bytes === 2) f.i64Load16U(); else if (bytes === 4) f.i64Load32U(); else f.i64Load();
    f.else_();
    f.get(addr).callTable((this.stackAddrs.has(addr) ? this.rt.rds : this.rt.rd)[log2(bytes)]);
    f.end();
  }
  /** Store local `val` to linear address in local `addr`. */
  store(addr: number, bytes: number, val: number): void {
    this.alignCheck(addr, bytes);
    const f = this.f;
    const e = this.tlbEntry(addr), bank = this.tlbBank();
    f.get(e).i64Load(bank + 8);
    this.tlbTag(addr, bytes);
    f.i64Eq().if_();
    f.get(addr).get(e).i64Load(bank + 16).i64Add().i32WrapI64().get(val);
    if (bytes === 1) f.i64Store8(); else if (bytes === 2) f.i64Store16(); else if (bytes === 4) f.i64Store32(); else f.i64Store();
    f.else_();
    f.get(addr).get(val).callTable((this.stackAddrs.has(addr) ? this.rt.wrs : this.rt.wr)[log2(bytes)]);
    f.end();
  }

  /**
   * Local holding the offset of the TLB entry for linear address `addr` within its bank (entries
   * are 32 bytes, indexed by the page number's low bits: (addr >> 12) * 32 = addr >> 7, masked).
   */
  private tlbEntry(addr: number): number {
    const e = this.tmp32();
    this.f.get(addr).i32WrapI64().i32(7).i32ShrU().i32((TLB_ENTRIES - 1) << 5).i32And().set(e);
    return e;
  }
  /** The TLB bank's address (it follows the code's CPL), folded into the entry loads' offsets. */
  private tlbBank(): number { return Tlb.bankBase((this.mode & 3) === 3); }
  /** Push the tag an access of `bytes` at `addr` must match (its last byte's page: crossings miss). */
  private tlbTag(addr: number, bytes: number): void {
    this.f.get(addr);
    if (bytes > 1) this.f.i64(bytes - 1, 0).i64Add();
    this.f.i64(~0xfff, -1).i64And();
  }

  /** #AC(0) for a misaligned access while alignment checking is on (CR0.AM, RFLAGS.AC, CPL 3). */
  private alignCheck(addr: number, bytes: number): void {
    if (!(this.mode & MODE_AC) || bytes < 2) return;
    this.f.get(addr).i32WrapI64().i32(bytes - 1).i32And().if_();
    this.raise(17, 0);
    this.f.end();
  }

  /** Push operand i's value (i64, zero-extended from its width; immediates as iced extended them, masked to `bytes`). */
  readOp(i: number, bytes = this.opBytes(i)): void {
    const d = this.insn;
    const k = d.opKind[i];
    if (k === OpKind.Register) { this.getReg(d.opReg[i]); return; }
    if (k === OpKind.Memory) { this.load(this.memLinear(false, bytes), bytes); return; }
    if (k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64) {
      this.f.i64BigWidth(d.imm[i], bytes);
      return;
    }
    throw new Error(`readOp: operand kind ${k} unsupported`);
  }

  /**
   * Push operand i's low 32 bits as an i32 (a 32-bit operand). Arithmetic on 32-bit operands done
   * in i32 compiles to single 32-bit host instructions; done in i64 between masks, each mask is a
   * zero-extending move on the dependency chain.
   */
  readOp32(i: number): void {
    const d = this.insn;
    const k = d.opKind[i];
    const f = this.f;
    if (k === OpKind.Register) {
      const info = REG[d.opReg[i]];
      if (info.cls === RegClass.Gpr && info.width === 4) { this.gpr32(info.idx); return; }
    } else if (k >= OpKind.Immediate8 && k <= OpKind.Immediate32to64) {
      f.i32(Number(BigInt.asIntN(32, d.imm[i])));
      return;
    }
    this.readOp(i, 4);
    f.i32WrapI64();
  }

  /** Push GPR n's low 32 bits as an i32. */
  private gpr32(n: number): void {
    if (this.regs) { this.seen.used |= 1 << n; this.f.get(this.regs[n]).i32WrapI64(); }
    else this.f.i32(0).i32Load(GPR + n * 8);
  }

  /**
   * Push the effective address's low 32 bits as an i32 (for a 32-bit LEA: the same bits as the
   * 64-bit sum, in one 32-bit host instruction). Not for 16-bit addressing.
   */
  effectiveAddress32(): void {
    const d = this.insn;
    const f = this.f;
    const disp = Number(BigInt.asIntN(32, d.memDispl));
    if (d.memBase === Register.RIP || d.memBase === Register.EIP) { f.i32(disp); return; }
    let terms = 0;
    if (d.memBase !== Register.None) { this.gpr32(REG[d.memBase].idx); terms++; }
    if (d.memIndex !== Register.None) {
      this.gpr32(REG[d.memIndex].idx);
      if (d.memScale > 1) f.i32(Math.log2(d.memScale)).i32Shl();
      if (terms++) f.i32Add();
    }
    if (disp !== 0 || terms === 0) {
      f.i32(disp);
      if (terms++) f.i32Add();
    }
  }

  /** Write local `val` to operand i (register or memory). */
  writeOp(i: number, val: number, bytes = this.opBytes(i)): void {
    const d = this.insn;
    const k = d.opKind[i];
    if (k === OpKind.Register) { this.setRegFrom(d.opReg[i], val); return; }
    if (k === OpKind.Memory) { this.store(this.memLinear(true, bytes), bytes, val); return; }
    throw new Error(`writeOp: operand kind ${k} unsupported`);
  }

  // ---- flags -----------------------------------------------------------------------------

  /** Record lazy flags for an operation whose operands and result are in locals. */
  setFlags(kind: FK, bytes: number, res: number, a: number, b: number, aux?: number): void {
    this.lazyKind = kind;
    this.lazyBytes = bytes;
    if (!this.flagsLive) return;
    const f = this.f;
    f.i32(0).i32(flagOp(kind, bytes)).i32Store(FLAG_OP);
    f.i32(0).get(res).i64Store(FLAG_RES);
    f.i32(0).get(a).i64Store(FLAG_A);
    f.i32(0).get(b).i64Store(FLAG_B);
    if (aux !== undefined) f.i32(0).get(aux).i64Store(FLAG_AUX);
  }

  /** Push i32 condition (x86 cc 0-15). */
  cond(cc: number): void {
    emitCond(this.f, cc, this.lazyKind, this.lazyBytes, this.rt.flagsGet);
  }

  /** Push the current CF as i64 0/1. */
  carryI64(): void {
    this.cond(2);
    this.f.i64ExtendI32U();
  }

  /**
   * Materialize flags (lazy state → RFLAGS) so that eager partial updates can follow. Pushes nothing.
   * Nothing to do when liveness found the update dead (see EAGER in src/jit/liveness.ts).
   */
  materializeFlags(): void {
    if (!this.flagsLive) return;
    this.f.callTable(this.rt.flagsGet).drop();
    this.lazyKind = FK.NONE;
  }

  /**
   * Eagerly set some RFLAGS bits (after materializeFlags): `mask` bits are replaced by the i32 on
   * top of the stack (already positioned).
   */
  writeFlagBits(mask: number): void {
    const f = this.f;
    if (!this.flagsLive) { f.drop(); return; }
    const t = this.tmp32();
    f.set(t);
    f.i32(0);
    f.i32(0).i32Load(RFLAGS).i32(~mask).i32And();
    f.get(t).i32(mask).i32And().i32Or();
    f.i32Store(RFLAGS);
  }

  // ---- control ---------------------------------------------------------------------------

  /** Store RIP = this instruction's address (so that a fault or helper sees a precise RIP). */
  syncRip(): void { this.f.i32(0).i64Big(this.insn.ip).i64Store(RIP); }

  /** Store RIP from an i64 local (masked to operand size by the caller) and end the block. */
  jumpTo(local: number): void {
    this.f.i32(0).get(local).i64Store(RIP);
    this.ended = true;
  }

  jumpConst(target: bigint): void {
    this.f.i32(0).i64Big(target).i64Store(RIP);
    this.ended = true;
  }

  /** Account this block's retired instructions; called by the translator before every exit. */
  addIcount(n: number): void {
    if (n === 0) return;
    if (this.icountLocal >= 0) this.f.get(this.icountLocal).i64(n, 0).i64Add().set(this.icountLocal);
    else this.f.i32(0).i32(0).i64Load(ICOUNT).i64(n, 0).i64Add().i64Store(ICOUNT);
  }

  /** Leave the block now (after storing RIP): account the instructions retired before this one. */
  exitBlock(): void {
    this.addIcount(this.retired);
    this.spillRegs();
    this.f.return_();
  }

  /** Raise a guest exception (the import throws, so nothing after it runs). */
  raise(vector: number, err = -1): void {
    this.syncRip();
    this.f.i32(vector).i32(err).callTable(this.rt.raise);
  }

  /** Store operand i's value into a helper argument slot (HELPER_ARG0/1). */
  argFromOp(i: number, slot: number, bytes = this.opBytes(i)): void {
    const t = this.tmp64();
    this.readOp(i, bytes); this.f.set(t);
    this.f.i32(0).get(t).i64Store(slot);
  }
  /** Store the memory operand's linear address into a helper argument slot. */
  argFromAddr(slot: number, write: boolean, bytes?: number): void {
    const a = this.memLinear(write, bytes);
    this.f.i32(0).get(a).i64Store(slot);
  }
  /** Write a helper's result (left in a slot) to operand i. */
  opFromArg(i: number, slot: number, bytes = this.opBytes(i)): void {
    const t = this.tmp64();
    this.f.i32(0).i64Load(slot).set(t);
    this.writeOp(i, t, bytes);
  }

  /** Call a TypeScript helper without syncing RIP (block epilogues: RIP already holds the next instruction). */
  callHelperNoSync(fn: HelperFn): void {
    this.f.i32(this.bindHelper(fn, Kick.Always)).callTable(this.rt.helper);
  }

  /** Call a TypeScript helper bound now; RIP is synced first so helpers see this instruction. */
  callHelper(fn: HelperFn): void {
    const id = this.bindHelper(fn, this.helperKick);
    this.syncRip();
    this.f.i32(id).callTable(this.rt.helper);
  }

  // ---- XMM -------------------------------------------------------------------------------
  xmmOff(r: number): number { return XMM + REG[r].idx * 16; }
}
