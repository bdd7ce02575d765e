import { describe, it, expect } from 'vitest';
import { Hpet, HPET_CAP_LOW, HPET_PERIOD_FS, HPET_ROUTE_CAP } from '../../src/devices/hpet.js';
import { IoBus } from '../../src/devices/iobus.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { createPcPlatform } from '../../src/devices/pc.js';
import { IrqRecorder, TestClock, TestControl } from './helpers.js';

const GCAP = 0x000, GCFG = 0x010, GISR = 0x020, CNT = 0x0f0;
const tcfg = (n: number) => 0x100 + 0x20 * n;
const tcmp = (n: number) => 0x108 + 0x20 * n;
const ENABLE = 1, LEGACY = 2;
const LEVEL = 1 << 1, INT_ENB = 1 << 2, PERIODIC = 1 << 3, VAL_SET = 1 << 6, MODE32 = 1 << 8;
const route = (gsi: number) => gsi << 9;

function make() {
  const clock = new TestClock();
  const isa = new IrqRecorder();
  const gsi = new IrqRecorder();
  const legacy: boolean[] = [];
  const hpet = new Hpet(clock, isa, gsi, { onLegacyChange: (l) => legacy.push(l) });
  const rd = (o: number) => hpet.mmioRead(o, 4);
  const wr = (o: number, v: number) => hpet.mmioWrite(o, 4, v);
  return { clock, isa, gsi, hpet, rd, wr, legacy };
}

describe('HPET registers', () => {
  it('reports 3 timers, a 64-bit counter, legacy routing, vendor 8086 and a 10 ns period', () => {
    const { rd } = make();
    const cap = rd(GCAP);
    expect(cap).toBe(HPET_CAP_LOW);
    expect(cap & 0xff).toBe(1); // revision
    expect((cap >> 8) & 0x1f).toBe(2); // timers - 1
    expect((cap >> 13) & 1).toBe(1); // 64-bit counter
    expect((cap >> 15) & 1).toBe(1); // legacy replacement capable
    expect(cap >>> 16).toBe(0x8086);
    expect(rd(GCAP + 4)).toBe(HPET_PERIOD_FS);
    expect(HPET_PERIOD_FS).toBe(10_000_000);
    for (let n = 0; n < 3; n++) {
      expect(rd(tcfg(n)) & 0x30).toBe(0x30); // periodic-capable, 64-bit
      expect(rd(tcfg(n) + 4)).toBe(HPET_ROUTE_CAP);
      expect(rd(tcfg(n)) & (1 << 15)).toBe(0); // no FSB delivery
    }
  });

  it('read-only and reserved bits stay put; FSB enable cannot be set', () => {
    const { rd, wr } = make();
    wr(GCAP, 0); wr(GCAP + 4, 0);
    expect(rd(GCAP)).toBe(HPET_CAP_LOW);
    wr(tcfg(0), 0xffffffff);
    expect(rd(tcfg(0)) & (1 << 14)).toBe(0);
    wr(GCFG, 0xfffffffc);
    expect(rd(GCFG)).toBe(0);
  });

  it('byte and word accesses reach the dword registers', () => {
    const { hpet, rd } = make();
    expect(hpet.mmioRead(GCAP + 2, 2)).toBe(0x8086);
    expect(hpet.mmioRead(GCAP + 1, 1)).toBe((HPET_CAP_LOW >> 8) & 0xff);
    hpet.mmioWrite(tcfg(1) + 1, 1, 0x01); // 32MODE is bit 8
    expect(rd(tcfg(1)) & MODE32).toBe(MODE32);
  });
});

