import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';
import { loadKernel } from '../../src/loader/index.js';
import { findPvhEntry } from '../../src/loader/pvh.js';
import { UsageError } from '../../src/cli/errors.js';
import { makeElf } from './images.js';

const MiB = 1024 * 1024;
const newMem = (mib = 64) => {
  const m = new PhysMem(mib * MiB);
  m.fill(0, mib * MiB, 0xaa);
  return m;
};
const cstr = (m: PhysMem, addr: number) => {
  let s = '';
  for (let c; (c = m.read8(addr)) !== 0; addr++) s += String.fromCharCode(c);
  return s;
};

/** An ELF note: namesz, descsz, type, then name and desc each padded to 4 bytes. */
function note(name: string, type: number, desc: Uint8Array): Uint8Array {
  const n = new TextEncoder().encode(name + '\0');
  const pad = (x: number) => (x + 3) & ~3;
  const out = new Uint8Array(12 + pad(n.length) + pad(desc.length));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, n.length, true);
  dv.setUint32(4, desc.length, true);
  dv.setUint32(8, type, true);
  out.set(n, 12);
  out.set(desc, 12 + pad(n.length));
  return out;
}
const le = (v: number, bytes: 4 | 8) => {
  const b = new Uint8Array(bytes);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
};

/**
 * A vmlinux-like ELF64: one PT_LOAD linked high (vaddr 0xffffffff81000000, paddr 16 MiB) with a
 * BSS, plus the notes appended after it and described by a PT_NOTE program header or, with
 * `viaSection`, only by an SHT_NOTE section header.
 */
function pvhElf(opts: { entry?: number; descBytes?: 4 | 8; viaSection?: boolean; notes?: Uint8Array } = {}): Uint8Array {
  const text = new Uint8Array(0x2000).map((_, i) => (i * 13) & 0xff);
  const base = makeElf({ bits: 64, entry: -0x7f000000 + 0x850, segments: [{ vaddr: -0x7f000000, paddr: 0x1000000, data: text, memsz: 0x3000 }] });
  const notes = opts.notes ?? new Uint8Array([
    ...note('GNU', 3, new Uint8Array(20)),
    ...note('Xen', 18, le(opts.entry ?? 0x1000850, opts.descBytes ?? 8)),
  ]);
  // Rebuild with room for a second program header (PT_NOTE) and an optional section table.
  const phnum = opts.viaSection ? 1 : 2;
  const dataOff = 64 + 56 * 2;
  const segOff = Number(new DataView(base.buffer).getBigUint64(64 + 8, true));
  const noteOff = dataOff + text.length;
  const shOff = (noteOff + notes.length + 7) & ~7;
  const out = new Uint8Array(shOff + (opts.viaSection ? 2 * 64 : 0));
  out.set(base.subarray(0, 64));
  out.set(base.subarray(64, 64 + 56), 64);
  out.set(text, dataOff);
  out.set(notes, noteOff);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(64 + 8, BigInt(dataOff), true);
  dv.setUint16(56, phnum, true);
  void segOff;
  if (!opts.viaSection) {
    const p = 64 + 56;
    dv.setUint32(p, 4, true); // PT_NOTE
    dv.setBigUint64(p + 8, BigInt(noteOff), true);
    dv.setBigUint64(p + 32, BigInt(notes.length), true);
    dv.setBigUint64(p + 40, BigInt(notes.length), true);
  } else {
    dv.setBigUint64(40, BigInt(shOff), true);
    dv.setUint16(58, 64, true);
    dv.setUint16(60, 2, true);
    const s = shOff + 64; // section 0 stays the null section
    dv.setUint32(s + 4, 7, true); // SHT_NOTE
    dv.setBigUint64(s + 24, BigInt(noteOff), true);
    dv.setBigUint64(s + 32, BigInt(notes.length), true);
  }
  return out;
}

function startInfo(m: PhysMem, info: number) {
  const mods = Array.from({ length: m.read32(info + 12) }, (_, i) => {
    const e = m.read64(info + 16) + i * 32;
    return { paddr: m.read64(e), size: m.read64(e + 8), cmdline: cstr(m, m.read64(e + 16)), reserved: m.read64(e + 24) };
  });
  const memmap = Array.from({ length: m.read32(info + 48) }, (_, i) => {
    const e = m.read64(info + 40) + i * 24;
    return { addr: m.read64(e), size: m.read64(e + 8), type: m.read32(e + 16), reserved: m.read32(e + 20) };
  });
  return {
    magic: m.read32(info), version: m.read32(info + 4), flags: m.read32(info + 8),
    cmdline: cstr(m, m.read64(info + 24)), rsdp: m.read64(info + 32), mods, memmap, reserved: m.read32(info + 52),
  };
}

