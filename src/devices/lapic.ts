// Local APIC (Intel SDM vol. 3, ch. 11): one per CPU, reachable as xAPIC MMIO (default
// 0xFEE00000) or, in x2APIC mode, as MSRs 0x800-0x8FF. Includes the APIC timer (one-shot,
// periodic, TSC-deadline), IPIs through the ICR, and the LINT0 virtual wire to the 8259.
//
// MSR access avoids BigInt and allocation: readMsr() leaves the result in msrLo/msrHi and
// returns false for #GP; writeMsr() takes the two halves and returns false for #GP.

import type { IoSize, MmioHandler } from './types.js';
import type { Timer, VirtualClock } from './clock.js';
import { type ApicBus, type ApicTarget, DM_EXTINT, DM_FIXED, DM_INIT, DM_LOWEST, DM_NMI, DM_STARTUP } from './apicbus.js';

export const LAPIC_DEFAULT_BASE = 0xfee0_0000;
/** The APIC timer's input clock ("bus clock"): 1 GHz, so one count per ns before the divider. Report this in CPUID 0x15/0x16 or 0x40000010. */
export const APIC_BUS_HZ = 1_000_000_000;

export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;

const BASE_BSP = 0x100, BASE_EXTD = 0x400, BASE_EN = 0x800;

// LVT slots in our array (not register order).
const LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PERF = 2, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;
const LVT_COUNT = 6;
const LVT_MASKED = 0x10000;
/** Writable bits per LVT: timer (vector, mask, mode), thermal/perf (+delivery mode), LINT (+polarity, trigger), error. */
const LVT_WRITABLE = [0x700ff, 0x107ff, 0x107ff, 0x1a7ff, 0x1a7ff, 0x100ff];
/** Register index (offset >> 4) of each LVT slot. */
const LVT_REG = [0x32, 0x33, 0x34, 0x35, 0x36, 0x37];

const TIMER_ONESHOT = 0, TIMER_PERIODIC = 1, TIMER_TSC_DEADLINE = 2;

const SVR_ENABLE = 0x100;
const ESR_SEND_ILLEGAL_VECTOR = 0x20, ESR_RECEIVE_ILLEGAL_VECTOR = 0x40, ESR_ILLEGAL_REGISTER = 0x80;

/** Max LVT entry index 5 (no CMCI), version 0x14 (integrated APIC). */
const VERSION = 0x14 | (5 << 16);

export class LocalApic implements MmioHandler, ApicTarget {
  /** APIC ID: the initial ID (x2APIC ID); in xAPIC mode software may change the 8-bit ID. */
  readonly initialId: number;
  private xapicId: number;
  private baseLo: number;
  private baseHi = 0;
  /** Highest physical address bit + 1 the CPU reports (bits above it in IA32_APIC_BASE are reserved). */
  physAddrBits = 40;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private esr = 0;
  private pendingErrors = 0;
  private icrLo = 0;
  private icrHi = 0;
  private readonly lvt = new Uint32Array(LVT_COUNT);
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private irrCount = 0;
  private dcr = 0;
  private timerInitial = 0;
  private timerStartNs = 0;
  /** Periods of the periodic timer already delivered since timerStartNs. */
  private timerPeriods = 0;
  private timer: Timer | undefined;
  /** IA32_TSC_DEADLINE as a TSC value (double; exact below 2^53), 0 = disarmed. */
  private tscDeadline = 0;
  /** TSC = guest ns + tscOffset. The CPU keeps this in step with its IA32_TSC writes via setTscOffset(). */
  private tscOffset = 0;
  private lint0Level = false;
  private lint1Level = false;
  private nmiPending = false;
  /** An ExtINT message (IOAPIC or LINT0) is waiting: the vector comes from the 8259's INTA. */
  extIntPending = false;
  /** INIT and SIPI received, for the machine loop to act on (AP start-up). */
  initPending = false;
  sipiPending = false;
  sipiVector = 0;
  /** Hooks for the machine loop; optional. */
  onInit: (() => void) | null = null;
  onStartup: ((vector: number) => void) | null = null;
  /** The xAPIC MMIO window moved (IA32_APIC_BASE write); the machine should remap it. */
  onBaseChange: ((base: number) => void) | null = null;
  /** Result of the last successful readMsr(). */
  msrLo = 0;
  msrHi = 0;
  private readonly fireTimer = (): void => this.onTimer();