describe('HPET main counter', () => {
  it('counts at 100 MHz only while enabled and freezes when halted', () => {
    const { clock, rd, wr } = make();
    clock.advance(5000);
    expect(rd(CNT)).toBe(0);
    wr(GCFG, ENABLE);
    clock.advance(1000);
    expect(rd(CNT)).toBe(100);
    wr(GCFG, 0);
    clock.advance(1000);
    expect(rd(CNT)).toBe(100);
    wr(GCFG, ENABLE);
    clock.advance(55);
    expect(rd(CNT)).toBe(105);
  });

  it('carries from the low half into the high half, and wraps at 2^64', () => {
    const { clock, rd, wr } = make();
    wr(CNT, 0xfffffff0); wr(CNT + 4, 0);
    wr(GCFG, ENABLE);
    clock.advance(200); // 20 ticks
    expect(rd(CNT)).toBe(4);
    expect(rd(CNT + 4)).toBe(1);
    wr(GCFG, 0);
    wr(CNT, 0xfffffff0); wr(CNT + 4, 0xffffffff);
    wr(GCFG, ENABLE);
    clock.advance(200);
    expect(rd(CNT)).toBe(4);
    expect(rd(CNT + 4)).toBe(0);
  });

  it('64-bit reads through PhysMem arrive as two dword reads at 0xFED000F0', () => {
    const io = new IoBus();
    const mem = new PhysMem(16 << 20);
    const clock = new TestClock();
    const pc = createPcPlatform({ io, mem, clock, control: new TestControl(), ramBytes: 16 << 20, serialOut: () => {}, rtcStartMs: 0 });
    mem.write32(0xfed000f4, 7);
    mem.write32(0xfed00010, ENABLE);
    clock.advance(10_000);
    expect(mem.read64(0xfed000f0)).toBe(7 * 2 ** 32 + 1000);
    expect(pc.hpet.counterValue()).toBe(7 * 2 ** 32 + 1000);
  });
});