describe('PVH boot (Xen ELF note 18)', () => {
  it('finds the entry note in PT_NOTE segments and in SHT_NOTE sections, 4- or 8-byte', () => {
    expect(findPvhEntry(pvhElf())).toBe(0x1000850);
    expect(findPvhEntry(pvhElf({ descBytes: 4, entry: 0x1000123 }))).toBe(0x1000123);
    expect(findPvhEntry(pvhElf({ viaSection: true }))).toBe(0x1000850);
    expect(findPvhEntry(pvhElf({ notes: note('Xen', 17, le(1, 4)) }))).toBeNull();
    expect(findPvhEntry(pvhElf({ notes: note('Xeno', 18, le(0x1000850, 4)) }))).toBeNull();
    expect(findPvhEntry(new Uint8Array(16))).toBeNull();
  });

  it('loads PT_LOADs at p_paddr and enters at the note in flat protected mode with EBX = start info', () => {
    const m = newMem();
    const elf = pvhElf();
    const bs = loadKernel(m, elf, { cmdline: 'console=ttyS0' });
    expect(bs.format).toBe('pvh');
    expect(bs.mode).toBe('protected32');
    expect(bs.entry).toBe(0x1000850);
    expect(bs.cr0 & 0x8000_0001).toBe(1);
    expect(bs.cr4).toBe(0);
    expect(bs.efer).toBe(0);
    expect(bs.selectors).toEqual({ cs: 0x08, ds: 0x10 });
    expect(m.read32(bs.gdt.base + 8 + 4) & 0x00c09800).toBe(0x00c09800); // 32-bit code, 4 KiB granular
    expect(m.readBytes(0x1000000, 0x2000)).toEqual(elf.subarray(64 + 112, 64 + 112 + 0x2000));
    expect(m.readBytes(0x1002000, 0x1000).every((b) => b === 0)).toBe(true); // BSS
    const si = startInfo(m, bs.regs.rbx!);
    expect(si).toMatchObject({ magic: 0x336ec578, version: 1, flags: 0, cmdline: 'console=ttyS0', rsdp: 0, mods: [], reserved: 0 });
    expect(si.memmap).toEqual([
      { addr: 0, size: 0x9fc00, type: 1, reserved: 0 },
      { addr: 0x9fc00, size: 0x400, type: 2, reserved: 0 },
      { addr: 0xf0000, size: 0x10000, type: 2, reserved: 0 },
      { addr: 0x100000, size: 63 * MiB, type: 1, reserved: 0 },
    ]);
    expect(bs.regs.rbx! % 8).toBe(0);
  });

  it('passes the initrd as module 0, the RSDP and the reserved ACPI area', () => {
    const m = newMem();
    const initrd = new Uint8Array(0x4321).map((_, i) => (i * 5) & 0xff);
    const bs = loadKernel(m, pvhElf(), { initrd, rsdp: 0xf0010, reserved: [{ base: 0x3ff0000, length: 0x10000, type: 3 }] });
    const si = startInfo(m, bs.regs.rbx!);
    expect(si.rsdp).toBe(0xf0010);
    expect(si.mods).toHaveLength(1);
    const mod = si.mods[0];
    expect(mod).toMatchObject({ size: initrd.length, cmdline: 'initrd', reserved: 0 });
    expect(mod.paddr % 0x1000).toBe(0);
    expect(mod.paddr + mod.size).toBeLessThanOrEqual(0x3ff0000);
    expect(0x3ff0000 - (mod.paddr + mod.size)).toBeLessThan(0x1000);
    expect(m.readBytes(mod.paddr, initrd.length)).toEqual(initrd);
    expect(si.memmap.slice(3)).toEqual([
      { addr: 0x100000, size: 0x3ff0000 - 0x100000, type: 1, reserved: 0 },
      { addr: 0x3ff0000, size: 0x10000, type: 3, reserved: 0 },
    ]);
  });

  it('uses the plain ELF64 convention for an ELF without the note, or when forced', () => {
    const plain = makeElf({ bits: 64, entry: 0x100000, segments: [{ vaddr: 0x100000, data: new Uint8Array(16) }] });
    expect(loadKernel(newMem(), plain).format).toBe('elf64');
    expect(loadKernel(newMem(), pvhElf(), { protocol: 'elf64' }).format).toBe('elf64');
    expect(() => loadKernel(newMem(), plain, { protocol: 'pvh' })).toThrow(/no PVH entry note/);
  });

  it('refuses bad PVH images with one-line UsageErrors', () => {
    const cases: [Uint8Array, RegExp][] = [
      [pvhElf({ entry: 0x2000000 }), /outside the loaded image/],
      [pvhElf({ notes: note('Xen', 18, new Uint8Array(2)) }), /2-byte value/],
    ];
    for (const [img, re] of cases) {
      let err: unknown;
      try { loadKernel(newMem(), img); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(re);
    }
    expect(() => loadKernel(newMem(16), pvhElf())).toThrow(/outside guest RAM/);
    expect(() => loadKernel(newMem(), pvhElf(), { modules: [{ name: 'm', data: new Uint8Array(1) }] })).toThrow(/--initrd/);
  });
});