  constructor(readonly cpuIndex: number, private readonly clock: VirtualClock, private readonly bus: ApicBus, bsp: boolean) {
    this.initialId = cpuIndex;
    this.xapicId = cpuIndex;
    this.baseLo = LAPIC_DEFAULT_BASE | BASE_EN | (bsp ? BASE_BSP : 0);
    this.resetRegisters();
    bus.addTarget(this);
  }

  // ---- state ---------------------------------------------------------------------------

  get globallyEnabled(): boolean { return (this.baseLo & BASE_EN) !== 0; }
  get x2apic(): boolean { return (this.baseLo & BASE_EXTD) !== 0; }
  get softwareEnabled(): boolean { return (this.svr & SVR_ENABLE) !== 0; }
  get isBsp(): boolean { return (this.baseLo & BASE_BSP) !== 0; }
  /** Physical base of the xAPIC window. */
  get baseAddress(): number { return ((this.baseLo & 0xfffff000) >>> 0) + this.baseHi * 0x1_0000_0000; }

  /** Power-up / INIT state of everything but the ID and IA32_APIC_BASE. */
  resetRegisters(): void {
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.svr = 0xff;
    this.esr = this.pendingErrors = 0;
    this.icrLo = this.icrHi = 0;
    this.lvt.fill(LVT_MASKED);
    // Firmware puts the BSP's LINT0 in ExtINT mode (virtual wire); we boot without firmware, so start there.
    if (this.isBsp) this.lvt[LVT_LINT0] = DM_EXTINT << 8;
    this.irr.fill(0); this.isr.fill(0); this.tmr.fill(0);
    this.irrCount = 0;
    this.dcr = 0;
    this.stopTimer();
    this.tscDeadline = 0;
    this.nmiPending = this.extIntPending = false;
  }

  /** INIT (IPI or signal): registers reset, the APIC stays enabled at the same base and ID. */
  initReset(): void {
    this.resetRegisters();
  }

  /** The CPU's IA32_TSC adjustment (TSC = ns + offset); a pending TSC deadline is re-timed. */
  setTscOffset(offset: number): void {
    this.tscOffset = offset;
    if (this.tscDeadline !== 0) this.armDeadline();
  }

  /** The full 8-bit task-priority register. */
  get taskPriority(): number { return this.tpr; }
  set taskPriority(v: number) { this.tpr = v & 0xff; }

  /** TPR as the CPU sees it through CR8 (bits 3:0 = TPR[7:4]). */
  get cr8(): number { return this.tpr >>> 4; }
  set cr8(v: number) { this.tpr = (v & 0xf) << 4; }

  // ---- priorities ----------------------------------------------------------------------

  private static highestBit(words: Uint32Array): number {
    for (let i = 7; i >= 0; i--) {
      const w = words[i];
      if (w !== 0) return i * 32 + 31 - Math.clz32(w);
    }
    return -1;
  }