describe('HPET comparators', () => {
  it('one-shot edge interrupt on the routed GSI at the comparator match', () => {
    const { clock, gsi, wr, rd, hpet } = make();
    wr(tcfg(2), INT_ENB | route(20));
    wr(tcmp(2), 1000); wr(tcmp(2) + 4, 0);
    wr(GCFG, ENABLE);
    clock.advanceTo(9_999);
    expect(gsi.count(20)).toBe(0);
    clock.advanceTo(10_000);
    expect(gsi.count(20)).toBe(1);
    expect(gsi.level(20)).toBe(false); // a pulse
    expect(rd(GISR)).toBe(0); // edge mode leaves the status alone
    clock.advance(1_000_000_000);
    expect(gsi.count(20)).toBe(1);
    expect(hpet.fired[2]).toBe(1);
  });

  it('a 32-bit one-shot comparator matches again after the counter wraps (2^32 ticks)', () => {
    const { clock, gsi, wr } = make();
    wr(tcfg(0), INT_ENB | MODE32 | route(21));
    wr(tcmp(0), 100);
    wr(GCFG, ENABLE);
    clock.advanceTo(1000);
    expect(gsi.count(21)).toBe(1);
    clock.advanceTo(1000 + 2 ** 32 * 10 - 10);
    expect(gsi.count(21)).toBe(1);
    clock.advanceTo(1000 + 2 ** 32 * 10);
    expect(gsi.count(21)).toBe(2);
  });

  it('a comparator below the 32-bit counter fires only after the wrap; the upper half reads 0 in 32-bit mode', () => {
    const { clock, gsi, wr, rd } = make();
    wr(tcfg(1), INT_ENB | route(22));
    wr(tcmp(1) + 4, 5);
    expect(rd(tcmp(1) + 4)).toBe(5);
    wr(tcfg(1), INT_ENB | MODE32 | route(22));
    expect(rd(tcmp(1) + 4)).toBe(0);
    wr(CNT, 500);
    wr(tcmp(1), 400);
    wr(GCFG, ENABLE);
    clock.advance(1_000_000);
    expect(gsi.count(22)).toBe(0);
  });

  it('periodic mode as Linux programs it: VAL_SET write of the first deadline, then the period', () => {
    const { clock, gsi, wr, rd } = make();
    wr(GCFG, ENABLE);
    clock.advance(12_340);
    const now = rd(CNT);
    const delta = 100_000; // 1 ms
    wr(tcfg(0), INT_ENB | PERIODIC | VAL_SET | MODE32 | route(23));
    wr(tcmp(0), now + delta);
    wr(tcmp(0), delta);
    expect(rd(tcfg(0)) & VAL_SET).toBe(0);
    expect(rd(tcmp(0))).toBe(now + delta);
    clock.advance(delta * 10 - 10);
    expect(gsi.count(23)).toBe(0);
    clock.advance(10);
    expect(gsi.count(23)).toBe(1);
    expect(rd(tcmp(0))).toBe(now + 2 * delta);
    clock.advance(delta * 10 * 9);
    expect(gsi.count(23)).toBe(10);
  });

  it('64-bit periodic: VAL_SET covers both halves; late ticks coalesce without drifting', () => {
    const { clock, gsi, wr, rd } = make();
    wr(tcfg(2), INT_ENB | PERIODIC | VAL_SET | route(16));
    wr(tcmp(2), 1000); wr(tcmp(2) + 4, 0);
    wr(tcmp(2), 1000); wr(tcmp(2) + 4, 0);
    wr(GCFG, ENABLE);
    clock.advance(10_000 * 3);
    expect(gsi.count(16)).toBe(3);
    expect(rd(tcmp(2))).toBe(4000);
    // The loop runs late: jump 5.5 periods at once without stepping the timers individually.
    clock.instrs += 55_000;
    clock.runDue();
    expect(gsi.count(16)).toBe(4);
    expect(rd(tcmp(2))).toBe(9000); // the next period boundary after the counter (8500)
    clock.advanceTo(90_000);
    expect(gsi.count(16)).toBe(5);
  });

  it('level-triggered: status bit set and the line held until software clears it', () => {
    const { clock, gsi, wr, rd } = make();
    wr(tcfg(1), LEVEL | INT_ENB | route(17));
    wr(tcmp(1), 50); wr(tcmp(1) + 4, 0);
    wr(GCFG, ENABLE);
    clock.advance(500);
    expect(rd(GISR)).toBe(2);
    expect(gsi.level(17)).toBe(true);
    wr(GISR, 1); // other bits: no effect
    expect(gsi.level(17)).toBe(true);
    wr(GISR, 2);
    expect(rd(GISR)).toBe(0);
    expect(gsi.level(17)).toBe(false);
  });

  it('level-triggered with INT_ENB clear sets the status without an interrupt; enabling raises the line', () => {
    const { clock, gsi, wr, rd } = make();
    wr(tcfg(0), LEVEL | MODE32 | route(18));
    wr(tcmp(0), 10);
    wr(GCFG, ENABLE);
    clock.advance(1000);
    expect(rd(GISR)).toBe(1);
    expect(gsi.count(18)).toBe(0);
    wr(tcfg(0), LEVEL | MODE32 | INT_ENB | route(18));
    expect(gsi.level(18)).toBe(true);
    wr(tcfg(0), LEVEL | MODE32 | INT_ENB | route(19)); // re-routing moves the asserted line
    expect(gsi.level(18)).toBe(false);
    expect(gsi.level(19)).toBe(true);
  });

  it('comparators reset to all ones (64-bit), so writing only the low half arms nothing soon', () => {
    const { clock, gsi, wr, rd } = make();
    expect(rd(tcmp(0))).toBe(0xffffffff);
    expect(rd(tcmp(0) + 4)).toBe(0xffffffff);
    wr(tcfg(0), INT_ENB | route(20));
    wr(tcmp(0), 10);
    wr(GCFG, ENABLE);
    clock.advance(1_000_000);
    expect(gsi.count(20)).toBe(0);
  });

  it('a halted counter raises nothing', () => {
    const { clock, gsi, wr } = make();
    wr(tcfg(0), INT_ENB | MODE32 | route(20));
    wr(tcmp(0), 10);
    clock.advance(1_000_000);
    expect(gsi.count(20)).toBe(0);
  });
});

