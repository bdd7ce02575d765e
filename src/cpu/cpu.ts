import { CpuState } from './state.js';
import * as L from './state-layout.js';
import { PageWalker, ACC_WRITE, ACC_USER, ACC_EXEC, ACC_IMPLICIT, CR0_PE, EFER_LMA, canonicalHi } from '../mmu/paging.js';
import { Tlb } from '../mmu/tlb.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { IoBus } from '../devices/iobus.js';
import type { InterruptController } from '../devices/types.js';
import { fault, Vec, GuestFault } from './exception.js';
import { MODE_PE, MODE_CS64, MODE_CS32, MODE_SS32, MODE_LMA, MODE_NOLIMIT_SHIFT, MODE_AC, MODE_VM86, MODE_TF } from './mode.js';
import { Seg, STACK_ACCESS } from './state-layout.js';
import { GUEST_PAGE, RAM_BASE } from '../mmu/layout.js';

export const ATTR_P = 0x80, ATTR_S = 0x10, ATTR_L = 1 << 13, ATTR_DB = 1 << 14, ATTR_G = 1 << 15, ATTR_UNUSABLE = 1 << 16;

export interface CpuStats {
  ud: Map<string, number>;
  exceptions: number[];
  interrupts: number;
  tlbMisses: number;
}

/** Hooks the execution engine provides so that the CPU can keep translated code coherent. */
export interface CodeCoherence {
  /** Physical page holds translated code: writes there must invalidate. */
  isCodePage(physPage: number): boolean;
  /** A write hit bytes [addr, addr + len) of a code page (not past its end): drop the translations holding them. */
  invalidatePhys(addr: number, len: number): void;
  /** Forget linear→code lookups: all of them, or (a CR3 write) those not fetched through global pages. */
  flushLinear(includeGlobal: boolean): void;
  /** INVLPG: the mapping of the page at linear (lo, hi) changed (and any large page around it). */
  flushLinearPage(lo: number, hi: number): void;
}

/**
 * One x86-64 CPU: the architectural state in the shared memory plus the TypeScript paths that
 * generated code calls (TLB misses, helpers). Instruction semantics are not here: see sem/.
 */
export class Cpu {
  readonly st: CpuState;
  readonly walker: PageWalker;
  readonly tlb: Tlb;
  intc: InterruptController | null = null;
  /**
   * After a device access (port or MMIO): whether the machine loop must run before the next block
   * (an interrupt or NMI became pending, a timer now falls due before the running slice ends, a
   * stop was requested). The machine sets it; the default is always.
   */
  deviceKick: () => boolean = () => true;
  code: CodeCoherence = { isCodePage: () => false, invalidatePhys: () => {}, flushLinear: () => {}, flushLinearPage: () => {} };
  /** Page size mask of the last instruction-fetch translation (0xfff, 0x1fffff, …). */
  lastFetchPageMask = 0xfff;
  /** Whether the last fetchPhys went through a global translation (it survives CR3 writes). */
  lastFetchGlobal = false;
  halted = false;
  /** Interrupts inhibited until after the next instruction (STI, MOV SS, POP SS). */
  intShadow = false;
  /** Set by helpers to stop the dispatcher after the current block (exit, reset, power-off). */
  stopRequested = false;
  readonly stats: CpuStats = { ud: new Map(), exceptions: new Array(32).fill(0), interrupts: 0, tlbMisses: 0 };
  private readonly u8: Uint8Array;
  private readonly dv: DataView;
  /** Local APIC hooks: CR8 ↔ TPR, and MSRs the APIC owns (APIC_BASE, x2APIC, TSC_DEADLINE). */
  setTpr?: (v: number) => void;
  getTpr?: () => number;
  /** MSRs owned by a device: returns [lo, hi] or null when not its MSR; write returns false when not its MSR. */
  msrDevice: { readMsr(msr: number): [number, number] | null; writeMsr(msr: number, lo: number, hi: number): boolean } | null = null;
  /**
   * Intercepts event delivery (vector, kind, error code): return true to consume the event instead
   * of delivering it through the IDT. Used by the snippet runner and, later, by VT-x exiting.
   */
  onEvent: ((vector: number, kind: number, err: number) => boolean) | null = null;
  /** Told when a guest write to IA32_TSC changes the TSC offset (the local APIC's TSC-deadline timer needs it). */
  tscOffsetChanged: ((offset: bigint) => void) | null = null;
  /** Called to read the TSC (guest ns at 1 GHz, before TSC_OFFSET). */
  tscSource: () => number = () => 0;
  /** RDTSC may compute ICOUNT + TSC_BASE + TSC_OFFSET in generated code (the clock runs at 1 ns per instruction). */
  inlineTsc = false;

