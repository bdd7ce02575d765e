import { describe, it, expect } from 'vitest';
import { IoBus } from '../../src/devices/iobus.js';
import { FwCfg, FW_CFG } from '../../src/devices/fwcfg.js';
import { DebugExit } from '../../src/devices/debugexit.js';
import { PostPort } from '../../src/devices/port80.js';
import { PhysMem } from '../../src/mmu/physmem.js';
import { TestControl } from './helpers.js';

function readItem(bus: IoBus, key: number, len: number): number[] {
  bus.write(0x510, 2, key);
  const out: number[] = [];
  for (let i = 0; i < len; i++) out.push(bus.read(0x511, 1));
  return out;
}

describe('fw_cfg', () => {
  const setup = (mem?: PhysMem): { bus: IoBus; fw: FwCfg } => {
    const bus = new IoBus();
    const fw = new FwCfg({ ramBytes: 256 * 2 ** 20, cpuCount: 1, dmaMemory: mem });
    bus.register(0x510, 2, fw);
    bus.register(0x514, 8, fw);
    return { bus, fw };
  };

  it('has the signature, ID, RAM size and CPU count', () => {
    const { bus } = setup();
    expect(String.fromCharCode(...readItem(bus, FW_CFG.SIGNATURE, 4))).toBe('QEMU');
    expect(readItem(bus, FW_CFG.ID, 4)).toEqual([1, 0, 0, 0]);
    expect(readItem(bus, FW_CFG.RAM_SIZE, 8)).toEqual([0, 0, 0, 0x10, 0, 0, 0, 0]);
    expect(readItem(bus, FW_CFG.NB_CPUS, 2)).toEqual([1, 0]);
    expect(readItem(bus, FW_CFG.NUMA, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    // reading past the end yields zeros; reselecting rewinds
    expect(readItem(bus, FW_CFG.SIGNATURE, 6)).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
  });

  it('lists named files in a big-endian directory', () => {
    const { bus, fw } = setup();
    const key = fw.addFile('etc/zeta', new Uint8Array([9, 8, 7]));
    fw.addFile('etc/alpha', new Uint8Array(300));
    const head = readItem(bus, FW_CFG.FILE_DIR, 4 + 128);
    expect(head.slice(0, 4)).toEqual([0, 0, 0, 2]);
    const e0 = head.slice(4, 68), e1 = head.slice(68, 132);
    expect(String.fromCharCode(...e0.slice(8, 17))).toBe('etc/alpha');
    expect(e0.slice(0, 4)).toEqual([0, 0, 0x01, 0x2c]);
    expect(String.fromCharCode(...e1.slice(8, 16))).toBe('etc/zeta');
    expect((e1[4] << 8) | e1[5]).toBe(key);
    expect(readItem(bus, key, 3)).toEqual([9, 8, 7]);
  });

  it('wide reads of the data port return successive bytes', () => {
    const { bus } = setup();
    bus.write(0x510, 2, FW_CFG.SIGNATURE);
    expect(bus.read(0x511, 4)).toBe(0x554d4551);
  });

  it('DMA reads an item into guest memory', () => {
    const mem = new PhysMem(1 << 20);
    const { bus } = setup(mem);
    expect(readItem(bus, FW_CFG.ID, 4)).toEqual([3, 0, 0, 0]);
    const be = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
    const desc = 0x1000, buf = 0x2000;
    mem.write32(desc, be((FW_CFG.SIGNATURE << 16) | 0x08 | 0x02));
    mem.write32(desc + 4, be(6));
    mem.write32(desc + 8, 0);
    mem.write32(desc + 12, be(buf));
    mem.write32(buf + 4, 0xffffffff);
    bus.write(0x514, 4, 0);
    bus.write(0x518, 4, be(desc));
    expect(mem.read32(desc)).toBe(0);
    expect(Array.from(mem.readBytes(buf, 6))).toEqual([0x51, 0x45, 0x4d, 0x55, 0, 0]);
  });
});

describe('isa-debug-exit and port 0x80', () => {
  it('exits with the written value for byte, word and dword writes', () => {
    const bus = new IoBus();
    const ctl = new TestControl();
    bus.register(0xf4, 4, new DebugExit(ctl));
    bus.write(0xf4, 1, 0x31);
    bus.write(0xf4, 2, 0x1234);
    bus.write(0xf4, 4, 0x80000001);
    expect(ctl.exits).toEqual([0x31, 0x1234, 0x80000001]);
  });

  it('swallows POST codes', () => {
    const bus = new IoBus();
    const post = new PostPort();
    bus.register(0x80, 1, post);
    bus.write(0x80, 1, 0x42);
    expect(post.lastCode).toBe(0x42);
    expect(bus.read(0x80, 1)).toBe(0xff);
  });
});
