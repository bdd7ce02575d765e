import { describe, it, expect } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { VirtualClock } from '../../src/devices/clock.js';

describe('IoBus', () => {
  it('dispatches to the owner and floats unclaimed ports high', () => {
    const bus = new IoBus();
    const log: string[] = [];
    bus.register(0x80, 1, { ioRead: () => 0x12, ioWrite: (p, s, v) => { log.push(`${p}:${s}:${v}`); } });
    expect(bus.read(0x80, 1)).toBe(0x12);
    bus.write(0x80, 1, 7);
    expect(log).toEqual(['128:1:7']);
    expect(bus.read(0x81, 1)).toBe(0xff);
    expect(bus.read(0x81, 2)).toBe(0xffff);
    expect(bus.read(0x81, 4)).toBe(0xffffffff);
    expect(bus.unclaimedAccesses).toBe(3);
    expect(() => bus.register(0x80, 1, { ioRead: () => 0, ioWrite: () => {} })).toThrow(/already claimed/);
  });
});

describe('VirtualClock', () => {
  it('fires timers in deadline order as instructions retire', () => {
    let icount = 0;
    const c = new VirtualClock();
    c.setInstructionSource(() => icount);
    const fired: number[] = [];
    c.addTimer(200, () => fired.push(200));
    const t = c.addTimer(50, () => fired.push(50));
    c.addTimer(100, () => fired.push(100));
    c.cancel(t);
    icount = 150;
    c.runDue();
    expect(fired).toEqual([100]);
    expect(c.nextDeadline()).toBe(200);
    c.skipTo(c.nextDeadline());
    expect(c.nowNs()).toBe(200);
    c.runDue();
    expect(fired).toEqual([100, 200]);
  });
});