  private ppr(): number {
    const isrv = LocalApic.highestBit(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  arbitrationPriority(): number {
    return this.ppr();
  }

  /** A fixed interrupt is deliverable to the CPU (RFLAGS.IF aside). */
  hasInterrupt(): boolean {
    if (this.irrCount === 0 || !this.softwareEnabled || !this.globallyEnabled) return false;
    const v = LocalApic.highestBit(this.irr);
    return (v & 0xf0) > (this.ppr() & 0xf0);
  }

  /** INTA: move the highest deliverable IRR vector into service. Returns the spurious vector if nothing qualifies any more. */
  acknowledge(): number {
    const v = LocalApic.highestBit(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr() & 0xf0) || !this.softwareEnabled) return this.svr & 0xff;
    this.irr[v >>> 5] &= ~(1 << (v & 31));
    this.irrCount--;
    this.isr[v >>> 5] |= 1 << (v & 31);
    return v;
  }

  hasNmi(): boolean {
    return this.nmiPending;
  }

  takeNmi(): boolean {
    const n = this.nmiPending;
    this.nmiPending = false;
    return n;
  }

  /** The 8259's INTR reaches the CPU: APIC absent (globally disabled) or LINT0 unmasked in ExtINT mode. */
  acceptsPicInterrupt(): boolean {
    if (!this.globallyEnabled) return true;
    const l = this.lvt[LVT_LINT0];
    return !(l & LVT_MASKED) && ((l >>> 8) & 7) === DM_EXTINT;
  }

  private eoi(): void {
    const v = LocalApic.highestBit(this.isr);
    if (v < 0) return;
    const bit = 1 << (v & 31);
    this.isr[v >>> 5] &= ~bit;
    if (this.tmr[v >>> 5] & bit) this.bus.broadcastEoi(v);
  }

  // ---- message reception -----------------------------------------------------------------

  matchesDestination(dest: number, logical: boolean, wide: boolean): boolean {
    if (!this.globallyEnabled) return false;
    if (wide ? dest === 0xffffffff : dest === 0xff) return true;
    if (!logical) return this.x2apic ? dest === this.initialId : dest === (this.xapicId & 0xff);
    if (this.x2apic) {
      const ldr = this.x2apicLdr();
      if (wide) return (dest >>> 16) === (ldr >>> 16) && (dest & ldr & 0xffff) !== 0;
      return (dest & ldr & 0xff) !== 0;
    }
    const ldr = this.ldr >>> 24;
    if ((this.dfr >>> 28) === 0xf) return (dest & ldr) !== 0; // flat model
    return (dest >>> 4) === (ldr >>> 4) && (dest & ldr & 0xf) !== 0; // cluster model
  }

  private x2apicLdr(): number {
    return (((this.initialId >>> 4) << 16) | (1 << (this.initialId & 0xf))) >>> 0;
  }

  accept(mode: number, vector: number, level: boolean): void {
    switch (mode) {
      case DM_FIXED: case DM_LOWEST: {
        if (vector < 16) { this.error(ESR_RECEIVE_ILLEGAL_VECTOR); return; }
        const i = vector >>> 5, bit = 1 << (vector & 31);
        if (!(this.irr[i] & bit)) { this.irr[i] |= bit; this.irrCount++; }
        if (level) this.tmr[i] |= bit; else this.tmr[i] &= ~bit;
        return;
      }
      case DM_NMI: this.nmiPending = true; return;
      case DM_INIT:
        // INIT puts the APIC back in its power-up state, keeping only the ID and base.
        this.resetRegisters();
        this.initPending = true;
        this.onInit?.();
        return;
      case DM_STARTUP: this.sipiPending = true; this.sipiVector = vector; this.onStartup?.(vector); return;
      case DM_EXTINT: this.extIntPending = true; return;
      default: return; // SMI: no SMM
    }
  }

  private error(bits: number): void {
    const fresh = bits & ~this.pendingErrors;
    this.pendingErrors |= bits;
    const l = this.lvt[LVT_ERROR];
    if (fresh && !(l & LVT_MASKED)) this.accept(DM_FIXED, l & 0xff, false);
  }

  /** LINT0/LINT1 input pins (LINT0 is the 8259's INTR; ExtINT mode is served by acceptsPicInterrupt()). */
  setLint(pin: 0 | 1, level: boolean): void {
    const prev = pin === 0 ? this.lint0Level : this.lint1Level;
    if (pin === 0) this.lint0Level = level; else this.lint1Level = level;
    if (!level || prev || !this.globallyEnabled) return;
    const l = this.lvt[pin === 0 ? LVT_LINT0 : LVT_LINT1];
    if (l & LVT_MASKED) return;
    const mode = (l >>> 8) & 7;
    if (mode === DM_FIXED) this.accept(DM_FIXED, l & 0xff, (l & 0x8000) !== 0);
    else if (mode === DM_NMI) this.nmiPending = true;
  }

  // ---- IPIs ------------------------------------------------------------------------------

  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff;
    const mode = (lo >>> 8) & 7;
    const logical = (lo & 0x800) !== 0;
    const assert = (lo & 0x4000) !== 0;
    const levelTrig = (lo & 0x8000) !== 0;
    const shorthand = (lo >>> 18) & 3;
    // INIT level de-assert only resynchronises arbitration IDs.
    if (mode === DM_INIT && levelTrig && !assert) return;
    // SMI is not modelled; 3 and 7 (ExtINT) are reserved in the ICR.
    if (mode === 2 || mode === 3 || mode === DM_EXTINT) return;
    if ((mode === DM_FIXED || mode === DM_LOWEST) && vector < 16) { this.error(ESR_SEND_ILLEGAL_VECTOR); return; }
    switch (shorthand) {
      case 1: this.accept(mode === DM_LOWEST ? DM_FIXED : mode, vector, false); return;
      case 2: this.bus.deliverAll(this, true, mode, vector, false); return;
      case 3: this.bus.deliverAll(this, false, mode, vector, false); return;
      default:
        if (this.x2apic) this.bus.deliver(this.icrHi, logical, true, mode, vector, false);
        else this.bus.deliver(this.icrHi >>> 24, logical, false, mode, vector, false);
    }
  }

