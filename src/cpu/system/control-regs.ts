// MOV to/from control and debug registers, CLTS, LMSW/SMSW, EFER (SDM vol. 3 §2.5, §4.1).
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import * as L from '../state-layout.js';
import { CR0_PE, CR0_PG, CR0_WP, CR0_CD, CR0_NW, CR0_TS, CR0_ET, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_PSE, CR4_SMEP, CR4_SMAP, EFER_LME, EFER_LMA, EFER_NXE, EFER_SCE } from '../../mmu/paging.js';
import { FEATURES } from './cpuid.js';

/** CR4 bits we implement; setting any other bit is #GP(0). */
export function cr4Allowed(): number {
  // TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP PCIDE SMEP SMAP (no VME/PVI: no virtual-8086; no FSGSBASE)
  let m = 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800 | 0x20000 | 0x100000 | 0x200000;
  if (FEATURES.xsave) m |= 0x40000;
  if (FEATURES.vmx) m |= 0x2000;
  return m;
}

export function writeCr0(cpu: Cpu, lo: number, hi: number): void {
  const st = cpu.st;
  if (hi !== 0) throw fault(Vec.GP, 0);
  let v = (lo | CR0_ET) >>> 0;
  if ((v & CR0_PG) && !(v & CR0_PE)) throw fault(Vec.GP, 0);
  if ((v & CR0_NW) && !(v & CR0_CD)) throw fault(Vec.GP, 0);
  const old = st.cr0;
  let efer = st.efer;
  if ((v & CR0_PG) && !(old & CR0_PG) && (efer & EFER_LME)) {
    if (!(st.cr4 & CR4_PAE)) throw fault(Vec.GP, 0);
    efer |= EFER_LMA;
  }
  if (!(v & CR0_PG) && (old & CR0_PG) && (efer & EFER_LMA)) {
    if (cpu.is64) throw fault(Vec.GP, 0);
    efer &= ~EFER_LMA;
  }
  v &= 0xe005003f;
  st.cr0 = v;
  st.efer = efer;
  if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) cpu.flushTlb(true);
  cpu.updateMode();
}

export function writeCr3(cpu: Cpu, lo: number, hi: number): void {
  const st = cpu.st;
  if (cpu.inLongMode) {
    // bit 63 with PCIDE: keep this PCID's translations; flushing anyway is always allowed
    const h = hi & 0x7fffffff;
    if (h & ~0xff) throw fault(Vec.GP, 0);
    st.u32[L.CR3 >> 2] = lo >>> 0;
    st.u32[(L.CR3 >> 2) + 1] = h;
  } else {
    st.u32[L.CR3 >> 2] = lo >>> 0;
    st.u32[(L.CR3 >> 2) + 1] = 0;
  }
  cpu.flushTlb(false);
}

export function writeCr4(cpu: Cpu, lo: number, hi: number): void {
  const st = cpu.st;
  if (hi !== 0 || (lo & ~cr4Allowed())) throw fault(Vec.GP, 0);
  const old = st.cr4;
  if (cpu.inLongMode && !(lo & CR4_PAE)) throw fault(Vec.GP, 0);
  if ((lo & CR4_PCIDE) && !(old & CR4_PCIDE) && (!cpu.inLongMode || (st.lo(L.CR3) & 0xfff))) throw fault(Vec.GP, 0);
  st.cr4 = lo >>> 0;
  if ((old ^ lo) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_PCIDE)) cpu.flushTlb(true);
  cpu.updateMode();
}

export function writeEfer(cpu: Cpu, lo: number, hi: number): void {
  const st = cpu.st;
  const allowed = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
  if (hi !== 0 || (lo & ~allowed)) throw fault(Vec.GP, 0);
  const old = st.efer;
  if (((old ^ lo) & EFER_LME) && (st.cr0 & CR0_PG)) throw fault(Vec.GP, 0);
  st.efer = ((lo & ~EFER_LMA) | (old & EFER_LMA)) >>> 0;
  if ((old ^ lo) & EFER_NXE) cpu.flushTlb(true);
  cpu.updateMode();
}

/** MOV CRn, value. */
export function writeCr(cpu: Cpu, n: number, v: bigint): void {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const lo = Number(v & 0xffffffffn), hi = Number(v >> 32n);
  switch (n) {
    case 0: return writeCr0(cpu, lo, hi);
    case 2: cpu.st.set64(L.CR2, v); return;
    case 3: return writeCr3(cpu, lo, hi);
    case 4: return writeCr4(cpu, lo, hi);
    case 8:
      if (v > 15n) throw fault(Vec.GP, 0);
      cpu.st.set64(L.CR8, v);
      cpu.setTpr?.(Number(v) << 4);
      return;
    default: throw fault(Vec.UD);
  }
}

export function readCr(cpu: Cpu, n: number): bigint {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  switch (n) {
    case 0: return BigInt(cpu.st.cr0);
    case 2: return cpu.st.get64(L.CR2);
    case 3: return cpu.st.get64(L.CR3);
    case 4: return BigInt(cpu.st.cr4);
    case 8: return cpu.getTpr ? BigInt(cpu.getTpr() >> 4) : cpu.st.get64(L.CR8);
    default: throw fault(Vec.UD);
  }
}

export function writeDr(cpu: Cpu, n: number, v: bigint): void {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  if ((n === 4 || n === 5) && (cpu.st.cr4 & 8)) throw fault(Vec.UD);
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  if ((n === 6 || n === 7) && cpu.inLongMode && v >> 32n) throw fault(Vec.GP, 0);
  if (n === 6) v = (v & 0xe00fn) | 0xffff0ff0n;
  if (n === 7) v = (v & 0xffff2bffn) | 0x400n;
  cpu.st.set64(L.DR + n * 8, v);
}

export function readDr(cpu: Cpu, n: number): bigint {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  if ((n === 4 || n === 5) && (cpu.st.cr4 & 8)) throw fault(Vec.UD);
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  return cpu.st.get64(L.DR + n * 8);
}

export function clts(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  cpu.st.cr0 = cpu.st.cr0 & ~CR0_TS;
}

export function lmsw(cpu: Cpu, v: number): void {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const old = cpu.st.cr0;
  // PE can be set but not cleared; MP, EM, TS load from the operand
  const nv = (old & ~0xe) | (v & 0xe) | (old & 1) | (v & 1);
  writeCr0(cpu, nv, 0);
}
