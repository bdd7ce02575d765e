import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';
import { loadKernel } from '../../src/loader/index.js';
import { UsageError } from '../../src/cli/errors.js';
import { concat, makeElf, mb1Header, mb2Header, u32s } from './images.js';

const MiB = 1024 * 1024;
const newMem = (mib = 32) => {
  const m = new PhysMem(mib * MiB);
  m.fill(0, mib * MiB, 0xaa); // so missing BSS zeroing shows
  return m;
};
const cstr = (m: PhysMem, addr: number) => {
  let s = '';
  for (let c; (c = m.read8(addr)) !== 0; addr++) s += String.fromCharCode(c);
  return s;
};
const code = (n: number, fill = 0x90) => new Uint8Array(n).fill(fill);

/** A multiboot v1 ELF32 kernel: header + code at 1 MiB, then a 64 KiB BSS. */
function mb1Elf(flags = 0x3, memsz = 0x11000) {
  const text = concat(mb1Header(flags), code(0xff4));
  return makeElf({ bits: 32, entry: 0x10000c, segments: [{ vaddr: 0x100000, data: text, memsz }] });
}

function readMb1(m: PhysMem, mbi: number) {
  const mods = [];
  for (let i = 0; i < m.read32(mbi + 20); i++) {
    const e = m.read32(mbi + 24) + 16 * i;
    mods.push({ start: m.read32(e), end: m.read32(e + 4), name: cstr(m, m.read32(e + 8)) });
  }
  const mmap = [];
  const base = m.read32(mbi + 48);
  for (let o = 0; o < m.read32(mbi + 44); o += m.read32(base + o) + 4) {
    const e = base + o;
    mmap.push({ base: m.read64(e + 4), length: m.read64(e + 12), type: m.read32(e + 20) });
  }
  return {
    flags: m.read32(mbi), lower: m.read32(mbi + 4), upper: m.read32(mbi + 8),
    cmdline: cstr(m, m.read32(mbi + 16)), mods, mmap, loader: cstr(m, m.read32(mbi + 64)),
  };
}

const expectedMmap = (ram: number) => [
  { base: 0, length: 0x9fc00, type: 1 },
  { base: 0x9fc00, length: 0x400, type: 2 },
  { base: 0xf0000, length: 0x10000, type: 2 },
  { base: 0x100000, length: ram - 0x100000, type: 1 },
];

function expectUsage(f: () => unknown, re: RegExp) {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(UsageError);
  const msg = (err as Error).message;
  expect(msg).toMatch(re);
  expect(msg).not.toContain('\n');
}

