// IA-PC HPET (High Precision Event Timer, spec 1.0a) at MMIO 0xFED00000: one 64-bit main
// counter at 100 MHz and three comparators, with legacy replacement routing (timer 0 on IRQ0
// instead of the PIT, timer 1 on IRQ8 instead of the RTC) as Linux uses it.
//
// The counter is not stepped: while enabled it is derived from the virtual clock, and each
// comparator match is one VirtualClock timer. 64-bit quantities are kept as two 32-bit halves
// so that guest-written values near 2^64 stay exact without BigInt.

import type { IoSize, IrqSink, MmioHandler } from './types.js';
import type { Timer, VirtualClock } from './clock.js';

export const HPET_BASE = 0xfed0_0000;
/** Size of the register block (the spec reserves 1 KiB). */
export const HPET_MMIO_SIZE = 0x400;
/**
 * Counter period in femtoseconds: 100 MHz, as QEMU's HPET. 10 ns per tick keeps every tick on
 * an integer nanosecond of virtual time, so deadlines never accumulate rounding.
 */
export const HPET_PERIOD_FS = 10_000_000;
const NS_PER_TICK = HPET_PERIOD_FS / 1_000_000;
export const HPET_TIMERS = 3;
export const HPET_VENDOR = 0x8086;
/**
 * Low half of the capabilities register (also the HPET ACPI table's event timer block ID):
 * revision 1, NUM_TIM_CAP = timers - 1, COUNT_SIZE_CAP (64-bit), LEG_RT_CAP, vendor.
 */
export const HPET_CAP_LOW = ((HPET_VENDOR << 16) | (1 << 15) | (1 << 13) | ((HPET_TIMERS - 1) << 8) | 0x01) >>> 0;
/**
 * IOAPIC inputs a timer may be routed to outside legacy mode: GSIs 16-23, which no ISA device
 * drives, so a timer never shares a line with another source.
 */
export const HPET_ROUTE_CAP = 0x00ff_0000;

const TWO32 = 0x1_0000_0000;

// General configuration.
const CFG_ENABLE = 1 << 0;
const CFG_LEGACY = 1 << 1;

// Timer N configuration and capabilities (low half).
const TN_INT_TYPE_LEVEL = 1 << 1;
const TN_INT_ENB = 1 << 2;
const TN_TYPE_PERIODIC = 1 << 3;
const TN_PER_INT_CAP = 1 << 4;
const TN_SIZE_CAP = 1 << 5;
const TN_VAL_SET = 1 << 6;
const TN_32MODE = 1 << 8;
const TN_INT_ROUTE_SHIFT = 9;
const TN_INT_ROUTE_MASK = 0x1f << TN_INT_ROUTE_SHIFT;
/** Bits software may write; FSB delivery is not offered, so FSB_EN is not among them. */
const TN_WRITABLE = TN_INT_TYPE_LEVEL | TN_INT_ENB | TN_TYPE_PERIODIC | TN_VAL_SET | TN_32MODE | TN_INT_ROUTE_MASK;
const TN_CAPS = TN_PER_INT_CAP | TN_SIZE_CAP;

class HpetTimer {
  config = 0;
  /** Comparator (the periodic accumulator) and the period added on each periodic match. */
  cmpLo = 0xffffffff;
  cmpHi = 0xffffffff;
  periodLo = 0;
  periodHi = 0;
  timer: Timer | undefined;
  /** Main-counter tick (elapsed since the counter's base) of the scheduled match. */
  matchTick = 0;
  /** Output currently driven high: which sink (0 none, 1 ISA IRQ, 2 GSI) and line. */
  drivenSink = 0;
  drivenLine = 0;
  readonly fire: () => void;
  constructor(readonly index: number, onFire: (t: HpetTimer) => void) {
    this.fire = () => onFire(this);
  }
  get is32(): boolean {
    return (this.config & TN_32MODE) !== 0;
  }
}

export interface HpetLegacyHooks {
  /** Legacy replacement mode turned on (true) or off: the PIT and RTC must stop (or resume) raising IRQ0/IRQ8. */
  onLegacyChange?: (legacy: boolean) => void;
}

