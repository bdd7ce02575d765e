import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { PicPair } from '../../src/devices/pic.js';

function initPair(bus: IoBus, opts: { autoEoi?: boolean; sfnm?: boolean } = {}): void {
  const icw4 = 0x01 | (opts.autoEoi ? 0x02 : 0) | (opts.sfnm ? 0x10 : 0);
  bus.write(0x20, 1, 0x11); bus.write(0x21, 1, 0x20); bus.write(0x21, 1, 0x04); bus.write(0x21, 1, icw4);
  bus.write(0xa0, 1, 0x11); bus.write(0xa1, 1, 0x28); bus.write(0xa1, 1, 0x02); bus.write(0xa1, 1, icw4 & ~0x10);
  bus.write(0x21, 1, 0x00); bus.write(0xa1, 1, 0x00);
}

describe('8259A pair', () => {
  let bus: IoBus;
  let pic: PicPair;
  beforeEach(() => {
    bus = new IoBus();
    pic = new PicPair();
    bus.register(0x20, 2, pic); bus.register(0xa0, 2, pic); bus.register(0x4d0, 2, pic);
  });

  it('initialises through ICW1-4 and delivers a master edge IRQ', () => {
    initPair(bus);
    expect(pic.output).toBe(false);
    pic.setIrq(1, true); pic.setIrq(1, false);
    expect(pic.output).toBe(true);
    expect(bus.read(0x20, 1)).toBe(0x02); // IRR by default after ICW1
    expect(pic.acknowledge()).toBe(0x21);
    expect(pic.output).toBe(false);
    bus.write(0x20, 1, 0x0b); // OCW3: read ISR
    expect(bus.read(0x20, 1)).toBe(0x02);
    bus.write(0x20, 1, 0x20); // non-specific EOI
    expect(bus.read(0x20, 1)).toBe(0x00);
  });

  it('masks with OCW1 and keeps the request pending in IRR', () => {
    initPair(bus);
    bus.write(0x21, 1, 0x01);
    expect(bus.read(0x21, 1)).toBe(0x01);
    pic.setIrq(0, true); pic.setIrq(0, false);
    expect(pic.output).toBe(false);
    bus.write(0x21, 1, 0x00);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('cascades slave IRQs through IR2 and needs EOI on both chips', () => {
    initPair(bus);
    pic.setIrq(12, true); pic.setIrq(12, false);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2c);
    bus.write(0xa0, 1, 0x0b); bus.write(0x20, 1, 0x0b);
    expect(bus.read(0xa0, 1)).toBe(0x10);
    expect(bus.read(0x20, 1)).toBe(0x04);
    // a lower-priority slave IRQ waits until the slave EOI
    pic.setIrq(14, true); pic.setIrq(14, false);
    expect(pic.output).toBe(false);
    bus.write(0xa0, 1, 0x64); // specific EOI level 4
    expect(pic.output).toBe(false); // master's IR2 still in service (fully nested)
    bus.write(0x20, 1, 0x62); // specific EOI level 2
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2e);
  });

  it('orders priorities and lets a higher IRQ nest', () => {
    initPair(bus);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    pic.setIrq(5, true);
    expect(pic.output).toBe(false);
    pic.setIrq(3, true);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
    bus.write(0x20, 1, 0x20); // EOI clears IR3 (highest in service)
    bus.write(0x20, 1, 0x20); // then IR4
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('rotates priority on specific EOI and set-priority', () => {
    initPair(bus);
    bus.write(0x20, 1, 0xc4); // set priority: IR4 lowest, IR5 highest
    pic.setIrq(1, true); pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x26);
    bus.write(0x20, 1, 0xe6); // rotate on specific EOI 6: IR7 highest now
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('auto-EOI leaves ISR clear', () => {
    initPair(bus, { autoEoi: true });
    pic.setIrq(3, true); pic.setIrq(3, false);
    expect(pic.acknowledge()).toBe(0x23);
    bus.write(0x20, 1, 0x0b);
    expect(bus.read(0x20, 1)).toBe(0);
  });

  it('gives spurious IR7/IR15 when nothing is pending at INTA', () => {
    initPair(bus);
    expect(pic.acknowledge()).toBe(0x27);
    bus.write(0x20, 1, 0x0b);
    expect(bus.read(0x20, 1)).toBe(0); // spurious IR7 is not put in service
    // a slave request that vanishes (level mode) after the master saw the cascade
    bus.write(0x4d1, 1, 0x02); // IRQ9 level
    pic.setIrq(9, true);
    expect(pic.output).toBe(true);
    pic.setIrq(9, false);
    expect(pic.acknowledge()).toBe(0x2f);
    expect(pic.spuriousCount).toBe(2);
  });

  it('level-triggered inputs follow the line; ELCR masks fixed-edge bits', () => {
    initPair(bus);
    bus.write(0x4d0, 1, 0xff); bus.write(0x4d1, 1, 0xff);
    expect(bus.read(0x4d0, 1)).toBe(0xf8);
    expect(bus.read(0x4d1, 1)).toBe(0xde);
    pic.setIrq(10, true);
    expect(pic.acknowledge()).toBe(0x2a);
    bus.write(0xa0, 1, 0x20); bus.write(0x20, 1, 0x20);
    // still high: asserted again after EOI
    expect(pic.output).toBe(true);
    pic.setIrq(10, false);
    // the master latched the cascade edge, so the vanished slave request shows as spurious IRQ15
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x2f);
    bus.write(0x20, 1, 0x20);
    expect(pic.output).toBe(false);
    // edge input (IRQ1 cannot be made level): a held-high line does not re-trigger
    pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
    bus.write(0x20, 1, 0x20);
    expect(pic.output).toBe(false);
  });

  it('supports poll mode', () => {
    initPair(bus);
    bus.write(0x20, 1, 0x0c);
    expect(bus.read(0x20, 1)).toBe(0);
    pic.setIrq(6, true); pic.setIrq(6, false);
    bus.write(0x20, 1, 0x0c);
    expect(bus.read(0x20, 1)).toBe(0x86);
    bus.write(0x20, 1, 0x0b);
    expect(bus.read(0x20, 1)).toBe(0x40);
  });

  it('special mask mode lets lower levels through while a masked one is in service', () => {
    initPair(bus);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    bus.write(0x21, 1, 0x08); // mask IR3 (in service)
    bus.write(0x20, 1, 0x68); // OCW3 set special mask
    pic.setIrq(5, true);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('special fully nested mode lets the slave interrupt again while IR2 is in service', () => {
    initPair(bus, { sfnm: true });
    pic.setIrq(12, true); pic.setIrq(12, false);
    expect(pic.acknowledge()).toBe(0x2c);
    pic.setIrq(9, true); pic.setIrq(9, false);
    expect(pic.output).toBe(true);
    expect(pic.acknowledge()).toBe(0x29);
  });
});
