// ACPI fixed hardware of the PC, laid out like QEMU's PIIX4 power-management function:
// PM1a event block (status/enable) at PM base + 0, PM1a control at + 4, the PM timer at + 8,
// and a 4-byte GPE0 block elsewhere. The SCI is ISA IRQ 9, level-triggered (the MADT says so).
//
// The PM timer is derived from virtual time; its overflow status is folded in lazily when the
// guest looks, and a VirtualClock timer is armed only while the overflow event is enabled.

import type { IoHandler, IoSize, IrqSink, MachineControl } from './types.js';
import type { Timer, VirtualClock } from './clock.js';

export const PM_BASE = 0x600;
export const PM_IO_LEN = 0x40;
export const PM1A_EVT_BLK = PM_BASE;
export const PM1A_CNT_BLK = PM_BASE + 4;
export const PM_TMR_BLK = PM_BASE + 8;
export const GPE0_BLK = 0xafe0;
export const GPE0_BLK_LEN = 4;
export const SCI_IRQ = 9;
export const PM_TIMER_HZ = 3_579_545;
/**
 * SLP_TYP value that means soft-off. QEMU uses 0 for S5; the DSDT's \_S5_ package carries the
 * same number, so the two must change together.
 */
export const SLP_TYP_S5 = 0;

// PM1 status / enable bits.
export const PM1_TMR = 1 << 0;
export const PM1_GBL = 1 << 5;
export const PM1_PWRBTN = 1 << 8;
export const PM1_SLPBTN = 1 << 9;
export const PM1_RTC = 1 << 10;
export const PM1_WAK = 1 << 15;
const PM1_STS_BITS = PM1_TMR | 1 << 4 | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC | 1 << 14 | PM1_WAK;
const PM1_EN_BITS = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC;
/** Events that raise the SCI when both status and enable are set. */
const PM1_SCI_EVENTS = PM1_TMR | PM1_GBL | PM1_PWRBTN | PM1_SLPBTN | PM1_RTC;

// PM1 control bits.
export const PM1_SCI_EN = 1 << 0;
const PM1_SLP_TYP_SHIFT = 10;
export const PM1_SLP_EN = 1 << 13;
/** SCI_EN, BM_RLD, GBL_RLS (write-only, reads 0), SLP_TYP. */
const PM1_CNT_STORED = PM1_SCI_EN | 1 << 1 | 7 << PM1_SLP_TYP_SHIFT;

export interface AcpiPmOptions {
  /** 32-bit PM timer (FADT TMR_VAL_EXT); default 24-bit, as QEMU. */
  timer32?: boolean;
}

export class AcpiPm implements IoHandler {
  readonly timer32: boolean;
  pm1Status = 0;
  pm1Enable = 0;
  /**
   * The FADT has no SMI_CMD port, which tells OSPM the machine is always in ACPI mode; the
   * spec then wants SCI_EN already set.
   */
  pm1Control = PM1_SCI_EN;
  gpe0Status = 0;
  gpe0Enable = 0;
  /** Power-off requests seen (S5). */
  powerOffs = 0;
  private readonly msbShift: number;
  /** Count of timer MSB toggles already folded into TMR_STS. */
  private togglesSeen: number;
  private overflowTimer: Timer | undefined;
  private sciLevel = false;
  private readonly fireOverflow = (): void => this.onOverflow();

  constructor(
    private readonly clock: VirtualClock,
    private readonly irq: IrqSink,
    private readonly control: MachineControl,
    opts: AcpiPmOptions = {},
  ) {
    this.timer32 = opts.timer32 ?? false;
    this.msbShift = this.timer32 ? 31 : 23;
    this.togglesSeen = this.toggles(this.ticks(clock.nowNs()));
  }

  /** PM timer ticks since virtual time 0, exact: whole seconds and the remainder apart. */
  private ticks(now: number): number {
    const s = Math.floor(now / 1e9);
    return s * PM_TIMER_HZ + Math.floor(((now - s * 1e9) * PM_TIMER_HZ) / 1e9);
  }

  private toggles(ticks: number): number {
    return Math.floor(ticks / 2 ** this.msbShift);
  }

  /** PM timer register value. */
  timerValue(): number {
    const t = this.ticks(this.clock.nowNs());
    return this.timer32 ? t % 0x1_0000_0000 : t % 0x100_0000;
  }

  /** The MSB of the counter toggled since the guest last looked: TMR_STS. */
  private catchUp(): void {
    const n = this.toggles(this.ticks(this.clock.nowNs()));
    if (n > this.togglesSeen) {
      this.togglesSeen = n;
      this.pm1Status |= PM1_TMR;
    }
  }

  /** Raise a fixed event from outside (power button: PM1_PWRBTN). */
  raiseEvent(bits: number): void {
    this.pm1Status |= bits & PM1_STS_BITS;
    this.updateSci();
  }