export class Hpet implements MmioHandler {
  private genConfig = 0;
  private isr = 0;
  /** Counter value (halves) at virtual time baseNs; while stopped, the frozen value. */
  private baseLo = 0;
  private baseHi = 0;
  private baseNs = 0;
  readonly timers: HpetTimer[] = [];
  /** Interrupts delivered per timer, for statistics. */
  readonly fired = new Float64Array(HPET_TIMERS);

  constructor(
    private readonly clock: VirtualClock,
    /** ISA IRQ lines (legacy replacement: timer 0 → IRQ0, timer 1 → IRQ8). */
    private readonly isaIrq: IrqSink,
    /** IOAPIC inputs (INT_ROUTE). */
    private readonly gsi: IrqSink,
    private readonly hooks: HpetLegacyHooks = {},
  ) {
    for (let i = 0; i < HPET_TIMERS; i++) this.timers.push(new HpetTimer(i, (t) => this.onMatch(t)));
  }

  get enabled(): boolean {
    return (this.genConfig & CFG_ENABLE) !== 0;
  }

  get legacyReplacement(): boolean {
    return (this.genConfig & CFG_LEGACY) !== 0;
  }

  /** Ticks elapsed since baseNs (0 while the counter is halted). */
  private elapsed(now: number): number {
    return this.enabled ? Math.floor((now - this.baseNs) / NS_PER_TICK) : 0;
  }

  /** Low / high halves of the counter `e` ticks after the base. */
  private counterLo(e: number): number {
    return (this.baseLo + (e % TWO32)) % TWO32;
  }
  private counterHi(e: number): number {
    const lo = this.baseLo + (e % TWO32);
    return (this.baseHi + Math.floor(e / TWO32) + (lo >= TWO32 ? 1 : 0)) % TWO32;
  }

  /** Current counter value as a number (exact below 2^53), for tests and statistics. */
  counterValue(): number {
    const e = this.elapsed(this.clock.nowNs());
    return this.counterHi(e) * TWO32 + this.counterLo(e);
  }

  mmioRead(offset: number, size: IoSize): number {
    const v = this.readDword(offset & ~3);
    if (size === 4) return v >>> 0;
    const shift = (offset & 3) * 8;
    return (v >>> shift) & (size === 1 ? 0xff : 0xffff);
  }

  mmioWrite(offset: number, size: IoSize, value: number): void {
    const aligned = offset & ~3;
    if (size === 4) { this.writeDword(aligned, value >>> 0, 0xffffffff); return; }
    const shift = (offset & 3) * 8;
    const mask = ((size === 1 ? 0xff : 0xffff) << shift) >>> 0;
    this.writeDword(aligned, ((value << shift) & mask) >>> 0, mask);
  }

