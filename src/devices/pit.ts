// Intel 8254 programmable interval timer (ports 0x40-0x43) and the PC's system control
// port B (0x61), which carries channel 2's gate and output (Linux calibrates the TSC with it).
//
// Counters are not stepped: each channel remembers when it started counting, and its count
// and OUT are derived from the virtual clock on demand. Only channel 0's rising OUT edges
// are scheduled, because they raise IRQ0.

import type { IoHandler, IoSize, IrqSink } from './types.js';
import type { Timer, VirtualClock } from './clock.js';
import { fromBcd, toBcd } from './bcd.js';

export const PIT_HZ = 1_193_182;
const TICKS_PER_NS = PIT_HZ / 1e9;
const NS_PER_TICK = 1e9 / PIT_HZ;

/** Read/write access of a channel's count: LSB only, MSB only, or LSB then MSB. */
const ACCESS_LSB = 1, ACCESS_MSB = 2, ACCESS_WORD = 3;

class PitChannel {
  mode = 0;
  access = ACCESS_WORD;
  bcd = false;
  /** Count register, 1..0x10000 (0 written means 0x10000, or 10000 in BCD). */
  reload = 0x10000;
  /** A count has been written since the control word (CR → CE transfer happened). */
  loaded = false;
  /** The counting element is running (modes 1/5 wait for a gate trigger). */
  counting = false;
  /** Ticks elapsed = offsetTicks + ticks since startNs; offsetTicks carries counts across gate pauses. */
  startNs = 0;
  offsetTicks = 0;
  /** Tick count frozen while the gate pauses counting (modes 0 and 4), or -1. */
  frozenTicks = -1;
  gate: boolean;
  /** OUT level while the counter is not running. */
  idleOut = true;
  writeMsbNext = false;
  pendingLsb = 0;
  readMsbNext = false;
  /** Latched count (-1 = none) and whether its MSB is read next. */
  latched = -1;
  latchedMsbNext = false;
  /** Latched read-back status byte, or -1. */
  status = -1;
  nullCount = true;
  timer: Timer | undefined;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  elapsedTicks(now: number): number {
    if (this.frozenTicks >= 0) return this.frozenTicks;
    return this.offsetTicks + Math.floor((now - this.startNs) * TICKS_PER_NS);
  }

  /** Counting element value as the guest reads it (binary, before BCD conversion). */
  count(now: number): number {
    if (!this.counting) return this.loaded ? this.reload & 0xffff : 0;
    const d = this.elapsedTicks(now);
    const n = this.reload;
    const wrap = this.bcd ? 10000 : 0x10000;
    switch (this.mode) {
      case 2: return (n - (d % n)) % wrap;
      case 3: return (n - ((2 * d) % n)) % wrap & ~1;
      default: return ((n - d) % wrap + wrap) % wrap;
    }
  }

  out(now: number): boolean {
    if (!this.counting) return this.idleOut;
    const d = this.elapsedTicks(now);
    const n = this.reload;
    switch (this.mode) {
      case 0: case 1: return d >= n;
      case 2: return d % n !== n - 1 || n === 1;
      case 3: return d % n < Math.ceil(n / 2);
      default: return d !== n; // 4, 5: one-tick low strobe at terminal count
    }
  }

  /** Tick count (elapsed) of the next rising OUT edge strictly after `d`, or -1 if none comes. */
  nextRise(d: number): number {
    const n = this.reload;
    switch (this.mode) {
      case 0: case 1: return d < n ? n : -1;
      case 2: case 3: return (Math.floor(d / n) + 1) * n;
      default: return d < n + 1 ? n + 1 : -1;
    }
  }

  start(now: number): void {
    this.counting = true;
    this.startNs = now;
    this.offsetTicks = 0;
    this.frozenTicks = -1;
  }