  constructor(readonly memory: WebAssembly.Memory, readonly phys: PhysMem, readonly io: IoBus) {
    this.st = new CpuState(memory);
    this.walker = new PageWalker(this.st, phys);
    this.tlb = new Tlb(memory);
    this.u8 = new Uint8Array(memory.buffer);
    this.dv = new DataView(memory.buffer);
    this.bounce = new Uint8Array(memory.buffer, L.BOUNCE, 16);
  }
  private readonly bounce: Uint8Array;

  /** Make chained blocks return to the dispatcher at the end of the current block. */
  kick(): void {
    this.st.u32[L.DEADLINE >> 2] = 0;
    this.st.u32[(L.DEADLINE >> 2) + 1] = 0;
  }

  // ---- mode ---------------------------------------------------------------------------------

  /** Recompute the MODE word and the TLB bank after any change to CS/SS/segments/CR0/CR4/EFER/RFLAGS.AC. */
  updateMode(): void {
    const st = this.st;
    const cr0 = st.cr0;
    const pe = (cr0 & CR0_PE) !== 0;
    const rflags = st.get32(L.RFLAGS);
    const vm = pe && (rflags & (1 << 17)) !== 0;
    const lma = (st.efer & EFER_LMA) !== 0;
    const csAttr = st.segAttr(Seg.CS);
    const cpl = !pe ? 0 : vm ? 3 : st.segSel(Seg.CS) & 3;
    let mode = cpl | (pe ? MODE_PE : 0) | (vm ? MODE_VM86 : 0) | (lma ? MODE_LMA : 0);
    const cs64 = lma && (csAttr & ATTR_L) !== 0;
    if (cs64) mode |= MODE_CS64;
    else if (csAttr & ATTR_DB) mode |= MODE_CS32;
    // 64-bit code ignores SS.B (the stack pointer is RSP): leaving it out keeps Linux's code one
    // translation, whether SS holds its data selector or the null selector SYSRET/IRET leave behind
    if (!cs64 && st.segAttr(Seg.SS) & ATTR_DB) mode |= MODE_SS32;
    for (let s = 0; s < 6; s++) {
      if (cs64 || this.segIsFlat(s)) mode |= 1 << (MODE_NOLIMIT_SHIFT + s);
    }
    if ((cr0 & (1 << 18)) && (rflags & (1 << 18)) && cpl === 3) mode |= MODE_AC;
    if (rflags & (1 << 8)) mode |= MODE_TF;
    st.mode = mode;
    st.set32(L.TLB_BANK, Tlb.bankBase(cpl === 3));
  }

  /** A segment whose accesses need no limit or type check: 4 GiB expand-up, usable, writable data or readable code. */
  private segIsFlat(s: number): boolean {
    const st = this.st;
    const a = st.segAttr(s);
    if (a & ATTR_UNUSABLE) return false;
    if (st.segLimit(s) !== 0xffffffff) return false;
    if (!(this.st.cr0 & CR0_PE)) return true; // real mode with 4 GiB limits ("unreal mode")
    if (!(a & ATTR_P) || !(a & ATTR_S)) return false;
    const type = a & 0xf;
    if (type & 8) return (type & 2) !== 0 && s !== Seg.SS; // code: readable (SS can never hold code)
    return (type & 4) === 0 && (type & 2) !== 0; // data: expand-up, writable
  }