  private readDword(off: number): number {
    switch (off) {
      case 0x000: return HPET_CAP_LOW;
      case 0x004: return HPET_PERIOD_FS;
      case 0x010: return this.genConfig;
      case 0x014: return 0;
      case 0x020: return this.isr;
      case 0x024: return 0;
      case 0x0f0: return this.counterLo(this.elapsed(this.clock.nowNs()));
      case 0x0f4: return this.counterHi(this.elapsed(this.clock.nowNs()));
    }
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_TIMERS) {
      const t = this.timers[(off - 0x100) >> 5];
      switch (off & 0x1f) {
        case 0x00: return t.config | TN_CAPS;
        case 0x04: return HPET_ROUTE_CAP;
        case 0x08: return t.cmpLo;
        case 0x0c: return t.is32 ? 0 : t.cmpHi;
        default: return 0; // FSB route registers: FSB delivery is not offered
      }
    }
    return 0;
  }

  private writeDword(off: number, value: number, mask: number): void {
    const now = this.clock.nowNs();
    switch (off) {
      case 0x010: this.writeGenConfig(((this.genConfig & ~mask) | (value & mask)) & (CFG_ENABLE | CFG_LEGACY), now); return;
      case 0x020: this.clearStatus(value & mask); return;
      case 0x0f0: case 0x0f4: this.writeCounter(off === 0x0f4, value, mask, now); return;
    }
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_TIMERS) {
      const t = this.timers[(off - 0x100) >> 5];
      switch (off & 0x1f) {
        case 0x00: this.writeTimerConfig(t, ((t.config & ~mask) | (value & mask)) & TN_WRITABLE, now); return;
        case 0x08: case 0x0c: this.writeComparator(t, (off & 0x1f) === 0x0c, value, mask, now); return;
      }
    }
  }

  private writeGenConfig(v: number, now: number): void {
    const old = this.genConfig;
    if (v === old) return;
    if ((old ^ v) & CFG_ENABLE) {
      if (v & CFG_ENABLE) {
        this.baseNs = now;
      } else {
        // Freeze the counter where it stands.
        const e = this.elapsed(now);
        const lo = this.counterLo(e), hi = this.counterHi(e);
        this.baseLo = lo; this.baseHi = hi;
      }
    }
    this.genConfig = v;
    if ((old ^ v) & CFG_LEGACY) this.hooks.onLegacyChange?.((v & CFG_LEGACY) !== 0);
    for (const t of this.timers) { this.updateOutput(t); this.schedule(t, now); }
  }

  private clearStatus(bits: number): void {
    const clear = bits & this.isr;
    if (!clear) return;
    this.isr &= ~clear;
    for (const t of this.timers) if (clear & (1 << t.index)) this.updateOutput(t);
  }

  private writeCounter(high: boolean, value: number, mask: number, now: number): void {
    // The spec asks software to halt the counter first; a running counter is rebased instead.
    const e = this.elapsed(now);
    let lo = this.counterLo(e), hi = this.counterHi(e);
    if (high) hi = ((hi & ~mask) | (value & mask)) >>> 0;
    else lo = ((lo & ~mask) | (value & mask)) >>> 0;
    this.baseLo = lo; this.baseHi = hi; this.baseNs = now;
    for (const t of this.timers) this.schedule(t, now);
  }

  private writeTimerConfig(t: HpetTimer, v: number, now: number): void {
    const was32 = t.is32;
    t.config = v;
    if (!was32 && t.is32) {
      // Entering 32-bit mode truncates the comparator (its upper half reads 0 from now on).
      t.cmpHi = 0; t.periodHi = 0;
    }
    this.updateOutput(t);
    this.schedule(t, now);
  }

  /**
   * In periodic mode a write sets only the period unless VAL_SET is on, when it also sets the
   * accumulator; VAL_SET clears after the write. Linux relies on this: it writes the first
   * deadline with VAL_SET, then the period alone. A 64-bit comparator is written low half first,
   * so in 64-bit mode VAL_SET survives the low write and clears after the high one.
   */
  private writeComparator(t: HpetTimer, high: boolean, value: number, mask: number, now: number): void {
    if (high && t.is32) return;
    const setAccumulator = (t.config & TN_TYPE_PERIODIC) === 0 || (t.config & TN_VAL_SET) !== 0;
    if (high) {
      const v = ((t.periodHi & ~mask) | (value & mask)) >>> 0;
      t.periodHi = v;
      if (setAccumulator) t.cmpHi = ((t.cmpHi & ~mask) | (value & mask)) >>> 0;
      t.config &= ~TN_VAL_SET;
    } else {
      t.periodLo = ((t.periodLo & ~mask) | (value & mask)) >>> 0;
      if (setAccumulator) t.cmpLo = ((t.cmpLo & ~mask) | (value & mask)) >>> 0;
      if (t.is32) t.config &= ~TN_VAL_SET;
    }
    this.schedule(t, now);
  }

  /**
   * Ticks from elapsed tick `e` until the counter next equals the comparator (0 = at `e`), or
   * -1 when that is beyond 2^52 ticks (over a year: never, for practical purposes).
   */
  private ticksToMatch(t: HpetTimer, e: number): number {
    const lo = this.counterLo(e);
    const dLo = (t.cmpLo - lo) >>> 0;
    if (t.is32) return dLo;
    const borrow = t.cmpLo < lo ? 1 : 0;
    const dHi = (t.cmpHi - this.counterHi(e) - borrow) >>> 0;
    if (dHi >= 1 << 20) return -1;
    return dHi * TWO32 + dLo;
  }

  private schedule(t: HpetTimer, now: number): void {
    this.clock.cancel(t.timer);
    t.timer = undefined;
    if (!this.enabled) return;
    const e = this.elapsed(now);
    const d = this.ticksToMatch(t, e);
    if (d < 0) return;
    this.arm(t, e + d);
  }

  private arm(t: HpetTimer, matchTick: number): void {
    t.matchTick = matchTick;
    t.timer = this.clock.addTimer(this.baseNs + matchTick * NS_PER_TICK, t.fire);
  }

  private onMatch(t: HpetTimer): void {
    t.timer = undefined;
    if (!this.enabled) return;
    this.fired[t.index]++;
    if (t.config & TN_INT_TYPE_LEVEL) {
      // The status bit is set even with INT_ENB clear, for software that polls.
      this.isr |= 1 << t.index;
      this.updateOutput(t);
    } else if (t.config & TN_INT_ENB) {
      const line = this.route(t);
      const sink = line.sink === 1 ? this.isaIrq : this.gsi;
      sink.setIrq(line.line, true);
      sink.setIrq(line.line, false);
    }
    const now = this.clock.nowNs();
    const e = Math.max(this.elapsed(now), t.matchTick);
    const periodic = (t.config & TN_TYPE_PERIODIC) !== 0 && (t.periodLo !== 0 || (!t.is32 && t.periodHi !== 0));
    if (periodic) {
      // Advance the accumulator by whole periods past the current count. When the loop ran late
      // and several periods went by, they coalesce into the interrupt just delivered.
      const period = t.is32 ? t.periodLo : t.periodHi * TWO32 + t.periodLo;
      const late = e - t.matchTick;
      const steps = Math.floor(late / period) + 1;
      this.addToComparator(t, steps * period);
      this.arm(t, t.matchTick + steps * period);
    } else {
      // A one-shot comparator matches again only when the counter wraps around to it.
      const d = this.ticksToMatch(t, e + 1);
      if (d >= 0) this.arm(t, e + 1 + d);
    }
  }

  private addToComparator(t: HpetTimer, n: number): void {
    const lo = t.cmpLo + (n % TWO32);
    t.cmpLo = lo % TWO32;
    if (t.is32) return;
    t.cmpHi = (t.cmpHi + Math.floor(n / TWO32) + (lo >= TWO32 ? 1 : 0)) % TWO32;
  }

  private readonly routeResult = { sink: 0, line: 0 };

  /** Where timer `t` delivers: legacy replacement wins over INT_ROUTE for timers 0 and 1. */
  private route(t: HpetTimer): { sink: number; line: number } {
    const r = this.routeResult;
    if (this.legacyReplacement && t.index < 2) {
      r.sink = 1; r.line = t.index === 0 ? 0 : 8;
    } else {
      r.sink = 2; r.line = (t.config & TN_INT_ROUTE_MASK) >> TN_INT_ROUTE_SHIFT;
    }
    return r;
  }

  /** Drive a level-triggered timer's line from its status bit; release a line no longer used. */
  private updateOutput(t: HpetTimer): void {
    const level = (t.config & (TN_INT_TYPE_LEVEL | TN_INT_ENB)) === (TN_INT_TYPE_LEVEL | TN_INT_ENB) && this.enabled && (this.isr & (1 << t.index)) !== 0;
    const r = this.route(t);
    const sink = level ? r.sink : 0;
    const line = level ? r.line : 0;
    if (sink === t.drivenSink && line === t.drivenLine) return;
    if (t.drivenSink) (t.drivenSink === 1 ? this.isaIrq : this.gsi).setIrq(t.drivenLine, false);
    t.drivenSink = sink; t.drivenLine = line;
    if (sink) (sink === 1 ? this.isaIrq : this.gsi).setIrq(line, true);
  }
}