describe('multiboot v1', () => {
  it('loads an ELF32 image, zeroes its BSS and enters 32-bit protected mode', () => {
    const m = newMem();
    const img = mb1Elf();
    const st = loadKernel(m, img, { kernelName: 'kernel.elf', cmdline: 'arg1 arg2' });
    expect(st).toMatchObject({ format: 'multiboot1', mode: 'protected32', entry: 0x10000c, selectors: { cs: 0x08, ds: 0x10 }, cr4: 0, efer: 0 });
    expect(st.cr0 & 0x80000001).toBe(1);
    expect(st.regs.rax).toBe(0x2badb002);
    expect(m.read32(0x100000)).toBe(0x1badb002);
    expect(m.read8(0x100fff)).toBe(0x90);
    for (const a of [0x101000, 0x108000, 0x110fff]) expect(m.read8(a)).toBe(0);
    expect(m.read8(0x111000)).toBe(0xaa);
    // GDT: flat 32-bit code at 0x08, flat data at 0x10
    expect(st.gdt.limit).toBeGreaterThanOrEqual(0x17);
    expect([m.read32(st.gdt.base + 8), m.read32(st.gdt.base + 12)]).toEqual([0xffff, 0x00cf9b00]);
    expect([m.read32(st.gdt.base + 16), m.read32(st.gdt.base + 20)]).toEqual([0xffff, 0x00cf9300]);
    const info = readMb1(m, st.regs.rbx!);
    expect(info.flags & 0x24d).toBe(0x24d);
    expect(info).toMatchObject({ lower: 639, upper: 31 * 1024, cmdline: 'kernel.elf arg1 arg2', loader: 'vmrun', mods: [] });
    expect(info.mmap).toEqual(expectedMmap(32 * MiB));
  });

  it('names the kernel alone when there are no arguments', () => {
    const m = newMem();
    const st = loadKernel(m, mb1Elf());
    expect(readMb1(m, st.regs.rbx!).cmdline).toBe('kernel');
  });

  it('loads modules page-aligned above the kernel, with their strings', () => {
    const m = newMem();
    const a = code(5000, 0x11), b = code(10, 0x22), c = new Uint8Array(0);
    const st = loadKernel(m, mb1Elf(), { modules: [{ name: 'a.bin x=1', data: a }, { name: 'b', data: b }, { name: 'empty', data: c }] });
    const { mods } = readMb1(m, st.regs.rbx!);
    expect(mods.map((x) => x.name)).toEqual(['a.bin x=1', 'b', 'empty']);
    let prevEnd = 0x111000; // kernel end including BSS
    for (const [i, x] of mods.entries()) {
      expect(x.start % 4096).toBe(0);
      expect(x.start).toBeGreaterThanOrEqual(prevEnd);
      expect(x.end - x.start).toBe([5000, 10, 0][i]);
      prevEnd = Math.max(x.end, x.start + 1);
    }
    expect(m.readBytes(mods[0].start, 5000)).toEqual(a);
    expect(m.readBytes(mods[1].start, 10)).toEqual(b);
    // boot structures must not sit on the image or the modules
    const mbi = st.regs.rbx!;
    expect(mbi < 0x100000 || mbi >= prevEnd).toBe(true);
  });

  it('honours the a.out kludge (header flag 16)', () => {
    // File: 0x20 bytes of junk, header at file offset 0x20 which maps to 0x200020; load starts at file offset 0.
    const hdr = mb1Header(0x10003, { header: 0x200020, load: 0x200000, loadEnd: 0x200100, bssEnd: 0x208000, entry: 0x200040 });
    const file = concat(code(0x20, 0xcc), hdr, code(0x100 - 0x20 - hdr.length, 0xf4), code(0x40, 0x55));
    const m = newMem();
    const st = loadKernel(m, file);
    expect(st.entry).toBe(0x200040);
    expect(m.read8(0x200000)).toBe(0xcc);
    expect(m.read32(0x200020)).toBe(0x1badb002);
    expect(m.read8(0x2000ff)).toBe(0xf4);
    expect(m.read8(0x200100)).toBe(0); // past load_end: BSS, not the trailing 0x55 bytes
    expect(m.read8(0x207fff)).toBe(0);
    expect(m.read8(0x208000)).toBe(0xaa);
  });

  it('a.out kludge with load_end_addr = 0 loads the rest of the file', () => {
    const hdr = mb1Header(0x10000, { header: 0x300000, load: 0x300000, loadEnd: 0, bssEnd: 0, entry: 0x300000 });
    const file = concat(hdr, code(100, 0x77));
    const m = newMem();
    loadKernel(m, file);
    expect(m.read8(0x300000 + hdr.length + 99)).toBe(0x77);
    expect(m.read8(0x300000 + hdr.length + 100)).toBe(0xaa);
  });

  it('loads an ELF32 wrapping 64-bit code and translates a virtual entry', () => {
    const text = concat(mb1Header(0), code(0x100, 0x48));
    const img = makeElf({ bits: 32, entry: 0xc0100010, segments: [{ vaddr: 0xc0100000, paddr: 0x100000, data: text }] });
    const st = loadKernel(newMem(), img);
    expect(st.entry).toBe(0x100010);
  });

  it('accepts an ELF64 carrying a multiboot header as a 32-bit multiboot entry', () => {
    const text = concat(mb1Header(0x2), code(0x100));
    const img = makeElf({ bits: 64, entry: 0x100000, segments: [{ vaddr: 0x100000, data: text }] });
    expect(loadKernel(newMem(), img)).toMatchObject({ format: 'multiboot1', mode: 'protected32' });
  });

  it('ignores the video request flag and rejects unknown required flags', () => {
    expect(loadKernel(newMem(), mb1Elf(0x7)).format).toBe('multiboot1');
    expectUsage(() => loadKernel(newMem(), mb1Elf(0x8)), /multiboot.*unsupported.*0x8/);
  });
});