  get cpl(): number { return this.st.mode & 3; }
  get is64(): boolean { return (this.st.mode & MODE_CS64) !== 0; }
  get inLongMode(): boolean { return (this.st.efer & EFER_LMA) !== 0; }
  get protectedMode(): boolean { return (this.st.cr0 & CR0_PE) !== 0; }

  // ---- flags ----------------------------------------------------------------------------------

  /** Materialize lazy flags and return RFLAGS (low 32 bits; the upper half is reserved zero). */
  flagsGet: () => number = () => this.st.get32(L.RFLAGS);
  getRflags(): number { return this.flagsGet() >>> 0; }
  setRflags(v: number): void {
    this.st.set32(L.RFLAGS, (v & 0x3f7fd5) | 2);
    this.st.set32(L.RFLAGS + 4, 0);
    this.st.set32(L.FLAG_OP, 0);
  }

  // ---- linear memory for TypeScript helpers -------------------------------------------------

  private accFor(write: boolean, implicitSupervisor = false): number {
    let a = write ? ACC_WRITE : 0;
    if (implicitSupervisor) a |= ACC_IMPLICIT;
    else if (this.cpl === 3) a |= ACC_USER;
    return a;
  }

  /** Physical address of a linear byte for a data access by TypeScript code (throws #PF/#GP). */
  linToPhys(lo: number, hi: number, write: boolean, implicitSupervisor = false): number {
    return this.walker.translate(lo, hi, this.accFor(write, implicitSupervisor)).phys;
  }

  /** Read `size` (1..8) bytes at a linear address; returns BigInt (system paths only). */
  readLin(addr: bigint, size: number, implicitSupervisor = false): bigint {
    let v = 0n;
    const a = BigInt.asUintN(64, addr);
    const lo = Number(a & 0xffffffffn);
    if ((size === 8 || size === 4 || size === 2 || size === 1) && (lo & 0xfff) + size <= 0x1000) {
      // within one page: one walk, whole words (the common case: stack frames, descriptors, TSS fields)
      const p = this.linToPhys(lo, Number(a >> 32n), false, implicitSupervisor);
      if (size === 8) return BigInt(this.phys.read32(p)) | (BigInt(this.phys.read32(p + 4)) << 32n);
      return BigInt(this.phys.read(p, size));
    }
    // translate each page touched before reading (an access either completes or faults)
    const physs = this.pagesOf(a, size, false, implicitSupervisor);
    let page = 0;
    let p = physs[0];
    for (let i = 0; i < size; i++) {
      if (i > 0 && ((lo + i) & 0xfff) === 0) p = physs[++page];
      v |= BigInt(this.phys.read8(p)) << BigInt(8 * i);
      p++;
    }
    return v;
  }

  /** Physical address of the first byte, then of each page start, that an access of `size` bytes touches. */
  private pagesOf(a: bigint, size: number, write: boolean, implicitSupervisor: boolean): number[] {
    const physs: number[] = [];
    for (let i = 0; i < size; i++) {
      const x = BigInt.asUintN(64, a + BigInt(i));
      if (i === 0 || Number(x & 0xfffn) === 0) physs.push(this.linToPhys(Number(x & 0xffffffffn), Number(x >> 32n), write, implicitSupervisor));
    }
    return physs;
  }

  writeLin(addr: bigint, size: number, value: bigint, implicitSupervisor = false): void {
    const a = BigInt.asUintN(64, addr);
    const lo = Number(a & 0xffffffffn);
    if ((size === 8 || size === 4 || size === 2 || size === 1) && (lo & 0xfff) + size <= 0x1000) {
      // PhysMem.write keeps translated code coherent (its onWrite hook)
      const p = this.linToPhys(lo, Number(a >> 32n), true, implicitSupervisor);
      const v = BigInt.asUintN(64, value);
      if (size === 8) {
        this.phys.write32(p, Number(v & 0xffffffffn));
        this.phys.write32(p + 4, Number(v >> 32n));
      } else this.phys.write(p, size, Number(v & 0xffffffffn));
      return;
    }
    const physs = this.pagesOf(a, size, true, implicitSupervisor);
    let page = 0;
    let p = physs[0];
    for (let i = 0; i < size; i++) {
      if (i > 0 && ((lo + i) & 0xfff) === 0) p = physs[++page];
      this.phys.write8(p, Number((value >> BigInt(8 * i)) & 0xffn));
      p++;
    }
  }

