import { describe, it, expect } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { createPcPlatform } from '../../src/devices/pc.js';
import { TestClock, TestControl } from './helpers.js';

function makePc() {
  const io = new IoBus();
  const mem = new PhysMem(16 << 20);
  const clock = new TestClock();
  const control = new TestControl();
  const out: number[] = [];
  const pc = createPcPlatform({ io, mem, clock, control, ramBytes: 16 << 20, serialOut: (b) => out.push(b), rtcStartMs: Date.UTC(2025, 0, 1) });
  return { io, mem, clock, control, out, pc };
}

describe('createPcPlatform', () => {
  it('wires the legacy ports: serial, debug exit, fw_cfg, CMOS, PCI, i8042', () => {
    const { io, control, out, pc } = makePc();
    for (const c of 'ok') io.write(0x3f8, 1, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('ok');
    io.write(0x510, 2, 0);
    expect(io.read(0x511, 4)).toBe(0x554d4551);
    io.write(0x70, 1, 0x09);
    expect(io.read(0x71, 1)).toBe(0x25);
    io.write(0xcf8, 4, 0x80000800);
    expect(io.read(0xcfc, 4)).toBe(0x70008086);
    io.write(0x64, 1, 0xaa);
    expect(io.read(0x60, 1)).toBe(0x55);
    expect(pc.a20.enabled).toBe(true);
    io.write(0xf4, 1, 3);
    expect(control.exits).toEqual([3]);
    io.write(0x64, 1, 0xfe);
    expect(control.resets.length).toBe(1);
  });

  it('8259 + PIT: the legacy timer reaches the CPU through the LINT0 virtual wire', () => {
    const { io, clock, pc } = makePc();
    io.write(0x20, 1, 0x11); io.write(0x21, 1, 0x20); io.write(0x21, 1, 0x04); io.write(0x21, 1, 0x01);
    io.write(0xa0, 1, 0x11); io.write(0xa1, 1, 0x28); io.write(0xa1, 1, 0x02); io.write(0xa1, 1, 0x01);
    io.write(0x21, 1, 0xfe); io.write(0xa1, 1, 0xff);
    io.write(0x43, 1, 0x34); io.write(0x40, 1, 0x9c); io.write(0x40, 1, 0x2e); // 100 Hz
    clock.advance(10_100_000);
    expect(pc.intc.hasInterrupt()).toBe(true);
    expect(pc.intc.acknowledge()).toBe(0x20);
    io.write(0x20, 1, 0x20);
    expect(pc.intc.hasInterrupt()).toBe(false);
  });

  it('Linux check_timer: PIT IRQ0 arrives on IOAPIC pin 2 with the 8259 masked; LAPIC timer works', () => {
    const { io, mem, clock, pc } = makePc();
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff);
    mem.write32(0xfee000f0, 0x1ff);
    mem.write32(0xfee00350, 0x10700); // LINT0 masked
    mem.write32(0xfec00000, 0x14); mem.write32(0xfec00010, 0x30); // pin 2 -> vector 0x30
    io.write(0x43, 1, 0x34); io.write(0x40, 1, 0x9c); io.write(0x40, 1, 0x2e);
    let ticks = 0;
    for (let i = 0; i < 5; i++) {
      clock.advance(10_100_000);
      if (pc.intc.hasInterrupt()) { expect(pc.intc.acknowledge()).toBe(0x30); mem.write32(0xfee000b0, 0); ticks++; }
    }
    expect(ticks).toBe(5);
    mem.write32(0xfee003e0, 0x0b);
    mem.write32(0xfee00320, 0xec);
    mem.write32(0xfee00380, 1000);
    clock.advance(1000);
    expect(pc.intc.acknowledge()).toBe(0xec);
  });

  it('RTC periodic interrupt through IOAPIC pin 8 and UART RX interrupt on pin 4', () => {
    const { io, mem, clock, pc } = makePc();
    io.write(0x21, 1, 0xff); io.write(0xa1, 1, 0xff);
    mem.write32(0xfee000f0, 0x1ff);
    mem.write32(0xfec00000, 0x10 + 16); mem.write32(0xfec00010, 0x38);
    mem.write32(0xfec00000, 0x10 + 8); mem.write32(0xfec00010, 0x34);
    io.write(0x70, 1, 0x0b); io.write(0x71, 1, 0x42);
    clock.advance(1_000_000);
    expect(pc.intc.acknowledge()).toBe(0x38);
    mem.write32(0xfee000b0, 0);
    io.write(0x3f9, 1, 0x01);
    pc.uart.pushInput([0x41]);
    expect(pc.intc.acknowledge()).toBe(0x34);
    expect(io.read(0x3f8, 1)).toBe(0x41);
  });
});
