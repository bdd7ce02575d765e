import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { I8042 } from '../../src/devices/i8042.js';
import { A20Gate } from '../../src/devices/a20.js';
import { SystemControlPortA } from '../../src/devices/port92.js';
import { IrqRecorder, TestControl } from './helpers.js';

describe('i8042 and port 0x92', () => {
  let bus: IoBus;
  let irq: IrqRecorder;
  let ctl: TestControl;
  let a20: A20Gate;
  let kbc: I8042;
  beforeEach(() => {
    bus = new IoBus();
    irq = new IrqRecorder();
    ctl = new TestControl();
    a20 = new A20Gate();
    kbc = new I8042(irq, ctl, a20);
    bus.register(0x60, 1, kbc);
    bus.register(0x64, 1, kbc);
    bus.register(0x92, 1, new SystemControlPortA(a20, ctl));
  });

  const cmd = (c: number): void => bus.write(0x64, 1, c);
  const data = (): number => {
    expect(bus.read(0x64, 1) & 1).toBe(1);
    return bus.read(0x60, 1);
  };
  const drain = (): number[] => {
    const out: number[] = [];
    while (bus.read(0x64, 1) & 1) out.push(bus.read(0x60, 1));
    return out;
  };

  it('self-test, interface tests and command byte round trip', () => {
    expect(bus.read(0x64, 1) & 1).toBe(0);
    cmd(0xaa); expect(data()).toBe(0x55);
    expect(bus.read(0x64, 1) & 0x04).toBe(0x04);
    cmd(0xab); expect(data()).toBe(0x00);
    cmd(0xa9); expect(data()).toBe(0x00);
    cmd(0x20); const ctr = data();
    cmd(0x60); bus.write(0x60, 1, ctr & ~0x03);
    cmd(0x20); expect(data()).toBe(ctr & ~0x03);
  });

  it('Linux aux probing: loopback, toggling aux via A7/A8, and IRQ12', () => {
    cmd(0x60); bus.write(0x60, 1, 0x47); // both ints on, translation
    cmd(0xd3); bus.write(0x60, 1, 0x5a);
    expect(bus.read(0x64, 1) & 0x21).toBe(0x21);
    expect(irq.level(12)).toBe(true);
    expect(bus.read(0x60, 1)).toBe(0x5a);
    expect(irq.level(12)).toBe(false);
    cmd(0xa7); cmd(0x20); expect(data() & 0x20).toBe(0x20);
    cmd(0xa8); cmd(0x20); expect(data() & 0x20).toBe(0);
  });

  it('keyboard answers reset, identify, LEDs and echo', () => {
    bus.write(0x60, 1, 0xff); expect(drain()).toEqual([0xfa, 0xaa]);
    bus.write(0x60, 1, 0xf2); expect(drain()).toEqual([0xfa, 0xab, 0x41]);
    cmd(0x60); bus.write(0x60, 1, 0x05); // no translation
    bus.write(0x60, 1, 0xf2); expect(drain()).toEqual([0xfa, 0xab, 0x83]);
    bus.write(0x60, 1, 0xed); bus.write(0x60, 1, 0x07); expect(drain()).toEqual([0xfa, 0xfa]);
    bus.write(0x60, 1, 0xee); expect(drain()).toEqual([0xee]);
    bus.write(0x60, 1, 0xf0); bus.write(0x60, 1, 0x00); expect(drain()).toEqual([0xfa, 0xfa, 0x02]);
  });

  it('raises IRQ1 once per byte for keyboard data', () => {
    kbc.keyboardInput([0x1c, 0xf0, 0x1c]);
    expect(irq.count(1)).toBe(1);
    expect(drain()).toEqual([0x1c, 0xf0, 0x1c]);
    expect(irq.count(1)).toBe(3);
    expect(irq.level(1)).toBe(false);
  });

  it('holds keyboard bytes while the keyboard port is disabled', () => {
    cmd(0xad);
    kbc.keyboardInput([0x1c]);
    expect(bus.read(0x64, 1) & 1).toBe(0);
    cmd(0xae);
    expect(data()).toBe(0x1c);
  });

  it('mouse identifies through D4', () => {
    cmd(0xd4); bus.write(0x60, 1, 0xff); expect(drain()).toEqual([0xfa, 0xaa, 0x00]);
    cmd(0xd4); bus.write(0x60, 1, 0xf2); expect(drain()).toEqual([0xfa, 0x00]);
    cmd(0xd4); bus.write(0x60, 1, 0xe9); expect(drain()).toEqual([0xfa, 0x00, 0x02, 100]);
  });

  it('resets via 0xFE and the output port; A20 through output port, DD/DF and port 0x92', () => {
    cmd(0xfe);
    expect(ctl.resets.length).toBe(1);
    cmd(0xd0); expect(data() & 0x03).toBe(0x03);
    cmd(0xd1); bus.write(0x60, 1, 0x01);
    expect(a20.enabled).toBe(false);
    expect(bus.read(0x92, 1) & 0x02).toBe(0);
    cmd(0xdf); expect(a20.enabled).toBe(true);
    cmd(0xdd); expect(a20.enabled).toBe(false);
    bus.write(0x92, 1, 0x02); expect(a20.enabled).toBe(true);
    expect(ctl.resets.length).toBe(1);
    cmd(0xd1); bus.write(0x60, 1, 0x02);
    expect(ctl.resets.length).toBe(2);
    bus.write(0x92, 1, 0x03);
    expect(ctl.resets.length).toBe(3);
    bus.write(0x92, 1, 0x03);
    expect(ctl.resets.length).toBe(3);
  });
});