  /** Status byte for read-back. */
  statusByte(now: number): number {
    return (this.out(now) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.access << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }
}

export class Pit implements IoHandler {
  readonly channels = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
  /** Port 0x61 bits 0-3 as written (timer 2 gate, speaker enable, parity/IOCHK enables). */
  portB = 0;
  /** IRQ0 pulses delivered, for statistics. */
  irqCount = 0;
  /** Tick index of channel 0's scheduled rising edge. */
  private ch0Rise = 0;
  /** False while the HPET's legacy replacement owns IRQ0: channel 0 still counts but raises nothing. */
  private irqEnabled = true;
  private readonly fireCh0 = (): void => this.onChannel0Edge();

  constructor(private readonly clock: VirtualClock, private readonly irq: IrqSink) {
    // Power-on state as firmware leaves it (and QEMU resets to): every channel in mode 3 with
    // the full 65536 count, so channel 0 ticks IRQ0 at ~18.2 Hz until the OS reprograms it.
    const now = clock.nowNs();
    for (let i = 0; i < 3; i++) {
      const ch = this.channels[i];
      ch.mode = 3;
      ch.access = ACCESS_WORD;
      this.loadCount(i, 0, now);
    }
  }

  ioRead(port: number, _size: IoSize): number {
    const now = this.clock.nowNs();
    if (port === 0x61) {
      // Bit 4 toggles with DRAM refresh (every ~15 us); some BIOS delay loops count its edges.
      const refresh = Math.floor(now / 15085) & 1;
      return this.portB | (refresh << 4) | (this.channels[2].out(now) ? 0x20 : 0);
    }
    if (port === 0x43) return 0xff; // the control word register is write-only
    const ch = this.channels[port - 0x40];
    if (ch.status >= 0) {
      const s = ch.status;
      ch.status = -1;
      return s;
    }
    if (ch.latched >= 0) {
      const v = ch.bcd ? toBcd(ch.latched) : ch.latched;
      if (ch.access === ACCESS_WORD && !ch.latchedMsbNext) {
        ch.latchedMsbNext = true;
        return v & 0xff;
      }
      ch.latched = -1;
      ch.latchedMsbNext = false;
      return ch.access === ACCESS_LSB ? v & 0xff : (v >> 8) & 0xff;
    }
    const c = ch.count(now);
    const v = ch.bcd ? toBcd(c) : c;
    switch (ch.access) {
      case ACCESS_LSB: return v & 0xff;
      case ACCESS_MSB: return (v >> 8) & 0xff;
      default:
        ch.readMsbNext = !ch.readMsbNext;
        return ch.readMsbNext ? v & 0xff : (v >> 8) & 0xff;
    }
  }

  ioWrite(port: number, _size: IoSize, value: number): void {
    const v = value & 0xff;
    const now = this.clock.nowNs();
    if (port === 0x61) {
      this.setGate2((v & 1) !== 0, now);
      this.portB = v & 0x0f;
      return;
    }
    if (port === 0x43) {
      this.writeControl(v, now);
      return;
    }
    const idx = port - 0x40;
    const ch = this.channels[idx];
    let count: number;
    switch (ch.access) {
      case ACCESS_LSB: count = v; break;
      case ACCESS_MSB: count = v << 8; break;
      default:
        if (!ch.writeMsbNext) {
          ch.pendingLsb = v;
          ch.writeMsbNext = true;
          // Mode 0 stops counting when the first byte of a new count arrives.
          if (ch.mode === 0 && ch.counting) { ch.counting = false; ch.idleOut = false; this.reschedule(idx, now); }
          return;
        }
        ch.writeMsbNext = false;
        count = ch.pendingLsb | (v << 8);
    }
    this.loadCount(idx, count, now);
  }