  // ---- timer -------------------------------------------------------------------------------

  private get timerMode(): number {
    return (this.lvt[LVT_TIMER] >>> 17) & 3;
  }

  /** ns per timer count after the divide configuration. */
  private divisorNs(): number {
    const code = (this.dcr & 3) | ((this.dcr & 8) >> 1);
    return (code === 7 ? 1 : 2 << code) * (1e9 / APIC_BUS_HZ);
  }

  private stopTimer(): void {
    this.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerInitial = 0;
  }

  private startTimer(count: number, now: number): void {
    this.clock.cancel(this.timer);
    this.timer = undefined;
    this.timerInitial = count;
    this.timerStartNs = now;
    this.timerPeriods = 0;
    if (count !== 0) this.timer = this.clock.addTimer(now + count * this.divisorNs(), this.fireTimer);
  }

  private currentCount(now: number): number {
    if (this.timerInitial === 0 || this.timerMode === TIMER_TSC_DEADLINE) return 0;
    const elapsed = Math.floor((now - this.timerStartNs) / this.divisorNs());
    if (this.timerMode === TIMER_PERIODIC) return this.timerInitial - (elapsed % this.timerInitial);
    return elapsed >= this.timerInitial ? 0 : this.timerInitial - elapsed;
  }

  private onTimer(): void {
    this.timer = undefined;
    const l = this.lvt[LVT_TIMER];
    if (!(l & LVT_MASKED)) this.accept(DM_FIXED, l & 0xff, false);
    if (this.timerMode === TIMER_TSC_DEADLINE) {
      this.tscDeadline = 0;
      return;
    }
    if (this.timerMode === TIMER_PERIODIC && this.timerInitial !== 0) {
      // Next period boundary after now, counted from the start so periods do not drift.
      const period = this.timerInitial * this.divisorNs();
      const now = this.clock.nowNs();
      this.timerPeriods = Math.max(this.timerPeriods + 1, Math.floor((now - this.timerStartNs) / period));
      this.timer = this.clock.addTimer(this.timerStartNs + (this.timerPeriods + 1) * period, this.fireTimer);
    }
    // One-shot: the count stays at 0 (timerInitial kept so the mode change logic is unaffected).
  }

