import { describe, it, expect, beforeEach } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { PciBus, PciConfigSpace } from '../../src/devices/pci.js';
import { I440fxHostBridge } from '../../src/devices/i440fx.js';
import { Piix3IsaBridge } from '../../src/devices/piix3.js';
import { IrqRecorder, TestControl } from './helpers.js';

const addr = (dev: number, fn: number, reg: number, bus = 0): number => (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0;

describe('PCI configuration mechanism #1', () => {
  let io: IoBus;
  let pci: PciBus;
  let irq: IrqRecorder;
  let ctl: TestControl;
  let piix: Piix3IsaBridge;
  const cfgRead = (dev: number, fn: number, reg: number, size: 1 | 2 | 4 = 4): number => {
    io.write(0xcf8, 4, addr(dev, fn, reg & 0xfc));
    return io.read(0xcfc + (reg & 3), size) >>> 0;
  };
  const cfgWrite = (dev: number, fn: number, reg: number, size: 1 | 2 | 4, v: number): void => {
    io.write(0xcf8, 4, addr(dev, fn, reg & 0xfc));
    io.write(0xcfc + (reg & 3), size, v);
  };

  beforeEach(() => {
    io = new IoBus();
    pci = new PciBus();
    irq = new IrqRecorder();
    ctl = new TestControl();
    io.register(0xcf8, 8, pci);
    pci.register(0, 0, new I440fxHostBridge());
    piix = new Piix3IsaBridge(irq, ctl);
    pci.register(1, 0, piix);
    piix.attach(pci);
  });

  it('finds the host bridge and the PIIX3 with byte/word/dword reads; absent devices float', () => {
    expect(cfgRead(0, 0, 0)).toBe(0x12378086);
    expect(cfgRead(1, 0, 0)).toBe(0x70008086);
    expect(cfgRead(0, 0, 0x08) >>> 8).toBe(0x060000);
    expect(cfgRead(1, 0, 0x0a, 2)).toBe(0x0601);
    expect(cfgRead(1, 0, 0x0e, 1)).toBe(0x80);
    expect(cfgRead(0, 0, 0x02, 2)).toBe(0x1237);
    expect(cfgRead(2, 0, 0)).toBe(0xffffffff);
    expect(cfgRead(0, 1, 0, 2)).toBe(0xffff);
    expect(cfgRead(0, 0, 0, 4)).toBe(0x12378086);
    io.write(0xcf8, 4, addr(0, 0, 0, 1));
    expect(io.read(0xcfc, 4) >>> 0).toBe(0xffffffff);
    io.write(0xcf8, 4, 0x00000000); // enable bit clear
    expect(io.read(0xcfc, 4) >>> 0).toBe(0xffffffff);
    io.write(0xcf8, 4, addr(1, 0, 0x10));
    expect(io.read(0xcf8, 4) >>> 0).toBe(addr(1, 0, 0x10));
  });

  it('honours read-only fields and write masks', () => {
    cfgWrite(0, 0, 0, 4, 0);
    expect(cfgRead(0, 0, 0)).toBe(0x12378086);
    cfgWrite(0, 0, 0x59, 1, 0x30); // PAM0
    expect(cfgRead(0, 0, 0x59, 1)).toBe(0x30);
    cfgWrite(1, 0, 0x3c, 1, 0x0b);
    expect(cfgRead(1, 0, 0x3c, 1)).toBe(0x0b);
  });

  it('sizes BARs by writing all ones and reports moves', () => {
    const dev = new PciConfigSpace({ vendorId: 0x1af4, deviceId: 0x1001, classCode: 0x010000, interruptPin: 1 });
    dev.defineBar(0, { size: 0x40, kind: 'io' });
    dev.defineBar(1, { size: 0x1000, kind: 'mem32' });
    dev.defineBar(2, { size: 0x4000, kind: 'mem64', prefetchable: true });
    const moves: [number, number][] = [];
    dev.onBarChange = (i, a) => moves.push([i, a]);
    pci.register(3, 0, dev);
    cfgWrite(3, 0, 0x10, 4, 0xffffffff);
    expect(cfgRead(3, 0, 0x10)).toBe(0xffffffc1);
    cfgWrite(3, 0, 0x14, 4, 0xffffffff);
    expect(cfgRead(3, 0, 0x14)).toBe(0xfffff000);
    cfgWrite(3, 0, 0x18, 4, 0xffffffff);
    cfgWrite(3, 0, 0x1c, 4, 0xffffffff);
    expect(cfgRead(3, 0, 0x18)).toBe(0xffffc00c);
    expect(cfgRead(3, 0, 0x1c)).toBe(0xffffffff);
    cfgWrite(3, 0, 0x10, 4, 0xc000);
    cfgWrite(3, 0, 0x14, 4, 0xfebf0000);
    cfgWrite(3, 0, 0x18, 4, 0xfe000000);
    cfgWrite(3, 0, 0x1c, 4, 0);
    expect(moves).toEqual([]); // decoding still off
    cfgWrite(3, 0, 0x04, 2, 0x0003);
    expect(moves).toEqual([[0, 0xc000], [1, 0xfebf0000], [2, 0xfe000000]]);
    expect(dev.barAddress(1)).toBe(0xfebf0000);
    // status error bits are write-1-to-clear
    dev.bytes[0x07] = 0xf8;
    cfgWrite(3, 0, 0x06, 2, 0x2000);
    expect(cfgRead(3, 0, 0x06, 2)).toBe(0xd800);
  });

  it('routes INTx through the PIIX3 PIRQ registers to ISA IRQs', () => {
    const devfn = 3 << 3;
    pci.setIntx(devfn, 0, true);
    expect(irq.level(11)).toBe(false); // PIRQ disabled
    // slot 3 INTA# -> PIRQC
    expect(Piix3IsaBridge.pirqOf(devfn, 0)).toBe(2);
    cfgWrite(1, 0, 0x62, 1, 11);
    expect(irq.level(11)).toBe(true);
    pci.setIntx(devfn, 0, false);
    expect(irq.level(11)).toBe(false);
    pci.setIntx(devfn, 0, true);
    cfgWrite(1, 0, 0x62, 1, 10);
    expect(irq.level(11)).toBe(false);
    expect(irq.level(10)).toBe(true);
  });

  it('resets through 0xCF9', () => {
    io.write(0xcf9, 1, 0x02);
    expect(ctl.resets).toEqual([]);
    io.write(0xcf9, 1, 0x06);
    expect(ctl.resets.length).toBe(1);
    expect(io.read(0xcf9, 1)).toBe(0x02);
  });
});

describe('PCI capabilities', () => {
  it('chains capabilities from the capability pointer', () => {
    const dev = new PciConfigSpace({ vendorId: 0x1af4, deviceId: 0x1041, classCode: 0x020000 });
    const a = dev.addCapability(0x09, 0x10);
    const b = dev.addCapability(0x05, 0x0a);
    expect(dev.configRead(0x06, 2) & 0x10).toBe(0x10);
    expect(dev.configRead(0x34, 1)).toBe(a);
    expect(dev.configRead(a, 1)).toBe(0x09);
    expect(dev.configRead(a + 1, 1)).toBe(b);
    expect(dev.configRead(b, 1)).toBe(0x05);
    expect(dev.configRead(b + 1, 1)).toBe(0);
  });
});