  /** Linear address of seg:offset for a TypeScript helper (no limit check; callers check where the SDM requires). */
  segLinear(seg: number, off: bigint): bigint {
    if (this.is64) return seg === Seg.FS || seg === Seg.GS ? BigInt.asUintN(64, this.st.segBase(seg) + off) : BigInt.asUintN(64, off);
    return (this.st.segBase(seg) + off) & 0xffffffffn;
  }

  // ---- TLB miss paths (imported by the runtime module) --------------------------------------

  /**
   * A page-crossing access: both pages are translated (and may fault) before any byte moves.
   * Returns the physical addresses of the first byte on each page and how many bytes the first holds.
   */
  private splitAccess(lo: number, hi: number, size: number, acc: number): [number, number, number] {
    const p0 = this.walker.translate(lo, hi, acc).phys;
    const lo2 = (lo + size - 1) >>> 0;
    const hi2 = lo2 < lo ? (hi + 1) >>> 0 : hi;
    const p1 = this.walker.translate(lo2 & ~0xfff, hi2, acc).phys;
    return [p0, p1, 0x1000 - (lo & 0xfff)];
  }

  /**
   * #SS(0) for an access through SS in 64-bit mode whose first or last byte is non-canonical
   * (`size` carries STACK_ACCESS for those: such addresses never hit the TLB, so the check costs
   * nothing on the fast path; the page walk would raise #GP instead).
   */
  private stackCanonical(lo: number, hi: number, size: number): void {
    const lo2 = (lo + size - 1) >>> 0;
    if (!canonicalHi(hi) || !canonicalHi(lo2 < lo ? (hi + 1) | 0 : hi)) throw fault(Vec.SS, 0);
  }

  tlbMissRead(lo: number, hi: number, size: number): number {
    this.stats.tlbMisses++;
    lo >>>= 0; hi >>>= 0;
    if (size & STACK_ACCESS) { size &= ~STACK_ACCESS; this.stackCanonical(lo, hi, size); }
    const acc = this.accFor(false);
    if ((lo & 0xfff) + size > 0x1000) {
      // crosses a page: translate both pages first, then gather bytes into BOUNCE
      const [p0, p1, first] = this.splitAccess(lo, hi, size, acc);
      for (let i = 0; i < size; i++) this.bounce[i] = this.phys.read8(i < first ? p0 + i : p1 + (i - first));
      for (let i = size; i < 8; i++) this.bounce[i] = 0;
      return 0;
    }
    const t = this.walker.translate(lo, hi, acc);
    const phys = t.phys;
    const page = phys - (phys % GUEST_PAGE);
    if (this.phys.isRamPage(page)) {
      const user = this.cpl === 3;
      const smapBlocked = !user && t.user && (this.st.cr4 & (1 << 21)) !== 0;
      if (!smapBlocked) {
        const canWrite = t.writable && t.dirty && !this.code.isCodePage(page) && (user ? t.user : true);
        this.tlb.fill(user ? 1 : 0, lo, hi, page, canWrite, t.global, t.pageMask);
        return 1;
      }
      this.readPhysInto(phys, size);
      return 0;
    }
    this.readPhysInto(phys, size);
    if (this.deviceKick()) this.kick();
    return 0;
  }

  private readPhysInto(phys: number, size: number): void {
    if (size === 8) {
      this.dv.setUint32(L.BOUNCE, this.phys.read(phys, 4), true);
      this.dv.setUint32(L.BOUNCE + 4, this.phys.read(phys + 4, 4), true);
    } else {
      this.dv.setUint32(L.BOUNCE + 4, 0, true);
      this.dv.setUint32(L.BOUNCE, this.phys.read(phys, size as 1 | 2 | 4), true);
    }
  }

