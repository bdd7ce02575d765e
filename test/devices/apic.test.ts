import { describe, it, expect, beforeEach } from 'vitest';
import { ApicBus } from '../../src/devices/apicbus.js';
import { LocalApic, LAPIC_DEFAULT_BASE } from '../../src/devices/lapic.js';
import { IoApic, IOAPIC_BASE } from '../../src/devices/ioapic.js';
import { PicPair } from '../../src/devices/pic.js';
import { CpuInterruptController, IsaIrqRouter } from '../../src/devices/intc.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { IoBus } from '../../src/devices/iobus.js';
import { TestClock } from './helpers.js';

describe('local APIC, IOAPIC and routing', () => {
  let clock: TestClock;
  let abus: ApicBus;
  let lapic: LocalApic;
  let ioapic: IoApic;
  let mem: PhysMem;
  let io: IoBus;
  let pic: PicPair;
  let intc: CpuInterruptController;
  let isa: IsaIrqRouter;

  const L = (off: number): number => mem.read32(LAPIC_DEFAULT_BASE + off);
  const LW = (off: number, v: number): void => mem.write32(LAPIC_DEFAULT_BASE + off, v);
  const ioRead = (r: number): number => { mem.write32(IOAPIC_BASE, r); return mem.read32(IOAPIC_BASE + 0x10); };
  const ioWrite = (r: number, v: number): void => { mem.write32(IOAPIC_BASE, r); mem.write32(IOAPIC_BASE + 0x10, v); };
  const enable = (): void => LW(0xf0, 0x1ff);

  beforeEach(() => {
    clock = new TestClock();
    abus = new ApicBus();
    lapic = new LocalApic(0, clock, abus, true);
    ioapic = new IoApic(abus);
    mem = new PhysMem(1 << 20);
    mem.addMmio(LAPIC_DEFAULT_BASE, 0x1000, lapic, 'lapic');
    mem.addMmio(IOAPIC_BASE, 0x1000, ioapic, 'ioapic');
    io = new IoBus();
    pic = new PicPair();
    io.register(0x20, 2, pic); io.register(0xa0, 2, pic);
    intc = new CpuInterruptController(lapic, pic);
    isa = new IsaIrqRouter(pic, ioapic);
  });

  it('reports ID, version, and the APIC base MSR', () => {
    expect(L(0x20)).toBe(0);
    expect(L(0x30)).toBe(0x50014);
    expect(lapic.readMsr(0x1b)).toBe(true);
    expect(lapic.msrLo).toBe(0xfee00900);
    expect(lapic.msrHi).toBe(0);
    expect(L(0xf0)).toBe(0xff);
    expect(L(0x350)).toBe(0x700); // BSP LINT0 starts as ExtINT
    expect(L(0x320)).toBe(0x10000);
  });

  it('self-IPI: IRR -> ISR on acknowledge, EOI clears; TPR/PPR gate delivery', () => {
    enable();
    LW(0x300, 0x40000 | 0x45); // self shorthand, fixed, vector 0x45
    expect(L(0x200 + 0x20)).toBe(1 << 5);
    expect(intc.hasInterrupt()).toBe(true);
    LW(0x80, 0x50);
    expect(intc.hasInterrupt()).toBe(false);
    expect(L(0xa0)).toBe(0x50);
    LW(0x80, 0x00);
    expect(intc.acknowledge()).toBe(0x45);
    expect(L(0x100 + 0x20)).toBe(1 << 5);
    expect(L(0xa0)).toBe(0x40);
    // a lower-class interrupt waits for the EOI
    LW(0x300, 0x40000 | 0x41);
    expect(intc.hasInterrupt()).toBe(false);
    LW(0xb0, 0);
    expect(intc.hasInterrupt()).toBe(true);
    expect(intc.acknowledge()).toBe(0x41);
    lapic.cr8 = 0xf;
    expect(L(0x80)).toBe(0xf0);
    lapic.taskPriority = 0x35;
    expect(lapic.cr8).toBe(3);
    expect(L(0x80)).toBe(0x35);
  });

  it('ICR delivery by physical and logical destination; NMI and INIT/SIPI decoded', () => {
    enable();
    LW(0x310, 0 << 24); LW(0x300, 0x4000 | 0x61); // physical dest 0
    expect(L(0x200 + 0x30)).toBe(1 << 1);
    LW(0xd0, 0x01000000); // LDR: logical ID bit 0 (flat)
    LW(0x310, 0x02000000); LW(0x300, 0x800 | 0x62); // logical 0x02: no match
    expect(L(0x200 + 0x30) & (1 << 2)).toBe(0);
    LW(0x310, 0x03000000); LW(0x300, 0x800 | 0x62);
    expect(L(0x200 + 0x30) & (1 << 2)).toBe(1 << 2);
    LW(0x310, 0); LW(0x300, 0x400); // NMI
    expect(intc.takeNmi()).toBe(true);
    expect(intc.takeNmi()).toBe(false);
    LW(0x300, 0xc4500); // INIT, all excluding self: nobody else here
    expect(lapic.initPending).toBe(false);
    LW(0x300, 0x84500); // INIT, all including self
    expect(lapic.initPending).toBe(true);
    LW(0x300, 0x80000 | 0x600 | 0x9a); // SIPI all including self
    expect(lapic.sipiVector).toBe(0x9a);
    // illegal vector
    LW(0x300, 0x40000 | 0x05);
    LW(0x280, 0);
    expect(L(0x280)).toBe(0x20);
  });

  it('software disable masks LVTs; re-enable brings the APIC back', () => {
    enable();
    LW(0x320, 0x20030);
    LW(0xf0, 0x0ff);
    expect(L(0x320) & 0x10000).toBe(0x10000);
    LW(0x320, 0x20030);
    expect(L(0x320) & 0x10000).toBe(0x10000);
    enable();
    LW(0x320, 0x20030);
    expect(L(0x320)).toBe(0x20030);
    LW(0x3e0, 0x0b); LW(0x380, 1000);
    clock.advance(1000);
    expect(intc.acknowledge()).toBe(0x30);
  });

  it('one-shot and periodic timer with divide configuration', () => {
    enable();
    LW(0x3e0, 0x3); // divide by 16
    LW(0x320, 0x31); // one-shot vector 0x31
    LW(0x380, 100);
    clock.advance(800);
    expect(L(0x390)).toBe(50);
    clock.advance(800);
    expect(L(0x390)).toBe(0);
    expect(intc.acknowledge()).toBe(0x31);
    LW(0xb0, 0);
    clock.advance(100000);
    expect(intc.hasInterrupt()).toBe(false);
    LW(0x320, 0x20032); // periodic
    LW(0x3e0, 0x0b); // divide by 1
    LW(0x380, 1000);
    let n = 0;
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      if (intc.hasInterrupt()) { expect(intc.acknowledge()).toBe(0x32); LW(0xb0, 0); n++; }
    }
    expect(n).toBe(10);
    expect(L(0x380)).toBe(1000);
    LW(0x380, 0);
    clock.advance(5000);
    expect(intc.hasInterrupt()).toBe(false);
  });

  it('TSC-deadline mode through MSR 0x6E0 honours the TSC offset', () => {
    enable();
    expect(lapic.writeMsr(0x6e0, 5000, 0)).toBe(true); // ignored outside TSC-deadline mode
    expect(lapic.readMsr(0x6e0) && lapic.msrLo).toBe(0);
    LW(0x320, 0x40040);
    lapic.setTscOffset(1_000_000);
    lapic.writeMsr(0x6e0, 1_000_000 + 5000, 0);
    LW(0x380, 12345);
    expect(L(0x380)).toBe(0);
    clock.advanceTo(4999);
    expect(intc.hasInterrupt()).toBe(false);
    clock.advanceTo(5000);
    expect(intc.acknowledge()).toBe(0x40);
    expect(lapic.readMsr(0x6e0) && lapic.msrLo).toBe(0);
    LW(0xb0, 0);
    // a deadline in the past fires at once; leaving the mode disarms
    lapic.writeMsr(0x6e0, 0, 0);
    lapic.writeMsr(0x6e0, 1, 0);
    expect(intc.hasInterrupt()).toBe(true);
  });

  it('x2APIC mode: MSR access, 64-bit ICR, self-IPI, #GP rules and state transitions', () => {
    expect(lapic.readMsr(0x802)).toBe(false); // not in x2APIC mode
    expect(lapic.writeMsr(0x1b, 0xfee00000 | 0x400, 0)).toBe(false); // EXTD without EN
    expect(lapic.writeMsr(0x1b, 0xfee00000 | 0xc00, 0)).toBe(true);
    expect(L(0x30)).toBe(0xffffffff); // MMIO off
    expect(lapic.readMsr(0x802) && lapic.msrLo).toBe(0);
    expect(lapic.readMsr(0x80d) && lapic.msrLo).toBe(1);
    expect(lapic.readMsr(0x80e)).toBe(false); // no DFR
    expect(lapic.writeMsr(0x80f, 0x1ff, 0)).toBe(true);
    expect(lapic.writeMsr(0x83f, 0x55, 0)).toBe(true);
    expect(intc.acknowledge()).toBe(0x55);
    expect(lapic.writeMsr(0x80b, 1, 0)).toBe(false);
    expect(lapic.writeMsr(0x80b, 0, 0)).toBe(true);
    expect(lapic.readMsr(0x80b)).toBe(false);
    expect(lapic.writeMsr(0x830, 0x66, 0)).toBe(true); // physical dest 0 in the high half
    expect(intc.acknowledge()).toBe(0x66);
    expect(lapic.writeMsr(0x830, 0x67, 5)).toBe(true); // nobody there
    expect(intc.hasInterrupt()).toBe(false);
    expect(lapic.writeMsr(0x1b, 0xfee00000 | 0x800, 0)).toBe(false); // x2APIC -> xAPIC
    expect(lapic.writeMsr(0x1b, 0xfee00000, 0)).toBe(true); // disable
    expect(lapic.writeMsr(0x1b, 0xfee00000 | 0xc00, 0)).toBe(false); // disabled -> x2APIC
    expect(lapic.writeMsr(0x1b, 0xfee00000 | 0x800, 0)).toBe(true);
    expect(L(0xf0)).toBe(0xff); // reset by the global disable
  });

  it('base relocation is reported', () => {
    let moved = -1;
    lapic.onBaseChange = (b) => { moved = b; };
    expect(lapic.writeMsr(0x1b, 0xfed00000 | 0x800, 0)).toBe(true);
    expect(moved).toBe(0xfed00000);
    expect(lapic.baseAddress).toBe(0xfed00000);
  });

  it('IOAPIC: ID, version, masked entries, edge delivery of ISA IRQ0 on pin 2', () => {
    enable();
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff); // 8259s masked, as Linux leaves them
    expect(ioRead(0x01)).toBe(0x00170020);
    ioWrite(0x00, 0x02000000);
    expect(ioRead(0x00)).toBe(0x02000000);
    expect(ioRead(0x14)).toBe(0x10000);
    isa.setIrq(0, true); isa.setIrq(0, false);
    expect(intc.hasInterrupt()).toBe(false);
    ioWrite(0x15, 0); ioWrite(0x14, 0x30); // pin 2 -> vector 0x30, dest 0
    isa.setIrq(0, true); isa.setIrq(0, false);
    expect(intc.acknowledge()).toBe(0x30);
    LW(0xb0, 0);
  });

  it('IOAPIC level-triggered: remote IRR, EOI broadcast re-delivers while asserted', () => {
    enable();
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff);
    ioWrite(0x10 + 2 * 10, 0x8000 | 0x2000 | 0x51); // pin 10 level, active low
    isa.setIrq(10, false); // asserted (active low)
    expect(ioRead(0x10 + 2 * 10) & 0x4000).toBe(0x4000);
    expect(intc.acknowledge()).toBe(0x51);
    expect(L(0x180 + 0x20) & (1 << 17)).toBe(1 << 17); // TMR
    LW(0xb0, 0); // EOI broadcast; line still asserted -> again
    expect(intc.acknowledge()).toBe(0x51);
    isa.setIrq(10, true); // deasserted
    LW(0xb0, 0);
    expect(ioRead(0x10 + 2 * 10) & 0x4000).toBe(0);
    expect(intc.hasInterrupt()).toBe(false);
    // masked while asserted, unmask delivers
    ioWrite(0x10 + 2 * 10, 0x10000 | 0x8000 | 0x2000 | 0x51);
    isa.setIrq(10, false);
    expect(intc.hasInterrupt()).toBe(false);
    ioWrite(0x10 + 2 * 10, 0x8000 | 0x2000 | 0x51);
    expect(intc.acknowledge()).toBe(0x51);
    // the EOI register at 0x40 also clears remote IRR
    mem.write32(IOAPIC_BASE + 0x40, 0x51);
    expect(L(0x200 + 0x20) & (1 << 17)).toBe(1 << 17); // re-sent (waits behind the in-service 0x51)
  });

  it('8259 interrupts pass through LINT0 ExtINT (virtual wire) and stop when LINT0 is masked', () => {
    io.write(0x20, 1, 0x11); io.write(0x21, 1, 0x08); io.write(0x21, 1, 0x04); io.write(0x21, 1, 0x01);
    io.write(0x21, 1, 0x00);
    isa.setIrq(4, true); isa.setIrq(4, false);
    expect(intc.hasInterrupt()).toBe(true);
    expect(intc.acknowledge()).toBe(0x0c);
    io.write(0x20, 1, 0x20);
    enable();
    LW(0x350, 0x10700);
    isa.setIrq(4, true); isa.setIrq(4, false);
    expect(intc.hasInterrupt()).toBe(false);
    // the IOAPIC can route a pin as ExtINT instead
    ioWrite(0x10 + 2 * 4, 0x700);
    isa.setIrq(4, true); isa.setIrq(4, false);
    expect(intc.hasInterrupt()).toBe(true);
    expect(intc.acknowledge()).toBe(0x0c);
    // with the APIC globally disabled the 8259 goes straight to the CPU
    io.write(0x20, 1, 0x20);
    lapic.writeMsr(0x1b, 0xfee00000, 0);
    isa.setIrq(3, true); isa.setIrq(3, false);
    expect(intc.acknowledge()).toBe(0x0b);
  });
});