describe('HPET legacy replacement', () => {
  it('routes timer 0 to IRQ0 and timer 1 to IRQ8 regardless of INT_ROUTE, and tells the hooks', () => {
    const { clock, isa, gsi, wr, legacy } = make();
    wr(tcfg(0), INT_ENB | PERIODIC | VAL_SET | MODE32 | route(20));
    wr(tcmp(0), 1000);
    wr(tcfg(1), INT_ENB | MODE32 | route(21));
    wr(tcmp(1), 500);
    wr(GCFG, ENABLE | LEGACY);
    expect(legacy).toEqual([true]);
    clock.advance(10_000);
    expect(isa.count(8)).toBe(1);
    expect(isa.count(0)).toBe(1);
    expect(gsi.count(20) + gsi.count(21)).toBe(0);
    wr(GCFG, ENABLE);
    expect(legacy).toEqual([true, false]);
    clock.advance(10_000);
    expect(gsi.count(20)).toBe(1);
  });

  it('in the PC: the PIT stops raising IRQ0 and the RTC IRQ8 while the HPET owns them', () => {
    const io = new IoBus();
    const mem = new PhysMem(16 << 20);
    const clock = new TestClock();
    const pc = createPcPlatform({ io, mem, clock, control: new TestControl(), ramBytes: 16 << 20, serialOut: () => {}, rtcStartMs: 0 });
    // IOAPIC pin 2 -> vector 0x30, pin 8 -> vector 0x38; 8259 masked.
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff);
    mem.write32(0xfee000f0, 0x1ff);
    mem.write32(0xfee00350, 0x10700);
    mem.write32(0xfec00000, 0x14); mem.write32(0xfec00010, 0x30);
    mem.write32(0xfec00000, 0x20); mem.write32(0xfec00010, 0x38);
    io.write(0x43, 1, 0x34); io.write(0x40, 1, 0x9c); io.write(0x40, 1, 0x2e); // PIT 100 Hz
    io.write(0x70, 1, 0x0b); io.write(0x71, 1, 0x42); // RTC periodic interrupt enabled (1024 Hz)
    clock.advance(20_000_000);
    const pitBefore = pc.pit.irqCount;
    expect(pitBefore).toBeGreaterThan(0);
    // HPET timer 0 periodic 1 ms in legacy mode.
    mem.write32(0xfed00100, INT_ENB | PERIODIC | VAL_SET);
    mem.write32(0xfed00108, 100_000); mem.write32(0xfed0010c, 0);
    mem.write32(0xfed00108, 100_000); mem.write32(0xfed0010c, 0);
    mem.write32(0xfed00010, ENABLE | LEGACY);
    // Drain whatever was pending before the switch.
    for (let i = 0; i < 4 && pc.intc.hasInterrupt(); i++) { pc.intc.acknowledge(); mem.write32(0xfee000b0, 0); }
    io.write(0x70, 1, 0x0c); io.read(0x71, 1);
    const vectors: number[] = [];
    for (let i = 0; i < 30; i++) {
      clock.advance(1_000_000);
      while (pc.intc.hasInterrupt()) { vectors.push(pc.intc.acknowledge()); mem.write32(0xfee000b0, 0); }
      io.write(0x70, 1, 0x0c); io.read(0x71, 1);
    }
    expect(pc.pit.irqCount).toBe(pitBefore);
    expect(vectors.filter((v) => v === 0x30).length).toBe(30);
    expect(vectors.filter((v) => v === 0x38).length).toBe(0);
    // Leaving legacy mode gives IRQ0 back to the PIT.
    mem.write32(0xfed00010, ENABLE);
    clock.advance(30_000_000);
    expect(pc.pit.irqCount).toBeGreaterThan(pitBefore);
  });
});
