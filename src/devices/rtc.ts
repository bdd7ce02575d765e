// Motorola MC146818 real-time clock and CMOS RAM (ports 0x70/0x71), with the memory-size
// and CPU-count bytes that SeaBIOS reads the way QEMU fills them.
//
// Time is kept as UTC seconds since the epoch at a reference virtual time; the date registers
// are derived on read, so nothing ticks unless an interrupt is enabled.

import type { IoHandler, IoSize, IrqSink } from './types.js';
import type { Timer, VirtualClock } from './clock.js';
import { fromBcd, toBcd } from './bcd.js';

const REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d;
const CENTURY = 0x32;
const B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_DM_BINARY = 0x04, B_24H = 0x02;
const C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10;
const A_UIP = 0x80;
/** UIP rises this long before an update and stays up while the update runs (MC146818 at 32.768 kHz). */
const UIP_BEFORE_NS = 244_000, UIP_DURING_NS = 1_984_000;
const NS_PER_S = 1e9;

/** Field slots of the broken-down time. */
const F_SEC = 0, F_MIN = 1, F_HOUR = 2, F_DOW = 3, F_MDAY = 4, F_MONTH = 5, F_YEAR = 6, F_CENTURY = 7;
/** Which field each time register (0-9) holds; alarms are -1. */
const REG_FIELD = [F_SEC, -1, F_MIN, -1, F_HOUR, -1, F_DOW, F_MDAY, F_MONTH, F_YEAR];
const ALARM_FIELDS = [F_SEC, F_MIN, F_HOUR];

// Proleptic Gregorian day count conversions (days since 1970-01-01), by era of 400 years.
function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y--;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

export interface RtcOptions {
  /** Guest RAM in bytes, for the CMOS memory-size fields. */
  ramBytes: number;
  cpuCount: number;
  /** UTC start time in ms since the epoch (default: the host's clock at creation). */
  startTimeMs?: number;
}

export class Rtc implements IoHandler {
  /** CMOS RAM; bytes 0x00-0x0D are the clock's registers and are not read from here. */
  readonly cmos = new Uint8Array(128);
  index = 0;
  /** Port 0x70 bit 7: chipset NMI sources (IOCHK, SERR) are masked. */
  nmiMasked = false;
  private regA = 0x26;
  private regB = B_24H;
  private flags = 0;
  private readonly alarm = new Uint8Array(3); // sec, min, hour, in the encoding in force when written
  /** UTC seconds at virtual time baseNs (while running). */
  private baseSec: number;
  private baseNs: number;
  /** While SET or the divider chain is in reset, time stands still at heldSec. */
  private held = false;
  private heldSec = 0;
  private readonly f = new Int32Array(8);
  /** Periodic tick index and update-second index last accounted into the flags (for guests that poll register C). */
  private pfIndex = 0;
  private ufIndex = 0;
  private irqLevel = false;
  /** False while the HPET's legacy replacement owns IRQ8: flags still update, the line stays low. */
  private irqEnabled = true;
  private periodicTimer: Timer | undefined;
  private updateTimer: Timer | undefined;
  private readonly firePeriodic = (): void => this.onPeriodic();
  private readonly fireUpdate = (): void => this.onUpdate();

  constructor(private readonly clock: VirtualClock, private readonly irq: IrqSink, private readonly irqLine: number, opts: RtcOptions) {
    const startMs = opts.startTimeMs ?? Date.now();
    this.baseSec = Math.floor(startMs / 1000);
    // Keep the host's sub-second phase so the first update is not always "right now".
    this.baseNs = clock.nowNs() - (startMs - this.baseSec * 1000) * 1e6;
    this.fillCmos(opts);
  }

  private fillCmos(opts: RtcOptions): void {
    const KiB = 1024, MiB = 1024 * KiB;
    const below4g = Math.min(opts.ramBytes, 0xe000_0000);
    const above4g = opts.ramBytes - below4g;
    const put16 = (i: number, v: number): void => { this.cmos[i] = v & 0xff; this.cmos[i + 1] = (v >> 8) & 0xff; };
    put16(0x15, Math.min(below4g / KiB, 640)); // base memory
    const ext = Math.min(below4g > MiB ? Math.floor((below4g - MiB) / KiB) : 0, 0xffff);
    put16(0x17, ext); // extended memory, as the BIOS counted it
    put16(0x30, ext); // and as POST reports it
    put16(0x34, Math.min(below4g > 16 * MiB ? Math.floor((below4g - 16 * MiB) / (64 * KiB)) : 0, 0xffff));
    const high = Math.floor(above4g / (64 * KiB));
    this.cmos[0x5b] = high & 0xff; this.cmos[0x5c] = (high >> 8) & 0xff; this.cmos[0x5d] = (high >> 16) & 0xff;
    this.cmos[0x5f] = opts.cpuCount - 1;
    this.cmos[0x14] = 0x06; // equipment: FPU, PS/2 mouse, VGA
  }

