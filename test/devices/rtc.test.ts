import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { Rtc } from '../../src/devices/rtc.js';
import { TestClock, IrqRecorder } from './helpers.js';

// 2024-02-29 23:59:58 UTC, a Thursday
const START = Date.UTC(2024, 1, 29, 23, 59, 58);

describe('MC146818 RTC / CMOS', () => {
  let bus: IoBus;
  let clock: TestClock;
  let irq: IrqRecorder;
  let rtc: Rtc;
  const rd = (i: number): number => { bus.write(0x70, 1, i); return bus.read(0x71, 1); };
  const wr = (i: number, v: number): void => { bus.write(0x70, 1, i); bus.write(0x71, 1, v); };

  beforeEach(() => {
    bus = new IoBus();
    clock = new TestClock();
    irq = new IrqRecorder();
    rtc = new Rtc(clock, irq, 8, { ramBytes: 512 * 2 ** 20, cpuCount: 2, startTimeMs: START });
    bus.register(0x70, 2, rtc);
  });

  it('reads the start time in BCD 24h and advances with virtual time', () => {
    expect([rd(9), rd(8), rd(7), rd(6), rd(4), rd(2), rd(0), rd(0x32)]).toEqual([0x24, 0x02, 0x29, 0x05, 0x23, 0x59, 0x58, 0x20]);
    clock.advance(2e9);
    expect([rd(9), rd(8), rd(7), rd(6), rd(4), rd(2), rd(0)]).toEqual([0x24, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00]);
  });

  it('binary and 12-hour modes', () => {
    wr(0x0b, 0x04); // binary, 12h
    expect(rd(4)).toBe(0x80 | 11);
    expect(rd(2)).toBe(59);
    wr(0x0b, 0x06);
    expect(rd(4)).toBe(23);
    clock.advance(2e9);
    wr(0x0b, 0x00); // BCD 12h: midnight is 12 AM
    expect(rd(4)).toBe(0x12);
  });

  it('SET freezes time; written fields take effect when it clears', () => {
    wr(0x0b, 0x82);
    wr(9, 0x99); wr(8, 0x12); wr(7, 0x31); wr(4, 0x10); wr(2, 0x20); wr(0, 0x30); wr(0x32, 0x19);
    clock.advance(5e9);
    expect(rd(0)).toBe(0x30);
    wr(0x0b, 0x02);
    clock.advance(1e9);
    expect([rd(0x32), rd(9), rd(8), rd(7), rd(4), rd(2), rd(0)]).toEqual([0x19, 0x99, 0x12, 0x31, 0x10, 0x20, 0x31]);
    expect(rd(6)).toBe(0x06); // 1999-12-31 was a Friday
  });

  it('UIP is set just before the second rolls over', () => {
    clock.advanceTo(0.5e9);
    expect(rd(0x0a) & 0x80).toBe(0);
    clock.advanceTo(1e9 - 100_000);
    expect(rd(0x0a) & 0x80).toBe(0x80);
    expect(rd(0x0a) & 0x7f).toBe(0x26);
    clock.advanceTo(1e9 + 3_000_000);
    expect(rd(0x0a) & 0x80).toBe(0);
  });

  it('periodic interrupt at 1024 Hz on IRQ8, acknowledged by reading C', () => {
    wr(0x0b, 0x42);
    clock.advanceTo(1_000_000);
    expect(irq.count(8)).toBe(1);
    expect(rd(0x0c) & 0xc0).toBe(0xc0);
    expect(irq.level(8)).toBe(false);
    clock.advanceTo(10_000_000);
    expect(irq.count(8)).toBe(2); // not re-raised until C is read
    rd(0x0c);
    clock.advance(976_563);
    expect(irq.count(8)).toBe(3);
  });

  it('update-ended and alarm interrupts', () => {
    wr(0x01, 0x00); wr(0x03, 0x00); wr(0x05, 0x00); // alarm 00:00:00
    wr(0x0b, 0x32); // AIE | UIE
    clock.advanceTo(1e9);
    expect(irq.count(8)).toBe(1);
    expect(rd(0x0c) & 0xb0).toBe(0x90);
    clock.advanceTo(2e9);
    expect(rd(0x0c) & 0xb0).toBe(0xb0); // midnight: alarm too
  });

  it('polled flags without interrupt enables', () => {
    rd(0x0c);
    clock.advance(1.5e9);
    expect(rd(0x0c) & 0x50).toBe(0x50);
    expect(irq.count(8)).toBe(0);
  });

  it('NMI mask bit and CMOS RAM with memory sizes', () => {
    bus.write(0x70, 1, 0x80 | 0x15);
    expect(rtc.nmiMasked).toBe(true);
    expect(bus.read(0x71, 1)).toBe(0x80);
    expect(rd(0x16)).toBe(0x02);
    expect(rd(0x17) | (rd(0x18) << 8)).toBe(0xffff);
    expect(rd(0x30) | (rd(0x31) << 8)).toBe(0xffff);
    expect(rd(0x34) | (rd(0x35) << 8)).toBe((512 - 16) * 16);
    expect(rd(0x5b) | rd(0x5c) | rd(0x5d)).toBe(0);
    expect(rd(0x5f)).toBe(1);
    expect(rd(0x0d)).toBe(0x80);
    wr(0x40, 0xab);
    expect(rd(0x40)).toBe(0xab);
    expect(rtc.nmiMasked).toBe(false);
  });
});
