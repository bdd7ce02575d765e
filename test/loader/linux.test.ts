import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';
import { loadKernel } from '../../src/loader/index.js';
import { UsageError } from '../../src/cli/errors.js';
import { concat, mb1Header } from './images.js';

const MiB = 1024 * 1024;
const newMem = (mib = 64) => {
  const m = new PhysMem(mib * MiB);
  m.fill(0, mib * MiB, 0xaa); // so fields the loader forgets to clear show up
  return m;
};
const cstr = (m: PhysMem, addr: number) => {
  let s = '';
  for (let c; (c = m.read8(addr)) !== 0; addr++) s += String.fromCharCode(c);
  return s;
};

interface BzOpts {
  version?: number;
  xloadflags?: number;
  loadflags?: number;
  relocatable?: boolean;
  prefAddress?: number;
  initSize?: number;
  initrdAddrMax?: number;
  cmdlineSize?: number;
  setupSects?: number;
  payload?: Uint8Array;
  truncate?: number;
}

/** A bzImage with a 2.15 setup header and a recognisable protected-mode payload. */
function makeBzImage(o: BzOpts = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const payload = o.payload ?? new Uint8Array(0x3000).map((_, i) => (i * 7 + 3) & 0xff);
  const file = new Uint8Array((setupSects + 1) * 512 + payload.length);
  const dv = new DataView(file.buffer);
  file[0x1f1] = setupSects;
  dv.setUint32(0x1f4, payload.length / 16, true);
  dv.setUint16(0x1fa, 0xffff, true);
  dv.setUint16(0x1fe, 0xaa55, true);
  file[0x200] = 0xeb;
  file[0x201] = 0x26c - 0x202;
  dv.setUint32(0x202, 0x53726448, true);
  dv.setUint16(0x206, o.version ?? 0x20f, true);
  file[0x211] = o.loadflags ?? 0x01;
  dv.setUint32(0x214, 0x100000, true);
  dv.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, 0x200000, true);
  file[0x234] = o.relocatable === false ? 0 : 1;
  file[0x235] = 21;
  dv.setUint16(0x236, o.xloadflags ?? 0x7f, true);
  dv.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  dv.setUint32(0x248, 0x100, true);
  dv.setUint32(0x24c, 0x200, true);
  dv.setUint32(0x258, o.prefAddress ?? 0x1000000, true);
  dv.setUint32(0x260, o.initSize ?? 0x400000, true);
  file.set(payload, (setupSects + 1) * 512);
  return o.truncate ? file.subarray(0, o.truncate) : file;
}

function e820(m: PhysMem, zp: number) {
  const n = m.read8(zp + 0x1e8);
  return Array.from({ length: n }, (_, i) => {
    const e = zp + 0x2d0 + i * 20;
    return { base: m.read64(e), length: m.read64(e + 8), type: m.read32(e + 16) };
  });
}

/** Walks the loader's 4-level tables for a virtual address; returns the physical address or null. */
function translate(m: PhysMem, cr3: number, va: number): number | null {
  const idx = [Math.floor(va / 2 ** 39) % 512, Math.floor(va / 2 ** 30) % 512, Math.floor(va / 2 ** 21) % 512];
  let table = cr3;
  for (let level = 0; level < 3; level++) {
    const e = m.read64(table + idx[level] * 8);
    if (!(e & 1)) return null;
    const addr = e - (e % 0x1000);
    if (level === 2) {
      expect(e & 0x80).toBe(0x80); // 2 MiB page
      return addr - (addr % 0x20_0000) + (va % 0x20_0000);
    }
    table = addr;
  }
  return null;
}

