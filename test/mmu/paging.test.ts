import { describe, it, expect, beforeEach } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';
import { CpuState } from '../../src/cpu/state.js';
import { PageWalker, ACC_WRITE, ACC_USER, ACC_EXEC, CR0_PG, CR0_PE, CR0_WP, CR4_PAE, CR4_PSE, CR4_SMEP, CR4_SMAP, EFER_LMA, EFER_NXE } from '../../src/mmu/paging.js';
import { CR2, CR3, RFLAGS } from '../../src/cpu/state-layout.js';
import { GuestFault } from '../../src/cpu/exception.js';

const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80;
const NX_HI = 0x80000000 | 0;

function setup() {
  const mem = new PhysMem(16 * 1024 * 1024);
  const st = new CpuState(mem.memory);
  const w = new PageWalker(st, mem);
  return { mem, st, w };
}

function pf(fn: () => unknown): { vector: number; err: number } {
  try { fn(); } catch (e) { if (e instanceof GuestFault) return { vector: e.vector, err: e.errorCode }; throw e; }
  throw new Error('no fault');
}

describe('4-level paging', () => {
  let env: ReturnType<typeof setup>;
  beforeEach(() => {
    env = setup();
    const { mem, st } = env;
    st.cr0 = CR0_PG | CR0_PE | CR0_WP;
    st.cr4 = CR4_PAE;
    st.efer = EFER_LMA | EFER_NXE;
    st.setNum(CR3, 0x1000);
    // PML4[0] -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000
    mem.write64(0x1000, 0x2000 | P | RW | US);
    mem.write64(0x2000, 0x3000 | P | RW | US);
    mem.write64(0x3000, 0x4000 | P | RW | US);
    mem.write64(0x4000 + 5 * 8, 0x9000 | P | US);          // 0x5000: user read-only
    mem.write64(0x4000 + 6 * 8, 0xa000 | P | RW);          // 0x6000: supervisor RW
    mem.write32(0x4000 + 7 * 8, 0xb000 | P | RW | US); mem.write32(0x4000 + 7 * 8 + 4, NX_HI); // 0x7000: NX
    mem.write64(0x3000 + 1 * 8, 0x400000 | P | RW | US | PS); // 0x200000: 2 MiB page -> 4 MiB
  });

  it('translates 4 KiB and 2 MiB pages and sets A/D bits', () => {
    const { mem, w } = env;
    expect(w.translate(0x5123, 0, 0).phys).toBe(0x9123);
    expect(mem.read32(0x4000 + 5 * 8) & A).toBe(A);
    expect(mem.read32(0x1000) & A).toBe(A);
    expect(mem.read32(0x4000 + 5 * 8) & D).toBe(0);
    const t = w.translate(0x2345ab, 0, ACC_WRITE);
    expect(t.phys).toBe(0x4345ab);
    expect(t.pageMask).toBe(0x1fffff);
    expect(mem.read32(0x3000 + 8) & D).toBe(D);
  });

  it('reports not-present faults with CR2 and error code', () => {
    const { st, w } = env;
    const f = pf(() => w.translate(0x8000, 0, ACC_WRITE | ACC_USER));
    expect(f).toEqual({ vector: 14, err: 2 | 4 });
    expect(st.lo(CR2)).toBe(0x8000);
  });

  it('enforces write protection, user/supervisor, NX, WP', () => {
    const { st, w } = env;
    expect(pf(() => w.translate(0x5000, 0, ACC_WRITE | ACC_USER)).err).toBe(1 | 2 | 4);
    expect(pf(() => w.translate(0x5000, 0, ACC_WRITE)).err).toBe(1 | 2); // WP=1
    st.cr0 = st.cr0 & ~CR0_WP;
    expect(w.translate(0x5000, 0, ACC_WRITE).phys).toBe(0x9000);
    expect(pf(() => w.translate(0x6000, 0, ACC_USER)).err).toBe(1 | 4);
    expect(pf(() => w.translate(0x7000, 0, ACC_EXEC)).err).toBe(1 | 0x10);
    expect(w.translate(0x7000, 0, 0).phys).toBe(0xb000);
  });

  it('enforces SMEP and SMAP (with RFLAGS.AC)', () => {
    const { st, w } = env;
    st.cr4 = st.cr4 | CR4_SMEP | CR4_SMAP;
    expect(pf(() => w.translate(0x5000, 0, ACC_EXEC)).err).toBe(1 | 0x10);
    expect(pf(() => w.translate(0x5000, 0, 0)).err).toBe(1);
    st.set32(RFLAGS, 0x40002); // AC
    expect(w.translate(0x5000, 0, 0).phys).toBe(0x9000);
  });

  it('raises #GP for non-canonical addresses and RSVD #PF for reserved bits', () => {
    const { mem, w } = env;
    expect(pf(() => w.translate(0, 0x8000, 0))).toEqual({ vector: 13, err: 0 });
    mem.write32(0x4000 + 9 * 8 + 4, 0x100); // bit 40 set: above MAXPHYADDR
    mem.write32(0x4000 + 9 * 8, 0xc000 | P);
    expect(pf(() => w.translate(0x9000, 0, 0)).err).toBe(1 | 8);
  });
});

describe('legacy paging', () => {
  it('32-bit paging with 4 MiB pages (PSE)', () => {
    const { mem, st, w } = setup();
    st.cr0 = CR0_PG | CR0_PE;
    st.cr4 = CR4_PSE;
    st.setNum(CR3, 0x1000);
    mem.write32(0x1000 + 1 * 4, 0x800000 | P | RW | PS); // 4-8 MiB -> 8 MiB
    mem.write32(0x1000, 0x2000 | P | RW);
    mem.write32(0x2000 + 3 * 4, 0x7000 | P);
    expect(w.translate(0x412345, 0, 0).phys).toBe(0x812345);
    expect(w.translate(0x3abc, 0, 0).phys).toBe(0x7abc);
    expect(pf(() => w.translate(0x3abc, 0, ACC_WRITE | ACC_USER)).err).toBe(1 | 2 | 4);
  });

  it('PAE paging through the PDPT', () => {
    const { mem, st, w } = setup();
    st.cr0 = CR0_PG | CR0_PE;
    st.cr4 = CR4_PAE;
    st.setNum(CR3, 0x1000);
    mem.write64(0x1000 + 8, 0x2000 | P); // PDPTE[1]: 1-2 GiB
    mem.write64(0x2000, 0x3000 | P | RW);
    mem.write64(0x3000 + 8, 0x5000 | P | RW);
    expect(w.translate(0x40001abc, 0, ACC_WRITE).phys).toBe(0x5abc);
    expect(pf(() => w.translate(0x1abc, 0, 0)).err).toBe(0);
  });
});
