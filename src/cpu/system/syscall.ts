// SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS (SDM vol. 2).
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import * as L from '../state-layout.js';
import { Seg } from '../state-layout.js';
import { setFlatSeg } from './segments.js';
import { EFER_SCE } from '../../mmu/paging.js';
import { RF, IF, VM } from '../flags.js';

export function syscall(cpu: Cpu, next: bigint): void {
  const st = cpu.st;
  if (!(st.efer & EFER_SCE)) throw fault(Vec.UD);
  const star = st.get64(L.STAR);
  const sel = Number((star >> 32n) & 0xffffn);
  const fl = cpu.getRflags();
  if (cpu.inLongMode) {
    st.setGpr(1, next);
    st.setGpr(11, BigInt(fl & ~RF));
    cpu.setRflags(fl & ~Number(st.get64(L.FMASK) & 0xffffffffn) & ~RF);
    setFlatSeg(cpu, Seg.CS, sel & 0xfffc, true, 0, true);
    setFlatSeg(cpu, Seg.SS, (sel + 8) & 0xfffc, false, 0, false);
    cpu.updateMode();
    return;
  }
  st.setGpr32(1, Number(next & 0xffffffffn));
  cpu.setRflags(fl & ~(VM | IF | RF));
  setFlatSeg(cpu, Seg.CS, sel & 0xfffc, true, 0, false);
  setFlatSeg(cpu, Seg.SS, (sel + 8) & 0xfffc, false, 0, false);
  st.rip = star & 0xffffffffn;
  cpu.updateMode();
}

/** SYSCALL's target depends on the mode it was executed in: capture before switching. */
export function syscallFrom(cpu: Cpu, next: bigint): void {
  const st = cpu.st;
  const from64 = cpu.is64;
  syscall(cpu, next);
  if (cpu.inLongMode) st.rip = from64 ? st.get64(L.LSTAR) : st.get64(L.CSTAR);
}

export function sysret(cpu: Cpu, rexW: boolean): void {
  const st = cpu.st;
  if (!(st.efer & EFER_SCE)) throw fault(Vec.UD);
  if (cpu.cpl !== 0 || !cpu.protectedMode) throw fault(Vec.GP, 0);
  const star = st.get64(L.STAR);
  const base = Number((star >> 48n) & 0xffffn);
  if (cpu.inLongMode) {
    if (rexW) {
      const rcx = st.gpr(1);
      const top = BigInt.asIntN(64, rcx) >> 47n;
      if (top !== 0n && top !== -1n) throw fault(Vec.GP, 0);
      setFlatSeg(cpu, Seg.CS, ((base + 16) & 0xfffc) | 3, true, 3, true);
      st.rip = rcx;
    } else {
      setFlatSeg(cpu, Seg.CS, (base & 0xfffc) | 3, true, 3, false);
      st.rip = st.gpr(1) & 0xffffffffn;
    }
    cpu.setRflags((Number(st.gpr(11) & 0xffffffffn) & 0x3c7fd7) | 2);
  } else {
    setFlatSeg(cpu, Seg.CS, (base & 0xfffc) | 3, true, 3, false);
    st.rip = st.gpr(1) & 0xffffffffn;
    cpu.setRflags(cpu.getRflags() | IF);
  }
  // SS selector from STAR, with cached attributes of a flat DPL-3 data segment
  setFlatSeg(cpu, Seg.SS, ((base + 8) & 0xfffc) | 3, false, 3, false);
  cpu.updateMode();
}

export function sysenter(cpu: Cpu): void {
  const st = cpu.st;
  if (!cpu.protectedMode) throw fault(Vec.GP, 0);
  const cs = Number(st.get64(L.SYSENTER_CS) & 0xffffn);
  if ((cs & 0xfffc) === 0) throw fault(Vec.GP, 0);
  cpu.setRflags(cpu.getRflags() & ~(VM | IF | RF));
  const long = cpu.inLongMode;
  setFlatSeg(cpu, Seg.CS, cs & 0xfffc, true, 0, long);
  setFlatSeg(cpu, Seg.SS, (cs + 8) & 0xfffc, false, 0, false);
  st.rip = long ? st.get64(L.SYSENTER_EIP) : st.get64(L.SYSENTER_EIP) & 0xffffffffn;
  st.setGpr(4, long ? st.get64(L.SYSENTER_ESP) : st.get64(L.SYSENTER_ESP) & 0xffffffffn);
  cpu.updateMode();
}

export function sysexit(cpu: Cpu, rexW: boolean): void {
  const st = cpu.st;
  const cs = Number(st.get64(L.SYSENTER_CS) & 0xffffn);
  if (!cpu.protectedMode || cpu.cpl !== 0 || (cs & 0xfffc) === 0) throw fault(Vec.GP, 0);
  if (rexW) {
    setFlatSeg(cpu, Seg.CS, ((cs + 32) & 0xfffc) | 3, true, 3, true);
    setFlatSeg(cpu, Seg.SS, ((cs + 40) & 0xfffc) | 3, false, 3, false);
    st.rip = st.gpr(2);
    st.setGpr(4, st.gpr(1));
  } else {
    setFlatSeg(cpu, Seg.CS, ((cs + 16) & 0xfffc) | 3, true, 3, false);
    setFlatSeg(cpu, Seg.SS, ((cs + 24) & 0xfffc) | 3, false, 3, false);
    st.rip = st.gpr(2) & 0xffffffffn;
    st.setGpr(4, st.gpr(1) & 0xffffffffn);
  }
  cpu.updateMode();
}

export function swapgs(cpu: Cpu): void {
  const st = cpu.st;
  if (!cpu.is64) throw fault(Vec.UD);
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const k = st.get64(L.KERNEL_GS_BASE);
  st.set64(L.KERNEL_GS_BASE, st.segBase(Seg.GS));
  st.setSeg(Seg.GS, st.segSel(Seg.GS), k, st.segLimit(Seg.GS), st.segAttr(Seg.GS));
}