describe('Linux boot protocol (bzImage, 64-bit entry)', () => {
  it('loads the protected-mode kernel at pref_address and enters startup_64 in long mode', () => {
    const m = newMem();
    const bz = makeBzImage();
    const bs = loadKernel(m, bz, { cmdline: 'console=ttyS0' });
    expect(bs.format).toBe('linux');
    expect(bs.mode).toBe('long64');
    expect(bs.entry).toBe(0x1000000 + 0x200);
    expect(m.readBytes(0x1000000, 0x3000)).toEqual(bz.subarray(5 * 512));
    expect(bs.selectors).toEqual({ cs: 0x10, ds: 0x18 });
    expect((bs.cr0 & 0x8000_0001) >>> 0).toBe(0x8000_0001);
    expect(bs.cr4 & 0x20).toBe(0x20);
    expect(bs.efer & 0x500).toBe(0x500);
    // __BOOT_CS: present 64-bit code (L=1, D=0); __BOOT_DS: present writable data, 4 GiB.
    const cs = m.read32(bs.gdt.base + 0x10 + 4), ds = m.read32(bs.gdt.base + 0x18 + 4);
    expect(cs & 0x00609800).toBe(0x00209800);
    expect(ds & 0x000f9a00).toBe(0x000f9200);
    expect(bs.gdt.limit).toBeGreaterThanOrEqual(0x1f);
    expect(bs.regs.rsi).toBeDefined();
    expect(bs.regs.rsi! % 0x1000).toBe(0);
    expect(bs.regs.rsi!).toBeLessThan(0xa0000);
  });

  it('fills the zero page: header copy, loader type, heap flag, command line, e820', () => {
    const m = newMem();
    const bz = makeBzImage();
    const bs = loadKernel(m, bz, { cmdline: 'console=ttyS0 cryptomgr.notests=1' });
    const zp = bs.regs.rsi!;
    expect(m.read32(zp + 0x202)).toBe(0x53726448);
    expect(m.read16(zp + 0x206)).toBe(0x20f);
    expect(m.read32(zp + 0x258)).toBe(0x1000000);
    expect(m.read32(zp + 0x260)).toBe(0x400000);
    expect(m.read8(zp + 0x210)).toBe(0xff);
    expect(m.read8(zp + 0x211)).toBe(0x81);
    expect(cstr(m, m.read32(zp + 0x228))).toBe('console=ttyS0 cryptomgr.notests=1');
    expect(m.read32(zp + 0x218)).toBe(0);
    expect(m.read32(zp + 0x21c)).toBe(0);
    // Fields past the header and outside what the loader sets stay zero (the 0xAA fill is gone).
    expect(m.read8(zp + 0x1ef)).toBe(0); // sentinel
    expect(m.read64(zp + 0x070)).toBe(0); // no RSDP given
    expect(m.read32(zp + 0x0c8)).toBe(0);
    expect(m.read32(zp + 0x1e0)).toBe(63 * 1024);
    expect(e820(m, zp)).toEqual([
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x9fc00, length: 0x400, type: 2 },
      { base: 0xf0000, length: 0x10000, type: 2 },
      { base: 0x100000, length: 63 * MiB, type: 1 },
    ]);
  });

  it('puts the initrd page-aligned at the top of RAM and records it', () => {
    const m = newMem(64);
    const initrd = new Uint8Array(0x12345).map((_, i) => i & 0xff);
    const bs = loadKernel(m, makeBzImage(), { initrd });
    const zp = bs.regs.rsi!;
    const at = m.read32(zp + 0x218);
    expect(at % 0x1000).toBe(0);
    expect(m.read32(zp + 0x21c)).toBe(initrd.length);
    expect(at + initrd.length).toBeLessThanOrEqual(64 * MiB);
    expect(64 * MiB - (at + initrd.length)).toBeLessThan(0x1000);
    expect(m.readBytes(at, initrd.length)).toEqual(initrd);
  });

  it('keeps the initrd below initrd_addr_max and above the kernel working area', () => {
    const m = newMem(64);
    const initrd = new Uint8Array(0x5000).fill(0x5a);
    const bs = loadKernel(m, makeBzImage({ initrdAddrMax: 0x1ffffff }), { initrd });
    const at = m.read32(bs.regs.rsi! + 0x218);
    expect(at + initrd.length).toBeLessThanOrEqual(0x2000000);
    expect(at).toBeGreaterThanOrEqual(0x1400000);
    expect(() => loadKernel(newMem(64), makeBzImage({ initrdAddrMax: 0x13fffff }), { initrd }))
      .toThrow(/no room for the initrd/);
  });

  it('identity maps the first 4 GiB with 2 MiB pages', () => {
    const m = newMem();
    const bs = loadKernel(m, makeBzImage());
    for (const va of [0, 0x1000200, bs.regs.rsi!, 63 * MiB + 0x1234, 0xfee00000, 0xffffffff]) {
      expect(translate(m, bs.cr3!, va)).toBe(va);
    }
    expect(translate(m, bs.cr3!, 0x1_0000_0000)).toBeNull();
  });

  it('passes the RSDP (zero page acpi_rsdp_addr) and cuts reserved ranges out of RAM', () => {
    const m = newMem();
    const bs = loadKernel(m, makeBzImage(), { rsdp: 0xf5a10, reserved: [{ base: 0x3ff0000, length: 0x10000, type: 3 }] });
    const zp = bs.regs.rsi!;
    expect(m.read64(zp + 0x070)).toBe(0xf5a10);
    expect(e820(m, zp)).toEqual([
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x9fc00, length: 0x400, type: 2 },
      { base: 0xf0000, length: 0x10000, type: 2 },
      { base: 0x100000, length: 0x3ff0000 - 0x100000, type: 1 },
      { base: 0x3ff0000, length: 0x10000, type: 3 },
    ]);
    // The initrd, placed high, goes below the reserved range rather than over it.
    const m2 = newMem();
    const bs2 = loadKernel(m2, makeBzImage(), { initrd: new Uint8Array(0x100), reserved: [{ base: 0x3ff0000, length: 0x10000 }] });
    expect(m2.read32(bs2.regs.rsi! + 0x218)).toBe(0x3fef000);
  });

  it('relocates a kernel whose preferred address does not fit', () => {
    const m = newMem(16);
    const bs = loadKernel(m, makeBzImage({ prefAddress: 0x1000000, initSize: 0x400000 }));
    expect(bs.entry).toBe(0x200000 + 0x200);
    expect(() => loadKernel(newMem(16), makeBzImage({ relocatable: false }))).toThrow(/not relocatable/);
  });

  it('refuses what it cannot boot, with one-line UsageErrors', () => {
    const cases: [BzOpts, RegExp][] = [
      [{ version: 0x205 }, /2\.05 is too old/],
      [{ version: 0x20b }, /no 64-bit entry point/],
      [{ xloadflags: 0 }, /no 64-bit entry point/],
      [{ loadflags: 0 }, /zImage/],
      [{ truncate: 0x1000 }, /truncated/],
      [{ initSize: 0x1000 }, /init_size/],
    ];
    for (const [o, re] of cases) {
      let err: unknown;
      try { loadKernel(newMem(), makeBzImage(o)); } catch (e) { err = e; }
      expect(err, JSON.stringify(o)).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(() => loadKernel(newMem(), makeBzImage({ cmdlineSize: 8 }), { cmdline: 'console=ttyS0' })).toThrow(/at most 8/);
    expect(() => loadKernel(newMem(), makeBzImage(), { modules: [{ name: 'x', data: new Uint8Array(1) }] })).toThrow(/--initrd/);
    expect(() => loadKernel(newMem(), new Uint8Array(0x400), { protocol: 'linux' })).toThrow(/not a Linux bzImage/);
  });

  it('lets a multiboot header win unless the caller forces the Linux protocol', () => {
    // A bzImage whose payload carries a multiboot v1 a.out-kludge header loading the whole file at 1 MiB.
    const hdrAt = 5 * 512;
    const payload = concat(mb1Header(0x10003, { header: 0x100000 + hdrAt, load: 0x100000, loadEnd: 0, bssEnd: 0, entry: 0x100000 }), new Uint8Array(0x3000 - 32));
    const bz = makeBzImage({ payload });
    expect(loadKernel(newMem(), bz).format).toBe('multiboot1');
    expect(loadKernel(newMem(), bz, { protocol: 'linux' }).format).toBe('linux');
  });

  it('hands the initrd to a multiboot kernel as its last module', () => {
    const hdrAt = 5 * 512;
    const payload = concat(mb1Header(0x10003, { header: 0x100000 + hdrAt, load: 0x100000, loadEnd: 0, bssEnd: 0, entry: 0x100000 }), new Uint8Array(0x3000 - 32));
    const m = newMem();
    const bs = loadKernel(m, makeBzImage({ payload }), { initrd: new Uint8Array([1, 2, 3]) });
    const mbi = bs.regs.rbx!;
    expect(m.read32(mbi + 20)).toBe(1);
    const mod = m.read32(mbi + 24);
    expect(m.read32(mod + 4) - m.read32(mod)).toBe(3);
    expect(cstr(m, m.read32(mod + 8))).toBe('initrd');
  });
});