  ioRead(port: number, size: IoSize): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.readByte(port + i) << (8 * i);
    return v >>> 0;
  }

  ioWrite(port: number, size: IoSize, value: number): void {
    // Group the bytes by register so multi-byte registers see one write with a byte mask.
    let i = 0;
    while (i < size) {
      const p = port + i;
      const reg = this.regStart(p);
      const width = this.regWidth(reg);
      let val = 0, mask = 0;
      while (i < size && port + i < reg + width) {
        const lane = (port + i - reg) * 8;
        val |= ((value >>> (8 * i)) & 0xff) << lane;
        mask |= 0xff << lane;
        i++;
      }
      this.writeReg(reg, val >>> 0, mask >>> 0);
    }
  }

  private regStart(port: number): number {
    if (port >= GPE0_BLK && port < GPE0_BLK + GPE0_BLK_LEN) return port < GPE0_BLK + 2 ? GPE0_BLK : GPE0_BLK + 2;
    const off = port - PM_BASE;
    if (off < 8) return PM_BASE + (off & ~1);
    if (off < 12) return PM_TMR_BLK;
    return port;
  }

  private regWidth(reg: number): number {
    return reg === PM_TMR_BLK ? 4 : reg >= GPE0_BLK ? 2 : reg - PM_BASE < 8 ? 2 : 1;
  }

  private readByte(port: number): number {
    const reg = this.regStart(port);
    return (this.readReg(reg) >>> ((port - reg) * 8)) & 0xff;
  }

  private readReg(reg: number): number {
    switch (reg) {
      case PM1A_EVT_BLK: this.catchUp(); return this.pm1Status;
      case PM1A_EVT_BLK + 2: return this.pm1Enable;
      case PM1A_CNT_BLK: return this.pm1Control;
      case PM_TMR_BLK: return this.timerValue();
      case GPE0_BLK: return this.gpe0Status;
      case GPE0_BLK + 2: return this.gpe0Enable;
      default: return 0;
    }
  }

  private writeReg(reg: number, val: number, mask: number): void {
    switch (reg) {
      case PM1A_EVT_BLK:
        this.catchUp();
        this.pm1Status &= ~(val & mask);
        break;
      case PM1A_EVT_BLK + 2:
        this.pm1Enable = ((this.pm1Enable & ~mask) | (val & mask)) & PM1_EN_BITS;
        this.catchUp();
        this.scheduleOverflow();
        break;
      case PM1A_CNT_BLK:
        this.writeControl(val, mask);
        break;
      case GPE0_BLK:
        this.gpe0Status &= ~(val & mask);
        break;
      case GPE0_BLK + 2:
        this.gpe0Enable = (this.gpe0Enable & ~mask) | (val & mask);
        break;
      default:
        return; // the PM timer is read-only; the rest of the PM I/O window is reserved
    }
    this.updateSci();
  }

  private writeControl(val: number, mask: number): void {
    this.pm1Control = ((this.pm1Control & ~mask) | (val & mask)) & PM1_CNT_STORED;
    if ((mask & PM1_SLP_EN) === 0 || (val & PM1_SLP_EN) === 0) return;
    const slpTyp = (this.pm1Control >> PM1_SLP_TYP_SHIFT) & 7;
    if (slpTyp === SLP_TYP_S5) {
      this.powerOffs++;
      this.control.requestPowerOff();
      return;
    }
    // Other sleep states are not implemented: wake at once so an OS waiting on WAK_STS goes on.
    this.pm1Status |= PM1_WAK;
  }

  private updateSci(): void {
    const level = (this.pm1Control & PM1_SCI_EN) !== 0 &&
      ((this.pm1Status & this.pm1Enable & PM1_SCI_EVENTS) !== 0 || (this.gpe0Status & this.gpe0Enable) !== 0);
    if (level === this.sciLevel) return;
    this.sciLevel = level;
    this.irq.setIrq(SCI_IRQ, level);
  }

  get sciAsserted(): boolean {
    return this.sciLevel;
  }

  /** Keep a timer at the next MSB toggle only while the overflow event can raise the SCI. */
  private scheduleOverflow(): void {
    this.clock.cancel(this.overflowTimer);
    this.overflowTimer = undefined;
    if ((this.pm1Enable & PM1_TMR) === 0) return;
    const next = (this.togglesSeen + 1) * 2 ** this.msbShift;
    // First ns at which ticks(ns) >= next.
    const s = Math.floor(next / PM_TIMER_HZ);
    const rem = next - s * PM_TIMER_HZ;
    let ns = s * 1e9 + Math.ceil((rem * 1e9) / PM_TIMER_HZ);
    while (this.ticks(ns) < next) ns++;
    this.overflowTimer = this.clock.addTimer(ns, this.fireOverflow);
  }

  private onOverflow(): void {
    this.overflowTimer = undefined;
    this.catchUp();
    this.updateSci();
    this.scheduleOverflow();
  }
}