describe('plain ELF64 (vmrun convention)', () => {
  const img64 = () => makeElf({ bits: 64, entry: 0x200010, segments: [{ vaddr: 0x200000, data: code(0x100, 0xc3), memsz: 0x3000 }] });

  /** Walks the loader's 4-level tables like the CPU would. */
  function translate(m: PhysMem, cr3: number, va: bigint): number | null {
    let table = cr3;
    for (const [shift, last] of [[39n, false], [30n, false], [21n, true]] as const) {
      const e = m.read64(table + Number((va >> shift) & 511n) * 8);
      if (!(e & 1)) return null;
      const addr = e - (e % 4096);
      if (last) {
        expect(e & 0x80).toBe(0x80);
        const frame = addr - (addr % 0x200000);
        return frame + Number(va & 0x1fffffn);
      }
      table = addr;
    }
    return null;
  }

  it('enters long mode with identity paging, a stack and RDI = multiboot info', () => {
    const m = newMem();
    const st = loadKernel(m, img64(), { cmdline: 'n=5', kernelName: 'k64' });
    expect(st).toMatchObject({ format: 'elf64', mode: 'long64', entry: 0x200010, selectors: { cs: 0x18, ds: 0x10 }, cr4: 0x20, efer: 0x500 });
    expect(st.cr0 >>> 0).toBe(0x80000011);
    expect(st.regs.rsi).toBe(0x2badb002);
    expect(m.read8(0x200000)).toBe(0xc3);
    expect(m.read8(0x202fff)).toBe(0);
    expect([m.read32(st.gdt.base + 0x18), m.read32(st.gdt.base + 0x1c)]).toEqual([0xffff, 0x00af9b00]);
    const cr3 = st.cr3!;
    expect(cr3 % 4096).toBe(0);
    for (const va of [0n, 0x200010n, 0x1234567n, 0xbfffffffn, 0xfee00000n, 0xffffffffn]) expect(translate(m, cr3, va)).toBe(Number(va));
    expect(translate(m, cr3, 0x100000000n)).toBeNull();
    expect(translate(m, cr3, 0xffffffff80200010n)).toBe(0x200010);
    expect(translate(m, cr3, 0xffffffffc0000000n)).toBe(0x40000000);
    // tables, stack and info do not overlap the image
    const rsp = st.regs.rsp!;
    expect(rsp % 16).toBe(0);
    for (const a of [cr3, rsp - 1, st.regs.rdi!]) expect(a < 0x200000 || a >= 0x203000).toBe(true);
    const info = readMb1(m, st.regs.rdi!);
    expect(info).toMatchObject({ cmdline: 'k64 n=5', loader: 'vmrun', upper: 31 * 1024 });
    expect(info.mmap).toEqual(expectedMmap(32 * MiB));
  });

  it('translates a higher-half (-mcmodel=kernel) entry to its physical address', () => {
    const img = makeElf({ bits: 64, entry: -0x7fe00000 + 0x40, segments: [{ vaddr: -0x7fe00000, paddr: 0x200000, data: code(0x100) }] });
    const st = loadKernel(newMem(), img);
    expect(st.entry).toBe(0x200040);
  });
});