describe('APIC bus with two CPUs', () => {
  it('delivers IPIs between APICs, runs INIT/SIPI and lowest-priority arbitration', () => {
    const clock = new TestClock();
    const abus = new ApicBus();
    const bsp = new LocalApic(0, clock, abus, true);
    const ap = new LocalApic(1, clock, abus, false);
    const started: number[] = [];
    ap.onStartup = (v) => started.push(v);
    bsp.mmioWrite(0xf0, 4, 0x1ff);
    ap.mmioWrite(0xf0, 4, 0x1ff);
    ap.mmioWrite(0x80, 4, 0x20);
    // fixed IPI to APIC ID 1
    bsp.mmioWrite(0x310, 4, 1 << 24);
    bsp.mmioWrite(0x300, 4, 0x4000 | 0x70);
    expect(ap.hasInterrupt()).toBe(true);
    expect(bsp.hasInterrupt()).toBe(false);
    expect(ap.acknowledge()).toBe(0x70);
    ap.mmioWrite(0xb0, 4, 0);
    // all-excluding-self INIT then SIPI, as an OS starts its APs
    bsp.mmioWrite(0x300, 4, 0xc4500);
    expect(ap.initPending).toBe(true);
    expect(bsp.initPending).toBe(false);
    expect(ap.mmioRead(0xf0, 4)).toBe(0xff); // INIT reset the AP's APIC
    expect(ap.mmioRead(0x20, 4)).toBe(1 << 24);
    bsp.mmioWrite(0x300, 4, 0xc4600 | 0x08);
    expect(started).toEqual([0x08]);
    // lowest priority to both (logical flat, both in the mask): the one with the lower TPR wins
    bsp.mmioWrite(0xd0, 4, 0x01000000);
    ap.mmioWrite(0xf0, 4, 0x1ff);
    ap.mmioWrite(0xd0, 4, 0x02000000);
    bsp.mmioWrite(0x80, 4, 0x40);
    bsp.mmioWrite(0x310, 4, 0x03000000);
    bsp.mmioWrite(0x300, 4, 0x4000 | 0x800 | 0x100 | 0x71);
    expect(ap.hasInterrupt()).toBe(true);
    expect(bsp.mmioRead(0x200 + 0x30, 4)).toBe(0);
    // a globally disabled APIC takes nothing
    ap.writeMsr(0x1b, 0xfee00000, 0);
    bsp.mmioWrite(0x300, 4, 0xc0000 | 0x72);
    expect(ap.hasInterrupt()).toBe(false);
  });
});

