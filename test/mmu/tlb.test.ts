import { describe, it, expect } from 'vitest';
import { Tlb } from '../../src/mmu/tlb.js';
import { TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE, RAM_BASE } from '../../src/mmu/layout.js';

function setup() {
  const memory = new WebAssembly.Memory({ initial: 32 });
  const tlb = new Tlb(memory);
  const u32 = new Uint32Array(memory.buffer, TLB_BASE, (2 * TLB_ENTRIES * TLB_ENTRY_SIZE) / 4);
  const entry = (bank: number, lo: number) => {
    const w = (bank * TLB_ENTRIES + ((lo >>> 12) & (TLB_ENTRIES - 1))) * (TLB_ENTRY_SIZE / 4);
    return { tagLo: u32[w], tagHi: u32[w + 1], wLo: u32[w + 2], addLo: u32[w + 4] };
  };
  return { tlb, entry };
}

describe('software TLB', () => {
  it('fills read/write tags and the addend', () => {
    const { tlb, entry } = setup();
    tlb.fill(0, 0x12345678, 0xffff8000, 0x5000, true, false, 0xfff);
    const e = entry(0, 0x12345678);
    expect(e.tagLo).toBe(0x12345000);
    expect(e.tagHi).toBe(0xffff8000);
    expect(e.wLo).toBe(0x12345000);
    expect((e.addLo + 0x12345000) >>> 0).toBe(RAM_BASE + 0x5000);
    tlb.fill(1, 0x7000, 0, 0x9000, false, false, 0xfff);
    expect(entry(1, 0x7000).wLo).toBe(0xffffffff);
  });

  it('a CR3 flush keeps global entries, a full flush drops them', () => {
    const { tlb, entry } = setup();
    tlb.fill(0, 0x1000, 0, 0x1000, true, true, 0xfff);
    tlb.fill(0, 0x2000, 0, 0x2000, true, false, 0xfff);
    tlb.flushAll(false);
    expect(entry(0, 0x1000).tagLo).toBe(0x1000);
    expect(entry(0, 0x2000).tagLo).toBe(0xffffffff);
    tlb.flushAll(true);
    expect(entry(0, 0x1000).tagLo).toBe(0xffffffff);
  });

  it('INVLPG drops the page and every entry filled from a large page around it', () => {
    const { tlb, entry } = setup();
    tlb.fill(0, 0x200000, 0, 0x400000, true, true, 0x1fffff);
    tlb.fill(0, 0x3ff000, 0, 0x5ff000, true, true, 0x1fffff);
    tlb.fill(0, 0x400000, 0, 0x800000, true, false, 0xfff);
    tlb.flushPage(0x234000, 0);
    expect(entry(0, 0x200000).tagLo).toBe(0xffffffff);
    expect(entry(0, 0x3ff000).tagLo).toBe(0xffffffff);
    expect(entry(0, 0x400000).tagLo).toBe(0x400000);
  });
});