describe('multiboot2', () => {
  function readMb2(m: PhysMem, addr: number) {
    const total = m.read32(addr);
    const tags: { type: number; size: number; at: number }[] = [];
    for (let o = 8; o < total; o = (o + m.read32(addr + o + 4) + 7) & ~7) {
      tags.push({ type: m.read32(addr + o), size: m.read32(addr + o + 4), at: addr + o });
      if (m.read32(addr + o) === 0) break;
    }
    return tags;
  }
  const mb2Elf = (tags: Parameters<typeof mb2Header>[0]) =>
    makeElf({ bits: 32, entry: 0x100100, segments: [{ vaddr: 0x100000, data: concat(mb2Header(tags), code(0x200)), memsz: 0x4000 }] });

  it('loads an ELF with an information request and hands over the boot information', () => {
    const m = newMem();
    const img = mb2Elf([{ type: 1, body: [4, 6, 1] }, { type: 6 }, { type: 5, flags: 1, body: [1024, 768, 32] }, { type: 9, flags: 1, body: [0x100200] }]);
    const st = loadKernel(m, img, { cmdline: 'console=com1', kernelName: 'xen.gz', modules: [{ name: 'dom0', data: code(3000, 0x33) }] });
    expect(st).toMatchObject({ format: 'multiboot2', mode: 'protected32', entry: 0x100100, regs: { rax: 0x36d76289 } });
    const mbi = st.regs.rbx!;
    expect(mbi % 8).toBe(0);
    const tags = readMb2(m, mbi);
    expect(tags.at(-1)).toMatchObject({ type: 0, size: 8 });
    const byType = (t: number) => tags.filter((x) => x.type === t);
    expect(cstr(m, byType(1)[0].at + 8)).toBe('xen.gz console=com1');
    expect(cstr(m, byType(2)[0].at + 8)).toBe('vmrun');
    const mod = byType(3)[0].at;
    const start = m.read32(mod + 8);
    expect(start % 4096).toBe(0);
    expect(start).toBeGreaterThanOrEqual(0x104000);
    expect(m.read32(mod + 12) - start).toBe(3000);
    expect(cstr(m, mod + 16)).toBe('dom0');
    expect(m.read8(start + 2999)).toBe(0x33);
    const mi = byType(4)[0].at;
    expect([m.read32(mi + 8), m.read32(mi + 12)]).toEqual([639, 31 * 1024]);
    const mm = byType(6)[0];
    expect([m.read32(mm.at + 8), m.read32(mm.at + 12)]).toEqual([24, 0]);
    const entries = [];
    for (let o = 16; o < mm.size; o += 24) entries.push({ base: m.read64(mm.at + o), length: m.read64(mm.at + o + 8), type: m.read32(mm.at + o + 16) });
    expect(entries).toEqual(expectedMmap(32 * MiB));
    expect(m.read32(byType(21)[0].at + 8)).toBe(0x100000);
    expect(m.read8(0x103fff)).toBe(0);
  });

  it('honours the address and entry tags', () => {
    // header at file offset 0 → 0x400000; load the whole file; BSS up to 0x402000
    const hdr = mb2Header([{ type: 2, body: [0x400000, 0x400000, 0, 0x402000] }, { type: 3, body: [0x400080] }]);
    const file = concat(hdr, code(0x200, 0x66));
    const m = newMem();
    const st = loadKernel(m, file);
    expect(st.entry).toBe(0x400080);
    expect(m.read32(0x400000)).toBe(0xe85250d6);
    expect(m.read8(0x400000 + hdr.length + 0x1ff)).toBe(0x66);
    expect(m.read8(0x401fff)).toBe(0);
  });

  it('refuses required tags and information it cannot provide', () => {
    expectUsage(() => loadKernel(newMem(), mb2Elf([{ type: 1, body: [8] }])), /requires boot information tag 8/);
    expect(loadKernel(newMem(), mb2Elf([{ type: 1, flags: 1, body: [8] }])).format).toBe('multiboot2');
    expectUsage(() => loadKernel(newMem(), mb2Elf([{ type: 42 }])), /requires header tag 42/);
    expectUsage(() => loadKernel(newMem(), mb2Elf([{ type: 2, body: [0x100000, 0x100000, 0, 0] }])), /no entry address tag/);
  });

  it('prefers multiboot v1 when both headers are present unless told otherwise', () => {
    const text = concat(mb1Header(0), code(4), mb2Header([]), code(0x100));
    const img = makeElf({ bits: 32, entry: 0x100000, segments: [{ vaddr: 0x100000, data: text }] });
    expect(loadKernel(newMem(), img).format).toBe('multiboot1');
    expect(loadKernel(newMem(), img, { protocol: 'multiboot2' }).format).toBe('multiboot2');
  });
});

