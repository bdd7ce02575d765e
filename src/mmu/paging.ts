import type { PhysMem } from './physmem.js';
import type { CpuState } from '../cpu/state.js';
import { CR2, CR3, RFLAGS } from '../cpu/state-layout.js';
import { fault, Vec, GuestFault } from '../cpu/exception.js';

export const ACC_WRITE = 1;
/** A CPL-3 access (not an implicit supervisor access by a descriptor-table read). */
export const ACC_USER = 2;
export const ACC_EXEC = 4;
/** Implicit supervisor access (GDT/IDT/TSS): SMAP applies regardless of RFLAGS.AC. */
export const ACC_IMPLICIT = 8;
/** A look, not an access: no Accessed/Dirty updates (see PageWalker.probe). */
const ACC_PROBE = 16;

export const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 0x10, CR0_NE = 0x20, CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 0x80000000;
export const CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 0x10, CR4_PAE = 0x20, CR4_MCE = 0x40, CR4_PGE = 0x80, CR4_PCE = 0x100, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400, CR4_UMIP = 0x800, CR4_VMXE = 0x2000, CR4_FSGSBASE = 0x10000, CR4_PCIDE = 0x20000, CR4_OSXSAVE = 0x40000, CR4_SMEP = 0x100000, CR4_SMAP = 0x200000;
export const EFER_SCE = 1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

/** Physical address width we implement (CPUID 0x80000008). Bits above it in paging entries are reserved. */
export const MAXPHYADDR = 40;
const HI_RSVD = ((1 << (52 - 32)) - 1) & ~((1 << (MAXPHYADDR - 32)) - 1); // entry bits 40-51, in the high word

const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

/** Result of a successful translation. */
export interface Translation {
  /** Physical address of the accessed byte. */
  phys: number;
  /** Effective permissions of the mapping: user-accessible, writable (RW at every level), dirty. */
  user: boolean;
  writable: boolean;
  dirty: boolean;
  global: boolean;
  /** Page size mask - 1 (0xfff, 0x1fffff, 0x3fffff, 0x3fffffff). */
  pageMask: number;
}

/** Whether a 48-bit linear address whose high 32 bits are `hi` is canonical (bits 63..47 equal). */
export function canonicalHi(hi: number): boolean {
  const top = hi >> 15;
  return top === 0 || top === -1;
}

/**
 * The page walker: 32-bit, PAE and 4-level paging with large pages, A/D bits, NX, WP, SMEP/SMAP.
 * Linear addresses arrive as (lo, hi) 32-bit halves so that no BigInt is needed.
 */
export class PageWalker {
  private readonly out: Translation = { phys: 0, user: true, writable: true, dirty: true, global: false, pageMask: 0xfff };
  /** Physical addresses of the entries a walk visited (to set their Accessed bits once it succeeds). */
  private readonly ents = new Float64Array(4);

  constructor(private readonly st: CpuState, private readonly mem: PhysMem) {}

  private pf(lo: number, hi: number, err: number): never {
    this.st.u32[CR2 >> 2] = lo >>> 0;
    this.st.u32[(CR2 >> 2) + 1] = hi >>> 0;
    throw fault(Vec.PF, err);
  }

  /**
   * How the linear address would translate for access `acc`, without touching the guest's page
   * tables or CR2: null where the access would fault. (The code cache checks its mappings with it.)
   */
  probe(lo: number, hi: number, acc: number): Translation | null {
    const cr2Lo = this.st.u32[CR2 >> 2], cr2Hi = this.st.u32[(CR2 >> 2) + 1];
    try {
      return this.translate(lo, hi, acc | ACC_PROBE);
    } catch (e) {
      if (e instanceof GuestFault) return null;
      throw e;
    } finally {
      this.st.u32[CR2 >> 2] = cr2Lo;
      this.st.u32[(CR2 >> 2) + 1] = cr2Hi;
    }
  }