  private armDeadline(): void {
    this.clock.cancel(this.timer);
    this.timer = undefined;
    if (this.tscDeadline === 0 || this.timerMode !== TIMER_TSC_DEADLINE) return;
    const ns = this.tscDeadline - this.tscOffset;
    if (ns <= this.clock.nowNs()) { this.onTimer(); return; }
    this.timer = this.clock.addTimer(ns, this.fireTimer);
  }

  private writeLvtTimer(v: number): void {
    const oldMode = this.timerMode;
    this.writeLvt(LVT_TIMER, v);
    const newMode = this.timerMode;
    if (oldMode === newMode) return;
    // Switching into or out of TSC-deadline mode disarms the timer.
    if (oldMode === TIMER_TSC_DEADLINE || newMode === TIMER_TSC_DEADLINE) {
      this.stopTimer();
      this.tscDeadline = 0;
    } else if (this.timerInitial !== 0) {
      const now = this.clock.nowNs();
      const remaining = this.currentCount(now);
      if (remaining > 0) {
        this.clock.cancel(this.timer);
        this.timer = this.clock.addTimer(now + remaining * this.divisorNs(), this.fireTimer);
      }
    }
  }

  private writeDcr(v: number): void {
    const now = this.clock.nowNs();
    const remaining = this.currentCount(now);
    this.dcr = v & 0xb;
    if (this.timerInitial !== 0 && remaining > 0 && this.timerMode !== TIMER_TSC_DEADLINE) {
      // Keep the current count and continue at the new rate; the start is back-dated so that
      // periodic reloads and the initial-count register still use the full count.
      const initial = this.timerInitial;
      const div = this.divisorNs();
      this.startTimer(initial, now - (initial - remaining) * div);
    }
  }

  // ---- registers -----------------------------------------------------------------------------

  private writeLvt(slot: number, v: number): void {
    let val = (this.lvt[slot] & ~LVT_WRITABLE[slot]) | (v & LVT_WRITABLE[slot]);
    // While software-disabled, LVT entries stay masked.
    if (!this.softwareEnabled) val |= LVT_MASKED;
    this.lvt[slot] = val >>> 0;
  }

  private writeSvr(v: number): void {
    this.svr = v & 0x3ff;
    if (!this.softwareEnabled) for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= LVT_MASKED;
  }

  /** Register by index (xAPIC offset >> 4). Returns -1 for reserved/write-only registers. */
  private readReg(r: number, now: number): number {
    switch (r) {
      case 0x02: return this.x2apic ? this.initialId : (this.xapicId << 24) >>> 0;
      case 0x03: return VERSION;
      case 0x08: return this.tpr;
      case 0x09: return 0; // APR
      case 0x0a: return this.ppr();
      case 0x0c: return 0; // RRD
      case 0x0d: return this.x2apic ? this.x2apicLdr() : this.ldr;
      case 0x0e: return this.x2apic ? -1 : this.dfr >>> 0;
      case 0x0f: return this.svr;
      case 0x28: return this.esr;
      case 0x30: return this.icrLo;
      case 0x31: return this.x2apic ? -1 : this.icrHi;
      case 0x38: return this.timerMode === TIMER_TSC_DEADLINE ? 0 : this.timerInitial;
      case 0x39: return this.currentCount(now);
      case 0x3e: return this.dcr;
      default:
        if (r >= 0x10 && r < 0x18) return this.isr[r - 0x10];
        if (r >= 0x18 && r < 0x20) return this.tmr[r - 0x18];
        if (r >= 0x20 && r < 0x28) return this.irr[r - 0x20];
        if (r >= 0x32 && r <= 0x37) return this.lvt[LVT_REG.indexOf(r)];
        return -1;
    }
  }

