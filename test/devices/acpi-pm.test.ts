import { describe, it, expect } from 'vitest';
import { AcpiPm, PM_TIMER_HZ, SCI_IRQ, SLP_TYP_S5 } from '../../src/devices/acpi-pm.js';
import { IoBus } from '../../src/devices/iobus.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { createPcPlatform } from '../../src/devices/pc.js';
import { IrqRecorder, TestClock, TestControl } from './helpers.js';

const STS = 0x600, EN = 0x602, CNT = 0x604, TMR = 0x608, GPE_STS = 0xafe0, GPE_EN = 0xafe2;
const TMR_BIT = 1, WAK = 1 << 15, SCI_EN = 1, SLP_EN = 1 << 13;

function make(timer32 = false) {
  const clock = new TestClock();
  const irq = new IrqRecorder();
  const control = new TestControl();
  const pm = new AcpiPm(clock, irq, control, { timer32 });
  return { clock, irq, control, pm };
}

/** ns at which the PM timer reaches `ticks`. */
const nsOf = (ticks: number) => Math.ceil((ticks * 1e9) / PM_TIMER_HZ);

describe('ACPI PM timer', () => {
  it('counts at 3.579545 MHz from virtual time and wraps at 24 bits', () => {
    const { clock, pm } = make();
    expect(pm.ioRead(TMR, 4)).toBe(0);
    clock.advanceTo(1e9);
    expect(pm.ioRead(TMR, 4)).toBe(PM_TIMER_HZ);
    clock.advanceTo(10e9);
    expect(pm.ioRead(TMR, 4)).toBe((10 * PM_TIMER_HZ) % 2 ** 24);
    // Byte reads see the same value.
    const v = pm.ioRead(TMR, 4);
    expect(pm.ioRead(TMR, 1) | (pm.ioRead(TMR + 1, 1) << 8) | (pm.ioRead(TMR + 2, 2) << 16)).toBe(v);
  });

  it('32-bit variant keeps counting past 2^24; exact over days of virtual time', () => {
    const { clock, pm } = make(true);
    clock.advanceTo(86_400e9 + 123_456_789);
    const ticks = 86_400 * PM_TIMER_HZ + Math.floor((123_456_789 * PM_TIMER_HZ) / 1e9);
    expect(pm.ioRead(TMR, 4)).toBe(ticks % 2 ** 32);
  });

  it('writes to the timer are ignored', () => {
    const { clock, pm } = make();
    clock.advanceTo(1000);
    pm.ioWrite(TMR, 4, 0x123456);
    expect(pm.ioRead(TMR, 4)).toBe(Math.floor((1000 * PM_TIMER_HZ) / 1e9));
  });

  it('TMR_STS is set when bit 23 toggles, even with the event disabled, and is write-1-to-clear', () => {
    const { clock, irq, pm } = make();
    clock.advanceTo(nsOf(2 ** 23) - 1);
    expect(pm.ioRead(STS, 2) & TMR_BIT).toBe(0);
    clock.advanceTo(nsOf(2 ** 23));
    expect(pm.ioRead(STS, 2) & TMR_BIT).toBe(TMR_BIT);
    expect(irq.count(SCI_IRQ)).toBe(0);
    pm.ioWrite(STS, 2, 0); // zeros clear nothing
    expect(pm.ioRead(STS, 2) & TMR_BIT).toBe(TMR_BIT);
    pm.ioWrite(STS, 2, TMR_BIT);
    expect(pm.ioRead(STS, 2) & TMR_BIT).toBe(0);
  });

  it('with TMR_EN the overflow raises the SCI (IRQ 9, level) at the toggle until status is cleared', () => {
    const { clock, irq, pm } = make();
    pm.ioWrite(EN, 2, TMR_BIT);
    expect(pm.ioRead(EN, 2)).toBe(TMR_BIT);
    clock.advanceTo(nsOf(2 ** 23) - 1);
    expect(irq.level(SCI_IRQ)).toBe(false);
    clock.advanceTo(nsOf(2 ** 23));
    expect(irq.level(SCI_IRQ)).toBe(true);
    pm.ioWrite(STS, 2, TMR_BIT);
    expect(irq.level(SCI_IRQ)).toBe(false);
    clock.advanceTo(nsOf(2 ** 24));
    expect(irq.level(SCI_IRQ)).toBe(true);
    expect(irq.count(SCI_IRQ)).toBe(2);
    // Disabling the event drops the SCI while the status stays.
    pm.ioWrite(EN, 2, 0);
    expect(irq.level(SCI_IRQ)).toBe(false);
    expect(pm.ioRead(STS, 2) & TMR_BIT).toBe(TMR_BIT);
  });

  it('SCI_EN clear (legacy mode) keeps events off the SCI', () => {
    const { clock, irq, pm } = make();
    expect(pm.ioRead(CNT, 2) & SCI_EN).toBe(SCI_EN); // always in ACPI mode
    pm.ioWrite(CNT, 2, 0);
    pm.ioWrite(EN, 2, TMR_BIT);
    clock.advanceTo(nsOf(2 ** 23));
    expect(irq.level(SCI_IRQ)).toBe(false);
    pm.ioWrite(CNT, 2, SCI_EN);
    expect(irq.level(SCI_IRQ)).toBe(true);
  });

  it('a dword write at PM1a_EVT writes status (low half) and enable (high half)', () => {
    const { clock, pm } = make();
    clock.advanceTo(nsOf(2 ** 23));
    pm.ioWrite(STS, 4, (0x0100 << 16) | TMR_BIT);
    expect(pm.ioRead(STS, 4)).toBe(0x0100 << 16);
  });

  it('power button events and GPE0 status/enable raise the SCI', () => {
    const { irq, pm } = make();
    pm.raiseEvent(1 << 8);
    expect(irq.level(SCI_IRQ)).toBe(false);
    pm.ioWrite(EN, 2, 1 << 8);
    expect(irq.level(SCI_IRQ)).toBe(true);
    pm.ioWrite(STS, 2, 1 << 8);
    expect(irq.level(SCI_IRQ)).toBe(false);
    pm.gpe0Status = 0x4;
    pm.ioWrite(GPE_EN, 1, 0x4);
    expect(pm.ioRead(GPE_EN, 2)).toBe(0x4);
    expect(irq.level(SCI_IRQ)).toBe(true);
    pm.ioWrite(GPE_STS, 1, 0x4);
    expect(pm.ioRead(GPE_STS, 1)).toBe(0);
    expect(irq.level(SCI_IRQ)).toBe(false);
  });
});