describe('MSI', () => {
  it('turns an MSI address/data pair into an APIC message', () => {
    const clock = new TestClock();
    const abus = new ApicBus();
    const lapic = new LocalApic(0, clock, abus, true);
    lapic.mmioWrite(0xf0, 4, 0x1ff);
    expect(abus.deliverMsi(0xfee00000, 0x4041)).toBe(true);
    expect(lapic.acknowledge()).toBe(0x41);
    expect(abus.deliverMsi(0xfee01000, 0x42)).toBe(false); // APIC ID 1 is absent
    expect(abus.deliverMsi(0xfec00000, 0x42)).toBe(false);
    expect(abus.deliverMsi(0xfee00000, 0x400)).toBe(true); // NMI
    expect(lapic.takeNmi()).toBe(true);
  });
});

describe('CPU MSR hooks', () => {
  it('adapts readMsr/writeMsr to the CPU hook shape and faults through the callback', () => {
    const lapic = new LocalApic(0, new TestClock(), new ApicBus(), true);
    const faults: number[] = [];
    const hooks = lapic.msrHooks(() => { faults.push(1); throw new Error('#GP'); });
    expect(hooks.readMsr(0x10)).toBeNull();
    expect(hooks.writeMsr(0x10, 0, 0)).toBe(false);
    expect(hooks.readMsr(0x1b)).toEqual([0xfee00900, 0]);
    expect(() => hooks.readMsr(0x802)).toThrow('#GP'); // not in x2APIC mode
    expect(hooks.writeMsr(0x1b, 0xfee00c00, 0)).toBe(true);
    expect(hooks.readMsr(0x803)).toEqual([0x50014, 0]);
    expect(() => hooks.writeMsr(0x1b, 0xfee00800, 0)).toThrow('#GP');
    expect(faults.length).toBe(2);
    const quiet = lapic.msrHooks();
    expect(quiet.writeMsr(0x1b, 0xfee00800, 0)).toBe(false);
  });
});