  /**
   * Translate a linear address for an access. Returns a shared Translation object (valid until the
   * next call). Throws #PF (with CR2 set) or #GP for non-canonical addresses in long mode.
   */
  translate(lo: number, hi: number, acc: number): Translation {
    const st = this.st;
    const cr0 = st.cr0;
    const o = this.out;
    if (!(cr0 & CR0_PG)) {
      o.phys = lo >>> 0; o.user = true; o.writable = true; o.dirty = true; o.global = false; o.pageMask = 0xfff;
      return o;
    }
    const cr4 = st.cr4;
    const efer = st.efer;
    const nxe = (efer & EFER_NXE) !== 0;
    const write = (acc & ACC_WRITE) !== 0;
    const user = (acc & ACC_USER) !== 0;
    const exec = (acc & ACC_EXEC) !== 0;
    const errBase = (write ? 2 : 0) | (user ? 4 : 0) | (exec && (nxe || cr4 & CR4_SMEP) ? 0x10 : 0);
    const mem = this.mem;
    // entries visited, to set Accessed bits only once the walk succeeds
    let nEnts = 0;
    let allUser = true, allWrite = true, anyNx = false, global = false;
    let phys = 0, pageMask = 0xfff;
    let leafAddr = 0, leafLo = 0;

    if (efer & 0x400 /* LMA */) {
      if (!canonicalHi(hi)) throw fault(Vec.GP, 0);
      // (the hot path of every TLB miss: no allocation, RAM reads straight from the typed array)
      const ents = this.ents;
      let table = (st.num(CR3) - (st.num(CR3) % 4096)) % 2 ** MAXPHYADDR;
      for (let l = 0; l < 4; l++) {
        const i = l === 0 ? (hi >>> 7) & 0x1ff : l === 1 ? (((hi & 0x7f) << 2) | (lo >>> 30)) & 0x1ff : l === 2 ? (lo >>> 21) & 0x1ff : (lo >>> 12) & 0x1ff;
        const a = table + i * 8;
        const eLo = mem.readTable32(a), eHi = mem.readTable32(a + 4);
        if (!(eLo & PTE_P)) this.pf(lo, hi, errBase);
        if ((eHi & HI_RSVD) !== 0 || (!nxe && (eHi & 0x80000000) !== 0) || (l === 0 && (eLo & PTE_PS))) this.pf(lo, hi, errBase | 1 | 8);
        if (!(eLo & PTE_US)) allUser = false;
        if (!(eLo & PTE_RW)) allWrite = false;
        if (eHi & 0x80000000) anyNx = true;
        ents[nEnts++] = a;
        const baseHi = eHi & ((1 << (MAXPHYADDR - 32)) - 1);
        if (l === 1 && (eLo & PTE_PS)) {
          if (eLo & 0x3fffe000) this.pf(lo, hi, errBase | 1 | 8);
          pageMask = 0x3fffffff;
          phys = baseHi * 0x1_0000_0000 + ((eLo & 0xc0000000) >>> 0) + (lo & pageMask);
          leafAddr = a; leafLo = eLo; global = (eLo & PTE_G) !== 0;
          break;
        }
        if (l === 2 && (eLo & PTE_PS)) {
          if (eLo & 0x1fe000) this.pf(lo, hi, errBase | 1 | 8);
          pageMask = 0x1fffff;
          phys = baseHi * 0x1_0000_0000 + ((eLo & 0xffe00000) >>> 0) + (lo & pageMask);
          leafAddr = a; leafLo = eLo; global = (eLo & PTE_G) !== 0;
          break;
        }
        if (l === 3) {
          phys = baseHi * 0x1_0000_0000 + ((eLo & 0xfffff000) >>> 0) + (lo & 0xfff);
          leafAddr = a; leafLo = eLo; global = (eLo & PTE_G) !== 0;
          break;
        }
        table = baseHi * 0x1_0000_0000 + ((eLo & 0xfffff000) >>> 0);
      }
    } else if (cr4 & CR4_PAE) {
      const check = (eLo: number, eHi: number, level: 'pd' | 'pt' | 'pdpte32'): void => {
        if (!(eLo & PTE_P)) this.pf(lo, hi, errBase);
        let rsvd = (eHi & HI_RSVD) !== 0 || (!nxe && (eHi & 0x80000000) !== 0);
        if (level === 'pdpte32' && (eLo & 0x1e6) !== 0) rsvd = true;
        if (rsvd) this.pf(lo, hi, errBase | 1 | 8);
        if (level !== 'pdpte32') {
          if (!(eLo & PTE_US)) allUser = false;
          if (!(eLo & PTE_RW)) allWrite = false;
        }
        if (eHi & 0x80000000) anyNx = true;
      };
      const cr3 = st.lo(CR3) & 0xffffffe0;
      const pa = cr3 + (lo >>> 30) * 8;
      const pLo = mem.read32(pa), pHi = mem.read32(pa + 4);
      check(pLo, pHi & 0x7fffffff, 'pdpte32');
      let table = (pHi & 0xff) * 0x1_0000_0000 + ((pLo & 0xfffff000) >>> 0);
      const idx = [(lo >>> 21) & 0x1ff, (lo >>> 12) & 0x1ff];
      for (let l = 0; l < 2; l++) {
        const a = table + idx[l] * 8;
        const eLo = mem.read32(a), eHi = mem.read32(a + 4);
        check(eLo, eHi, l === 0 ? 'pd' : 'pt');
        this.ents[nEnts++] = a;
        const baseHi = eHi & ((1 << (MAXPHYADDR - 32)) - 1);
        if (l === 0 && (eLo & PTE_PS)) {
          if (eLo & 0x1fe000) this.pf(lo, hi, errBase | 1 | 8);
          pageMask = 0x1fffff;
          phys = baseHi * 0x1_0000_0000 + ((eLo & 0xffe00000) >>> 0) + (lo & pageMask);
          leafAddr = a; leafLo = eLo; global = (eLo & PTE_G) !== 0;
          break;
        }
        if (l === 1) {
          phys = baseHi * 0x1_0000_0000 + ((eLo & 0xfffff000) >>> 0) + (lo & 0xfff);
          leafAddr = a; leafLo = eLo; global = (eLo & PTE_G) !== 0;
          break;
        }
        table = baseHi * 0x1_0000_0000 + ((eLo & 0xfffff000) >>> 0);
      }
    } else {
      const cr3 = st.lo(CR3) & 0xfffff000;
      const pdeA = (cr3 + (lo >>> 22) * 4) >>> 0;
      const pde = mem.read32(pdeA);
      if (!(pde & PTE_P)) this.pf(lo, hi, errBase);
      if (!(pde & PTE_US)) allUser = false;
      if (!(pde & PTE_RW)) allWrite = false;
      this.ents[nEnts++] = pdeA;
      if ((pde & PTE_PS) && (cr4 & CR4_PSE)) {
        if (pde & 0x200000) this.pf(lo, hi, errBase | 1 | 8);
        pageMask = 0x3fffff;
        phys = ((pde >>> 13) & 0xff) * 0x1_0000_0000 + ((pde & 0xffc00000) >>> 0) + (lo & pageMask);
        leafAddr = pdeA; leafLo = pde; global = (pde & PTE_G) !== 0;
      } else {
        const pteA = ((pde & 0xfffff000) + ((lo >>> 12) & 0x3ff) * 4) >>> 0;
        const pte = mem.read32(pteA);
        if (!(pte & PTE_P)) this.pf(lo, hi, errBase);
        if (!(pte & PTE_US)) allUser = false;
        if (!(pte & PTE_RW)) allWrite = false;
        this.ents[nEnts++] = pteA;
        phys = ((pte & 0xfffff000) >>> 0) + (lo & 0xfff);
        leafAddr = pteA; leafLo = pte; global = (pte & PTE_G) !== 0;
      }
    }
    if (!(cr4 & CR4_PGE)) global = false;

    // Permission checks (SDM vol. 3 §4.6).
    if (user) {
      if (!allUser) this.pf(lo, hi, errBase | 1);
      if (write && !allWrite) this.pf(lo, hi, errBase | 1);
    } else {
      if (write && !allWrite && (cr0 & CR0_WP)) this.pf(lo, hi, errBase | 1);
      if (allUser) {
        if (exec && (cr4 & CR4_SMEP)) this.pf(lo, hi, errBase | 1);
        if (!exec && (cr4 & CR4_SMAP) && ((acc & ACC_IMPLICIT) || !(st.u32[RFLAGS >> 2] & (1 << 18)))) this.pf(lo, hi, errBase | 1);
      }
    }
    if (exec && anyNx && nxe) this.pf(lo, hi, errBase | 1);

    if (acc & ACC_PROBE) {
      o.phys = phys; o.user = allUser; o.writable = allWrite || (!user && !(cr0 & CR0_WP)); o.dirty = (leafLo & PTE_D) !== 0; o.global = global; o.pageMask = pageMask;
      return o;
    }
    // Accessed bits on every level, Dirty on the leaf for writes.
    for (let k = 0; k < nEnts; k++) {
      const a = this.ents[k];
      const v = mem.readTable32(a);
      if (!(v & PTE_A)) mem.write32(a, v | PTE_A);
    }
    let dirty = (leafLo & PTE_D) !== 0;
    if (write && !dirty) {
      mem.write32(leafAddr, mem.read32(leafAddr) | PTE_D | PTE_A);
      dirty = true;
    }
    o.phys = phys; o.user = allUser; o.writable = allWrite || (!user && !(cr0 & CR0_WP)); o.dirty = dirty; o.global = global; o.pageMask = pageMask;
    return o;
  }
}
