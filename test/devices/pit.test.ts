import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { Pit, PIT_HZ } from '../../src/devices/pit.js';
import { TestClock, IrqRecorder } from './helpers.js';

const tickNs = (t: number): number => Math.ceil((t * 1e9) / PIT_HZ);

describe('8254 PIT', () => {
  let bus: IoBus;
  let clock: TestClock;
  let irq: IrqRecorder;
  let pit: Pit;
  beforeEach(() => {
    bus = new IoBus();
    clock = new TestClock();
    irq = new IrqRecorder();
    pit = new Pit(clock, irq);
    bus.register(0x40, 4, pit);
    bus.register(0x61, 1, pit);
  });

  const readWord = (port: number): number => bus.read(port, 1) | (bus.read(port, 1) << 8);

  it('mode 2 on channel 0 raises IRQ0 every N ticks', () => {
    bus.write(0x43, 1, 0x34); // ch0, lobyte/hibyte, mode 2, binary
    bus.write(0x40, 1, 1193 & 0xff); bus.write(0x40, 1, 1193 >> 8); // ~1 kHz
    clock.advance(tickNs(1193) - 1);
    expect(irq.count(0)).toBe(0);
    clock.advance(1);
    expect(irq.count(0)).toBe(1);
    clock.advanceTo(tickNs(1193 * 100));
    expect(irq.count(0)).toBe(100);
    expect(irq.level(0)).toBe(false); // pulses
  });

  it('mode 3 square wave also ticks once per period; reading the count decreases by two', () => {
    bus.write(0x43, 1, 0x36);
    bus.write(0x40, 1, 0x00); bus.write(0x40, 1, 0x00); // 65536
    clock.advanceTo(tickNs(65536 * 3));
    expect(irq.count(0)).toBe(3);
    clock.advance(tickNs(100));
    bus.write(0x43, 1, 0x00); // latch ch0
    const c1 = readWord(0x40);
    clock.advance(tickNs(10));
    bus.write(0x43, 1, 0x00);
    const c2 = readWord(0x40);
    expect(c1 - c2).toBe(20);
  });

  it('mode 0 fires once and the counter keeps wrapping', () => {
    bus.write(0x43, 1, 0x30);
    bus.write(0x40, 1, 100); bus.write(0x40, 1, 0);
    clock.advanceTo(tickNs(100000));
    expect(irq.count(0)).toBe(1);
    // reprogramming re-arms
    bus.write(0x40, 1, 10); bus.write(0x40, 1, 0);
    clock.advance(tickNs(11));
    expect(irq.count(0)).toBe(2);
  });

  it('lobyte-only and hibyte-only access, BCD counting', () => {
    bus.write(0x43, 1, 0x50); // ch1, lobyte only, mode 0
    bus.write(0x41, 1, 0x80);
    expect(bus.read(0x41, 1)).toBe(0x80);
    clock.advance(tickNs(0x10));
    expect(bus.read(0x41, 1)).toBe(0x70);
    bus.write(0x43, 1, 0x61); // ch1, hibyte only, mode 0, BCD
    bus.write(0x41, 1, 0x12); // 1200 BCD
    clock.advance(tickNs(1));
    bus.write(0x43, 1, 0x40);
    expect(bus.read(0x41, 1)).toBe(0x11); // 1199 -> MSB 0x11
  });

  it('latched count survives further counting until read', () => {
    bus.write(0x43, 1, 0xb0); // ch2 mode 0
    bus.write(0x61, 1, 0x01);
    bus.write(0x42, 1, 0xff); bus.write(0x42, 1, 0xff);
    clock.advance(tickNs(0x100));
    bus.write(0x43, 1, 0x80);
    clock.advance(tickNs(0x1000));
    expect(readWord(0x42)).toBe(0xffff - 0x100);
    expect(readWord(0x42)).toBe(0xffff - 0x1100);
  });

  it('read-back returns status then count', () => {
    bus.write(0x43, 1, 0x34);
    bus.write(0x40, 1, 0x10); bus.write(0x40, 1, 0x00);
    bus.write(0x43, 1, 0xc2); // read-back count+status ch0
    expect(bus.read(0x40, 1)).toBe(0x80 | 0x30 | 0x04); // OUT high, lobyte/hibyte, mode 2
    expect(readWord(0x40)).toBe(0x10);
    bus.write(0x43, 1, 0x34);
    bus.write(0x43, 1, 0xe2); // status only
    expect(bus.read(0x40, 1) & 0x40).toBe(0x40); // null count after a fresh control word
  });

  it('channel 2 gate and OUT through port 0x61 as Linux calibrates the TSC', () => {
    // Linux: gate high, speaker off, ch2 mode 0 with a 50 ms count, spin until OUT2 (bit 5) rises.
    bus.write(0x61, 1, (bus.read(0x61, 1) & ~0x02) | 0x01);
    bus.write(0x43, 1, 0xb0);
    const latch = Math.floor(PIT_HZ / 20);
    bus.write(0x42, 1, latch & 0xff); bus.write(0x42, 1, latch >> 8);
    expect(bus.read(0x61, 1) & 0x20).toBe(0);
    clock.advance(tickNs(latch) - 1000);
    expect(bus.read(0x61, 1) & 0x20).toBe(0);
    clock.advance(2000);
    expect(bus.read(0x61, 1) & 0x20).toBe(0x20);
    expect(irq.count(0)).toBe(0);
  });

  it('gate low pauses mode 0 counting on channel 2', () => {
    bus.write(0x61, 1, 0x00);
    bus.write(0x43, 1, 0xb0);
    bus.write(0x42, 1, 0x00); bus.write(0x42, 1, 0x10);
    clock.advance(tickNs(100));
    bus.write(0x43, 1, 0x80);
    expect(readWord(0x42)).toBe(0x1000);
    bus.write(0x61, 1, 0x01);
    clock.advance(tickNs(0x100));
    bus.write(0x61, 1, 0x00);
    clock.advance(tickNs(0x100));
    bus.write(0x43, 1, 0x80);
    expect(readWord(0x42)).toBe(0x0f00);
  });

  it('mode 1 is triggered by the gate rising edge', () => {
    bus.write(0x43, 1, 0xb2); // ch2 mode 1
    bus.write(0x42, 1, 0x10); bus.write(0x42, 1, 0);
    expect(bus.read(0x61, 1) & 0x20).toBe(0x20);
    bus.write(0x61, 1, 0x01);
    expect(bus.read(0x61, 1) & 0x20).toBe(0);
    clock.advance(tickNs(0x10));
    expect(bus.read(0x61, 1) & 0x20).toBe(0x20);
  });

  it('powers up with channel 0 ticking at ~18.2 Hz and channel 2 waiting for its gate', () => {
    clock.advanceTo(1e9);
    expect(irq.count(0)).toBe(18);
    bus.write(0x43, 1, 0xe8); // read-back status of channel 2
    expect(bus.read(0x42, 1)).toBe(0x80 | 0x30 | 0x06);
  });

  it('the refresh bit toggles with time', () => {
    const a = bus.read(0x61, 1) & 0x10;
    clock.advance(15100);
    expect(bus.read(0x61, 1) & 0x10).not.toBe(a);
  });
});