  private writeControl(v: number, now: number): void {
    const sel = v >> 6;
    if (sel === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick channels.
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        const ch = this.channels[i];
        if (!(v & 0x10) && ch.status < 0) ch.status = ch.statusByte(now);
        if (!(v & 0x20) && ch.latched < 0) { ch.latched = ch.count(now); ch.latchedMsbNext = false; }
      }
      return;
    }
    const ch = this.channels[sel];
    const access = (v >> 4) & 3;
    if (access === 0) {
      // Counter latch command; a second latch before the first is read is ignored.
      if (ch.latched < 0) { ch.latched = ch.count(now); ch.latchedMsbNext = false; }
      return;
    }
    ch.access = access;
    ch.mode = (v >> 1) & 7;
    if (ch.mode > 5) ch.mode -= 4;
    ch.bcd = (v & 1) !== 0;
    ch.loaded = false;
    ch.counting = false;
    ch.nullCount = true;
    ch.idleOut = ch.mode !== 0;
    ch.writeMsbNext = ch.readMsbNext = false;
    ch.latched = -1;
    ch.status = -1;
    this.reschedule(sel, now);
  }

  private loadCount(idx: number, raw: number, now: number): void {
    const ch = this.channels[idx];
    let n = ch.bcd ? fromBcd(raw) : raw;
    if (n === 0) n = ch.bcd ? 10000 : 0x10000;
    // Modes 2 and 3 divide by N, and N = 1 makes no sense for mode 3 on real parts; keep it counting.
    ch.reload = n;
    ch.loaded = true;
    ch.nullCount = false;
    if (ch.mode === 1 || ch.mode === 5) {
      // Hardware-triggered modes wait for a gate edge.
      if (!ch.counting) ch.idleOut = true;
    } else if (ch.gate || ch.mode === 0 || ch.mode === 4) {
      ch.start(now);
      if (!ch.gate) ch.frozenTicks = 0;
    } else {
      ch.counting = false;
    }
    this.reschedule(idx, now);
  }

  private setGate2(gate: boolean, now: number): void {
    const ch = this.channels[2];
    if (gate === ch.gate) return;
    ch.gate = gate;
    if (!ch.loaded) return;
    switch (ch.mode) {
      case 0: case 4:
        // The gate pauses counting.
        if (!ch.counting) return;
        if (!gate) ch.frozenTicks = ch.elapsedTicks(now);
        else { ch.offsetTicks = ch.frozenTicks; ch.startNs = now; ch.frozenTicks = -1; }
        return;
      case 1: case 5:
        if (gate) { ch.start(now); }
        return;
      default:
        // Modes 2/3: gate low stops the counter with OUT high; the rising edge reloads it.
        if (gate) ch.start(now);
        else { ch.counting = false; ch.idleOut = true; }
    }
  }

  /** Legacy-replacement hook: stop (false) or resume (true) raising IRQ0. */
  setIrqEnabled(enabled: boolean): void {
    if (enabled === this.irqEnabled) return;
    this.irqEnabled = enabled;
    this.reschedule(0, this.clock.nowNs());
  }

  private reschedule(idx: number, now: number): void {
    if (idx !== 0) return;
    const ch = this.channels[0];
    this.clock.cancel(ch.timer);
    ch.timer = undefined;
    if (!this.irqEnabled || !ch.counting || ch.frozenTicks >= 0) return;
    const rise = ch.nextRise(ch.elapsedTicks(now));
    if (rise < 0) return;
    this.ch0Rise = rise;
    ch.timer = this.clock.addTimer(ch.startNs + Math.ceil((rise - ch.offsetTicks) * NS_PER_TICK), this.fireCh0);
  }

  private onChannel0Edge(): void {
    const ch = this.channels[0];
    ch.timer = undefined;
    this.irqCount++;
    this.irq.setIrq(0, true);
    this.irq.setIrq(0, false);
    // Schedule from the edge just delivered, not from "now", so periodic ticks do not drift;
    // if the loop ran late and several periods passed, they coalesce into this one.
    const now = this.clock.nowNs();
    // Float rounding can put "now" a hair before the edge's tick; never re-deliver the same edge.
    const d = Math.max(ch.elapsedTicks(now), this.ch0Rise);
    const rise = ch.nextRise(d);
    if (rise < 0 || !ch.counting) return;
    this.ch0Rise = rise;
    ch.timer = this.clock.addTimer(ch.startNs + Math.ceil((rise - ch.offsetTicks) * NS_PER_TICK), this.fireCh0);
  }
}