  /** Returns false for read-only/reserved registers (x2APIC: #GP; xAPIC: illegal register error). */
  private writeReg(r: number, v: number): boolean {
    switch (r) {
      case 0x02:
        if (this.x2apic) return false;
        this.xapicId = v >>> 24;
        return true;
      case 0x08: this.tpr = v & 0xff; return true;
      case 0x0b: this.eoi(); return true;
      case 0x0d:
        if (this.x2apic) return false;
        this.ldr = (v & 0xff000000) >>> 0;
        return true;
      case 0x0e:
        if (this.x2apic) return false;
        this.dfr = (v | 0x0fffffff) >>> 0;
        return true;
      case 0x0f: this.writeSvr(v); return true;
      case 0x28:
        // Writing ESR latches the errors seen since the last write.
        this.esr = this.pendingErrors;
        this.pendingErrors = 0;
        return true;
      case 0x30:
        this.icrLo = v & ~0x1000 & 0xfffff;
        this.sendIpi();
        return true;
      case 0x31:
        if (this.x2apic) return false;
        this.icrHi = (v & 0xff000000) >>> 0;
        return true;
      case 0x32: this.writeLvtTimer(v); return true;
      case 0x33: this.writeLvt(LVT_THERMAL, v); return true;
      case 0x34: this.writeLvt(LVT_PERF, v); return true;
      case 0x35: this.writeLvt(LVT_LINT0, v); return true;
      case 0x36: this.writeLvt(LVT_LINT1, v); return true;
      case 0x37: this.writeLvt(LVT_ERROR, v); return true;
      case 0x38:
        if (this.timerMode !== TIMER_TSC_DEADLINE) this.startTimer(v >>> 0, this.clock.nowNs());
        return true;
      case 0x3e: this.writeDcr(v); return true;
      case 0x3f:
        if (!this.x2apic) return false;
        this.accept(DM_FIXED, v & 0xff, false);
        return true;
      default: return false;
    }
  }

  // ---- xAPIC MMIO ------------------------------------------------------------------------------

  mmioRead(offset: number, size: IoSize): number {
    // The MMIO interface is off in x2APIC mode and when the APIC is globally disabled.
    if (!this.globallyEnabled || this.x2apic) return 0xffffffff;
    const sub = offset & 0xf;
    if (sub >= 4) return 0;
    const r = (offset >>> 4) & 0xff;
    let v = r === 0x0b || r === 0x3f ? 0 : this.readReg(r, this.clock.nowNs());
    if (v < 0) { this.error(ESR_ILLEGAL_REGISTER); v = 0; }
    if (size === 4) return v >>> 0;
    return (v >>> (sub * 8)) & (size === 1 ? 0xff : 0xffff);
  }

  mmioWrite(offset: number, size: IoSize, value: number): void {
    if (!this.globallyEnabled || this.x2apic) return;
    if ((offset & 0xf) !== 0 || size !== 4) return; // registers are written as aligned dwords
    const r = (offset >>> 4) & 0xff;
    if (r === 0x3f || !this.writeReg(r, value >>> 0)) {
      const ro = r === 0x03 || r === 0x0a || r === 0x39 || r === 0x09 || r === 0x0c || (r >= 0x10 && r < 0x28);
      if (!ro) this.error(ESR_ILLEGAL_REGISTER);
    }
  }

  // ---- MSRs ------------------------------------------------------------------------------------

  /** MSRs this device owns: IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range. */
  static handlesMsr(msr: number): boolean {
    return msr === MSR_IA32_APIC_BASE || msr === MSR_IA32_TSC_DEADLINE || (msr >= 0x800 && msr <= 0x8ff);
  }

  /** On success the value is in msrLo/msrHi; false means #GP. */
  readMsr(msr: number): boolean {
    if (msr === MSR_IA32_APIC_BASE) {
      this.msrLo = this.baseLo >>> 0;
      this.msrHi = this.baseHi;
      return true;
    }
    if (msr === MSR_IA32_TSC_DEADLINE) {
      const d = this.timerMode === TIMER_TSC_DEADLINE ? this.tscDeadline : 0;
      this.msrLo = d % 0x1_0000_0000;
      this.msrHi = Math.floor(d / 0x1_0000_0000);
      return true;
    }
    if (msr < 0x800 || msr > 0x8ff || !this.x2apic || !this.globallyEnabled) return false;
    const r = msr - 0x800;
    if (r === 0x30) {
      this.msrLo = this.icrLo;
      this.msrHi = this.icrHi;
      return true;
    }
    if (r === 0x0b || r === 0x3f) return false; // write-only
    const v = this.readReg(r, this.clock.nowNs());
    if (v < 0) return false;
    this.msrLo = v >>> 0;
    this.msrHi = 0;
    return true;
  }