describe('ACPI PM1 control', () => {
  it('SLP_TYP = S5 with SLP_EN powers off; SLP_EN reads back 0', () => {
    const { control, pm } = make();
    pm.ioWrite(CNT, 2, SCI_EN | (SLP_TYP_S5 << 10));
    expect(control.powerOffs).toBe(0);
    pm.ioWrite(CNT, 2, SCI_EN | (SLP_TYP_S5 << 10) | SLP_EN);
    expect(control.powerOffs).toBe(1);
    expect(pm.ioRead(CNT, 2) & SLP_EN).toBe(0);
  });

  it('ACPICA-style byte write of the high byte still powers off', () => {
    const { control, pm } = make();
    pm.ioWrite(CNT + 1, 1, (SLP_TYP_S5 << 2) | (SLP_EN >> 8));
    expect(control.powerOffs).toBe(1);
  });

  it('other sleep types wake at once (WAK_STS) instead of sleeping', () => {
    const { control, pm } = make();
    pm.ioWrite(CNT, 2, SCI_EN | (5 << 10) | SLP_EN);
    expect(control.powerOffs).toBe(0);
    expect(pm.ioRead(STS, 2) & WAK).toBe(WAK);
    expect((pm.ioRead(CNT, 2) >> 10) & 7).toBe(5);
  });
});

describe('ACPI PM in the PC', () => {
  function makePc() {
    const io = new IoBus();
    const mem = new PhysMem(16 << 20);
    const clock = new TestClock();
    const control = new TestControl();
    const pc = createPcPlatform({ io, mem, clock, control, ramBytes: 16 << 20, serialOut: () => {}, rtcStartMs: 0 });
    return { io, mem, clock, control, pc };
  }

  it('PM1a control at 0x604 powers off; the FADT reset register (0xCF9 ← 6) resets', () => {
    const { io, control } = makePc();
    io.write(CNT, 2, SCI_EN | (SLP_TYP_S5 << 10) | SLP_EN);
    expect(control.powerOffs).toBe(1);
    io.write(0xcf9, 1, 0x06);
    expect(control.resets.length).toBe(1);
  });

  it('the SCI reaches IOAPIC pin 9 as a level interrupt', () => {
    const { io, mem, clock, pc } = makePc();
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff);
    mem.write32(0xfee000f0, 0x1ff);
    mem.write32(0xfee00350, 0x10700);
    mem.write32(0xfec00000, 0x10 + 2 * 9); mem.write32(0xfec00010, 0x8000 | 0x49); // level, vector 0x49
    io.write(EN, 2, TMR_BIT);
    clock.advanceTo(nsOf(2 ** 23));
    expect(pc.intc.hasInterrupt()).toBe(true);
    expect(pc.intc.acknowledge()).toBe(0x49);
    io.write(STS, 2, TMR_BIT);
    mem.write32(0xfee000b0, 0);
    expect(pc.intc.hasInterrupt()).toBe(false);
    expect(io.read(TMR, 4)).toBe(pc.acpiPm.timerValue());
  });
});