describe('bad input', () => {
  it('rejects files that are not kernels', () => {
    expectUsage(() => loadKernel(newMem(), new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n')), /unrecognised image/);
    expectUsage(() => loadKernel(newMem(), new Uint8Array(0)), /empty/);
    expectUsage(() => loadKernel(newMem(), new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1])), /truncated ELF header/);
  });

  it('rejects truncated and inconsistent ELF files', () => {
    const img = mb1Elf();
    expectUsage(() => loadKernel(newMem(), img.subarray(0, 0x800)), /truncated ELF file/);
    const full = makeElf({ bits: 64, entry: 0x200000, segments: [{ vaddr: 0x200000, data: code(0x100) }] });
    expectUsage(() => loadKernel(newMem(), full.subarray(0, 80)), /truncated ELF file/);
    const badSize = full.slice();
    new DataView(badSize.buffer).setBigUint64(64 + 40, 1n, true); // memsz < filesz
    expectUsage(() => loadKernel(newMem(), badSize), /file size larger than memory size/);
  });

  it('rejects ELF files that are not x86-64 executables', () => {
    expectUsage(() => loadKernel(newMem(), makeElf({ bits: 32, entry: 0x100000, segments: [{ vaddr: 0x100000, data: code(16) }] })), /not an x86-64 ELF/);
    expectUsage(() => loadKernel(newMem(), makeElf({ bits: 64, machine: 183, entry: 0x100000, segments: [{ vaddr: 0x100000, data: code(16) }] })), /not an x86-64 ELF/);
    expectUsage(() => loadKernel(newMem(), makeElf({ bits: 64, type: 3, entry: 0x100000, segments: [{ vaddr: 0x100000, data: code(16) }] })), /not an executable/);
  });

  it('rejects segments outside RAM and overlapping segments', () => {
    const big = makeElf({ bits: 64, entry: 0x200000, segments: [{ vaddr: 0x200000, data: code(16), memsz: 64 * MiB }] });
    expectUsage(() => loadKernel(newMem(), big), /outside guest RAM/);
    const high = makeElf({ bits: 64, entry: 0x200000, segments: [{ vaddr: 0x200000, paddr: 0x4_0000_0000, data: code(16) }] });
    expectUsage(() => loadKernel(newMem(), high), /outside guest RAM/);
    const overlap = makeElf({ bits: 64, entry: 0x200000, segments: [{ vaddr: 0x200000, data: code(0x2000) }, { vaddr: 0x201000, data: code(16) }] });
    expectUsage(() => loadKernel(newMem(), overlap), /overlaps ELF segment 0/);
  });

  it('rejects modules that do not fit and bad a.out kludge fields', () => {
    expectUsage(() => loadKernel(newMem(4), mb1Elf(), { modules: [{ name: 'big', data: new Uint8Array(4 * MiB) }] }), /no room in guest RAM for module big/);
    const hdr = mb1Header(0x10000, { header: 0x100000, load: 0x100000, loadEnd: 0x101000, bssEnd: 0, entry: 0x100000 });
    expectUsage(() => loadKernel(newMem(), concat(hdr, code(16))), /truncated/);
    const below = mb1Header(0x10000, { header: 0x100000, load: 0x0f0000, loadEnd: 0, bssEnd: 0, entry: 0x100000 });
    expectUsage(() => loadKernel(newMem(), concat(below, code(16))), /before the start of the file/);
    expectUsage(() => loadKernel(newMem(), u32s([0x1badb002, 0x10000, (-(0x1badb002 + 0x10000)) >>> 0])), /truncated/);
  });

  it('rejects a multiboot header on a non-ELF file without the address fields', () => {
    expectUsage(() => loadKernel(newMem(), concat(mb1Header(0), code(64))), /not ELF/);
  });
});