  private get frozen(): boolean {
    return this.held;
  }

  private nowSec(now: number): number {
    return this.frozen ? this.heldSec : this.baseSec + Math.floor((now - this.baseNs) / NS_PER_S);
  }

  private decompose(sec: number): void {
    const days = Math.floor(sec / 86400);
    let rem = sec - days * 86400;
    this.f[F_HOUR] = Math.floor(rem / 3600); rem -= this.f[F_HOUR] * 3600;
    this.f[F_MIN] = Math.floor(rem / 60);
    this.f[F_SEC] = rem - this.f[F_MIN] * 60;
    this.f[F_DOW] = ((days + 4) % 7 + 7) % 7 + 1; // 1970-01-01 was a Thursday; Sunday = 1
    const z = days + 719468;
    const era = Math.floor(z / 146097);
    const doe = z - era * 146097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const m = mp < 10 ? mp + 3 : mp - 9;
    const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    this.f[F_MDAY] = doy - Math.floor((153 * mp + 2) / 5) + 1;
    this.f[F_MONTH] = m;
    this.f[F_YEAR] = y % 100;
    this.f[F_CENTURY] = Math.floor(y / 100);
  }

  private compose(): number {
    const y = this.f[F_CENTURY] * 100 + this.f[F_YEAR];
    return daysFromCivil(y, this.f[F_MONTH], this.f[F_MDAY]) * 86400 + this.f[F_HOUR] * 3600 + this.f[F_MIN] * 60 + this.f[F_SEC];
  }

  private enc(v: number): number {
    return (this.regB & B_DM_BINARY) ? v : toBcd(v % 100);
  }

  private dec(v: number): number {
    return (this.regB & B_DM_BINARY) ? v : fromBcd(v & 0xff);
  }