  /** false means #GP. */
  writeMsr(msr: number, lo: number, hi: number): boolean {
    lo >>>= 0; hi >>>= 0;
    if (msr === MSR_IA32_APIC_BASE) return this.writeApicBase(lo, hi);
    if (msr === MSR_IA32_TSC_DEADLINE) {
      // Ignored outside TSC-deadline mode.
      if (this.timerMode !== TIMER_TSC_DEADLINE) return true;
      this.tscDeadline = hi * 0x1_0000_0000 + lo;
      this.armDeadline();
      return true;
    }
    if (msr < 0x800 || msr > 0x8ff || !this.x2apic || !this.globallyEnabled) return false;
    const r = msr - 0x800;
    if (r === 0x30) {
      this.icrHi = hi;
      this.icrLo = lo & ~0x1000 & 0xfffff;
      this.sendIpi();
      return true;
    }
    if (hi !== 0) return false;
    // In x2APIC mode EOI and ESR must be written with 0, and reserved bits fault.
    if ((r === 0x0b || r === 0x28) && lo !== 0) return false;
    if (r === 0x08 && lo > 0xff) return false;
    if (r === 0x3f && lo > 0xff) return false;
    return this.writeReg(r, lo);
  }

  /**
   * The APIC's MSRs in the shape the CPU's `msrDevice` hook takes: read returns [lo, hi] or null
   * for MSRs that are not the APIC's; write returns whether the APIC took the MSR. Accesses the
   * APIC refuses call `onFault` (which should throw #GP(0)); without it they report "not mine".
   * The returned pair is reused between reads.
   */
  msrHooks(onFault?: () => never): { readMsr(msr: number): [number, number] | null; writeMsr(msr: number, lo: number, hi: number): boolean } {
    const pair: [number, number] = [0, 0];
    return {
      readMsr: (msr) => {
        if (!LocalApic.handlesMsr(msr)) return null;
        if (!this.readMsr(msr)) { onFault?.(); return null; }
        pair[0] = this.msrLo;
        pair[1] = this.msrHi;
        return pair;
      },
      writeMsr: (msr, lo, hi) => {
        if (!LocalApic.handlesMsr(msr)) return false;
        if (!this.writeMsr(msr, lo, hi)) { onFault?.(); return false; }
        return true;
      },
    };
  }

  private writeApicBase(lo: number, hi: number): boolean {
    const reservedHi = this.physAddrBits >= 64 ? 0 : ~((1 << Math.max(0, this.physAddrBits - 32)) - 1) >>> 0;
    if ((lo & 0x2ff) !== 0 || (hi & reservedHi) !== 0) return false;
    const en = (lo & BASE_EN) !== 0, extd = (lo & BASE_EXTD) !== 0;
    const wasEn = this.globallyEnabled, wasX2 = this.x2apic;
    if (extd && !en) return false; // invalid state
    if (wasX2 && en && !extd) return false; // x2APIC -> xAPIC must go through disabled
    if (!wasEn && extd) return false; // disabled -> x2APIC must go through xAPIC
    const oldBase = this.baseAddress;
    this.baseLo = ((lo & 0xfffff000) | (lo & (BASE_EN | BASE_EXTD)) | (this.baseLo & BASE_BSP)) >>> 0;
    this.baseHi = hi;
    if (wasEn && !en) {
      // Global disable returns the APIC to its power-up state (ID aside).
      this.resetRegisters();
      this.xapicId = this.initialId;
    }
    if (this.baseAddress !== oldBase) this.onBaseChange?.(this.baseAddress);
    return true;
  }
}