  tlbMissWrite(lo: number, hi: number, size: number, vlo: number, vhi: number): number {
    this.stats.tlbMisses++;
    lo >>>= 0; hi >>>= 0;
    if (size & STACK_ACCESS) { size &= ~STACK_ACCESS; this.stackCanonical(lo, hi, size); }
    const acc = this.accFor(true);
    if ((lo & 0xfff) + size > 0x1000) {
      const [p0, p1, first] = this.splitAccess(lo, hi, size, acc);
      for (let i = 0; i < size; i++) {
        const byte = i < 4 ? (vlo >>> (8 * i)) & 0xff : (vhi >>> (8 * (i - 4))) & 0xff;
        const p = i < first ? p0 + i : p1 + (i - first);
        this.phys.write8(p, byte);
      }
      return 0;
    }
    const t = this.walker.translate(lo, hi, acc);
    const phys = t.phys;
    const page = phys - (phys % GUEST_PAGE);
    if (this.phys.isRamPage(page)) {
      if (this.code.isCodePage(page)) this.code.invalidatePhys(phys, size);
      const user = this.cpl === 3;
      const smapBlocked = !user && t.user && (this.st.cr4 & (1 << 21)) !== 0;
      // a page still holding code keeps its writes on this path
      if (!smapBlocked && !this.code.isCodePage(page)) {
        this.tlb.fill(user ? 1 : 0, lo, hi, page, true, t.global, t.pageMask);
        return 1;
      }
      // (code already invalidated above: straight into RAM)
      const ram = this.phys.bytes;
      for (let i = 0; i < size; i++) ram[RAM_BASE + phys + i] = i < 4 ? (vlo >>> (8 * i)) & 0xff : (vhi >>> (8 * (i - 4))) & 0xff;
      return 0;
    }
    if (size === 8) { this.phys.write(phys, 4, vlo); this.phys.write(phys + 4, 4, vhi); }
    else this.phys.write(phys, size as 1 | 2 | 4, vlo);
    if (this.deviceKick()) this.kick();
    return 0;
  }

  /** Physical address for an instruction fetch at linear (lo, hi). */
  fetchPhys(lo: number, hi: number): number {
    const acc = ACC_EXEC | (this.cpl === 3 ? ACC_USER : 0);
    const t = this.walker.translate(lo >>> 0, hi >>> 0, acc);
    this.lastFetchPageMask = t.pageMask;
    this.lastFetchGlobal = t.global;
    return t.phys;
  }

  /** Flush TLB and linear code lookups (CR3 write: non-global only; CR0/CR4 paging bits: everything). */
  flushTlb(includeGlobal: boolean): void {
    this.tlb.flushAll(includeGlobal);
    this.code.flushLinear(includeGlobal);
  }

  raise(vector: number, err: number): never {
    throw fault(vector, err);
  }

  // ---- I/O ----------------------------------------------------------------------------------

  /** I/O permission: CPL <= IOPL, else the TSS I/O bitmap (protected mode), else #GP(0). */
  checkIo(port: number, size: number): void {
    if (!this.protectedMode) return;
    const iopl = (this.st.get32(L.RFLAGS) >> 12) & 3;
    if (this.cpl <= iopl && !(this.st.mode & MODE_VM86)) return;
    const trAttr = this.st.segAttr(Seg.TR);
    const type = trAttr & 0xf;
    if (!(type === 9 || type === 11) || this.st.segLimit(Seg.TR) < 0x67) throw fault(Vec.GP, 0);
    const base = this.st.segBase(Seg.TR);
    const mapBase = Number(this.readLin(base + 0x66n, 2, true));
    const byteOff = mapBase + (port >> 3);
    if (byteOff + 1 > this.st.segLimit(Seg.TR)) throw fault(Vec.GP, 0);
    const bits = Number(this.readLin(base + BigInt(byteOff), 2, true));
    const mask = ((1 << size) - 1) << (port & 7);
    if (bits & mask) throw fault(Vec.GP, 0);
  }

  ioIn(port: number, size: number): number {
    this.checkIo(port, size);
    return this.io.read(port & 0xffff, size as 1 | 2 | 4);
  }

  ioOut(port: number, size: number, value: number): void {
    this.checkIo(port, size);
    this.io.write(port & 0xffff, size as 1 | 2 | 4, size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1));
  }
}

export { GuestFault };