  private encHour(h: number): number {
    if (this.regB & B_24H) return this.enc(h);
    return this.enc(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  private decHour(v: number): number {
    if (this.regB & B_24H) return this.dec(v);
    return (this.dec(v & 0x7f) % 12) + (v & 0x80 ? 12 : 0);
  }

  private encodeField(field: number): number {
    return field === F_HOUR ? this.encHour(this.f[F_HOUR]) : this.enc(this.f[field]);
  }

  private updateInProgress(now: number): boolean {
    if (this.frozen) return false;
    const phase = ((now - this.baseNs) % NS_PER_S + NS_PER_S) % NS_PER_S;
    return phase >= NS_PER_S - UIP_BEFORE_NS || phase < UIP_DURING_NS;
  }

  /** Fold periodic/update events that happened since the last look into the flags (polling guests see them too). */
  private catchUpFlags(now: number): void {
    const period = this.periodNs();
    if (period > 0) {
      const idx = Math.floor(now / period);
      if (idx > this.pfIndex) { this.flags |= C_PF; this.pfIndex = idx; }
    }
    if (!this.frozen) {
      const s = Math.floor((now - this.baseNs) / NS_PER_S);
      if (s > this.ufIndex) {
        this.flags |= C_UF;
        this.ufIndex = s;
        if (this.alarmMatches(now)) this.flags |= C_AF;
      }
    }
  }

  private alarmMatches(now: number): boolean {
    this.decompose(this.nowSec(now));
    for (let i = 0; i < 3; i++) {
      const a = this.alarm[i];
      if ((a & 0xc0) === 0xc0) continue; // don't-care
      if (a !== this.encodeField(ALARM_FIELDS[i])) return false;
    }
    return true;
  }

  /** Periodic interrupt period in ns for the rate select bits, or 0 when off (32.768 kHz time base). */
  private periodNs(): number {
    const rs = this.regA & 0x0f;
    if (rs === 0 || this.dividerInReset()) return 0;
    const shift = rs <= 2 ? rs + 6 : rs - 1;
    return ((1 << shift) / 32768) * NS_PER_S;
  }

  private dividerInReset(): boolean {
    return (this.regA & 0x60) === 0x60;
  }

  /** Legacy-replacement hook: stop (false) or resume (true) driving IRQ8. */
  setIrqEnabled(enabled: boolean): void {
    this.irqEnabled = enabled;
    this.updateIrq();
  }

  private updateIrq(): void {
    const pending = (this.flags & this.regB & (C_PF | C_AF | C_UF)) !== 0;
    if (pending) this.flags |= C_IRQF;
    const level = this.irqEnabled && (this.flags & C_IRQF) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(this.irqLine, level);
    }
  }

  private reschedule(): void {
    const now = this.clock.nowNs();
    this.clock.cancel(this.periodicTimer);
    this.clock.cancel(this.updateTimer);
    this.periodicTimer = this.updateTimer = undefined;
    const period = this.periodNs();
    if (period > 0 && (this.regB & B_PIE)) {
      this.periodicTimer = this.clock.addTimer(Math.ceil((Math.floor(now / period) + 1) * period), this.firePeriodic);
    }
    if (!this.frozen && (this.regB & (B_UIE | B_AIE))) {
      const next = this.baseNs + (Math.floor((now - this.baseNs) / NS_PER_S) + 1) * NS_PER_S;
      this.updateTimer = this.clock.addTimer(next, this.fireUpdate);
    }
  }

  private onPeriodic(): void {
    this.periodicTimer = undefined;
    const now = this.clock.nowNs();
    this.catchUpFlags(now);
    this.flags |= C_PF;
    this.updateIrq();
    const period = this.periodNs();
    if (period > 0 && (this.regB & B_PIE)) {
      this.periodicTimer = this.clock.addTimer(Math.ceil((Math.floor(now / period) + 1) * period), this.firePeriodic);
    }
  }

  private onUpdate(): void {
    this.updateTimer = undefined;
    const now = this.clock.nowNs();
    this.catchUpFlags(now);
    this.updateIrq();
    if (!this.frozen && (this.regB & (B_UIE | B_AIE))) {
      const next = this.baseNs + (Math.floor((now - this.baseNs) / NS_PER_S) + 1) * NS_PER_S;
      this.updateTimer = this.clock.addTimer(next, this.fireUpdate);
    }
  }

  private freeze(now: number): void {
    if (!this.held) { this.heldSec = this.nowSec(now); this.held = true; }
  }

  private unfreeze(now: number): void {
    if (!this.frozen || (this.regB & B_SET) || this.dividerInReset()) return;
    this.baseSec = this.heldSec;
    this.baseNs = now;
    this.held = false;
    this.ufIndex = 0;
  }

  private readRegister(i: number, now: number): number {
    if (i < 10) {
      const field = REG_FIELD[i];
      if (field < 0) return this.alarm[i >> 1];
      this.decompose(this.nowSec(now));
      return this.encodeField(field);
    }
    switch (i) {
      case REG_A: return (this.regA & 0x7f) | (this.updateInProgress(now) ? A_UIP : 0);
      case REG_B: return this.regB;
      case REG_C: {
        this.catchUpFlags(now);
        this.updateIrq();
        const v = this.flags;
        this.flags = 0;
        this.updateIrq();
        return v;
      }
      case REG_D: return 0x80; // valid RAM and time (battery good)
      case CENTURY:
        this.decompose(this.nowSec(now));
        return this.enc(this.f[F_CENTURY]);
      default: return this.cmos[i];
    }
  }

  private writeRegister(i: number, v: number, now: number): void {
    if (i < 10 || i === CENTURY) {
      const field = i === CENTURY ? F_CENTURY : REG_FIELD[i];
      if (field < 0) { this.alarm[i >> 1] = v; return; }
      const before = this.nowSec(now);
      this.decompose(before);
      this.f[field] = field === F_HOUR ? this.decHour(v) : this.dec(v);
      const after = this.compose();
      if (this.frozen) this.heldSec = after;
      else this.baseSec += after - before;
      return;
    }
    switch (i) {
      case REG_A: {
        this.regA = v & 0x7f;
        // A new rate starts counting from now, not from a tick of the old one.
        const period = this.periodNs();
        if (period > 0) this.pfIndex = Math.floor(now / period);
        if (this.dividerInReset()) this.freeze(now);
        else this.unfreeze(now);
        break;
      }
      case REG_B:
        // Setting SET aborts updates and clears UIE.
        if (v & B_SET) { v &= ~B_UIE; this.freeze(now); }
        this.regB = v;
        this.unfreeze(now);
        break;
      case REG_C: case REG_D: return; // read-only
      default: this.cmos[i] = v; return;
    }
    this.catchUpFlags(now);
    this.updateIrq();
    this.reschedule();
  }

  ioRead(port: number, _size: IoSize): number {
    if (port === 0x70) return 0xff; // the index register is write-only
    return this.readRegister(this.index, this.clock.nowNs());
  }

  ioWrite(port: number, _size: IoSize, value: number): void {
    if (port === 0x70) {
      this.index = value & 0x7f;
      this.nmiMasked = (value & 0x80) !== 0;
      return;
    }
    this.writeRegister(this.index, value & 0xff, this.clock.nowNs());
  }
}
