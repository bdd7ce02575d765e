// LGDT/LIDT/SGDT/SIDT, LLDT/SLDT, LTR/STR, LAR/LSL/VERR/VERW, ARPL (SDM vol. 2).
import type { Cpu } from '../cpu.js';
import { ATTR_P, ATTR_S, ATTR_UNUSABLE } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import * as L from '../state-layout.js';
import { Seg } from '../state-layout.js';
import { readDescriptor, descAttr, descBase, descLimit, dpl } from './segments.js';
import { CR4_UMIP } from '../../mmu/paging.js';

function umipCheck(cpu: Cpu): void {
  if ((cpu.st.cr4 & CR4_UMIP) && cpu.cpl > 0) throw fault(Vec.GP, 0);
}

/** LGDT/LIDT: 2-byte limit + base (3, 4 or 8 bytes by mode/operand size). */
export function loadDtr(cpu: Cpu, which: 'gdt' | 'idt', lin: bigint, opSize: number): void {
  if (cpu.protectedMode && cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const limit = Number(cpu.readLin(lin, 2));
  let base = cpu.readLin(lin + 2n, cpu.is64 ? 8 : 4);
  if (!cpu.is64 && opSize === 2) base &= 0xffffffn;
  if (cpu.is64) {
    const top = BigInt.asIntN(64, base) >> 47n;
    if (top !== 0n && top !== -1n) throw fault(Vec.GP, 0);
  }
  const st = cpu.st;
  st.set64(which === 'gdt' ? L.GDTR_BASE : L.IDTR_BASE, base);
  st.set32(which === 'gdt' ? L.GDTR_LIMIT : L.IDTR_LIMIT, limit);
}

export function storeDtr(cpu: Cpu, which: 'gdt' | 'idt', lin: bigint): void {
  umipCheck(cpu);
  const st = cpu.st;
  cpu.writeLin(lin, 2, BigInt(st.get32(which === 'gdt' ? L.GDTR_LIMIT : L.IDTR_LIMIT)));
  const base = st.get64(which === 'gdt' ? L.GDTR_BASE : L.IDTR_BASE);
  cpu.writeLin(lin + 2n, cpu.is64 ? 8 : 4, cpu.is64 ? base : base & 0xffffffffn);
}

export function lldt(cpu: Cpu, sel: number): void {
  if (!cpu.protectedMode || cpu.st.mode & 8) throw fault(Vec.UD);
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const st = cpu.st;
  if ((sel & 0xfffc) === 0) { st.setSeg(Seg.LDTR, sel, 0n, 0, ATTR_UNUSABLE); return; }
  if (sel & 4) throw fault(Vec.GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel, Vec.GP, cpu.inLongMode);
  const a = descAttr(d);
  if ((a & ATTR_S) || (a & 0xf) !== 2) throw fault(Vec.GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  st.setSeg(Seg.LDTR, sel, descBase(d), descLimit(d), a);
}

export function ltr(cpu: Cpu, sel: number): void {
  if (!cpu.protectedMode || cpu.st.mode & 8) throw fault(Vec.UD);
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  if ((sel & 0xfffc) === 0 || (sel & 4)) throw fault(Vec.GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel, Vec.GP, cpu.inLongMode);
  const a = descAttr(d);
  const type = a & 0xf;
  if ((a & ATTR_S) || !(type === 9 || (type === 1 && !cpu.inLongMode))) throw fault(Vec.GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  // mark busy in the GDT
  const gdt = cpu.st.get64(L.GDTR_BASE);
  cpu.writeLin(gdt + BigInt((sel & 0xfff8) + 5), 1, BigInt(((d.hi >>> 8) & 0xff) | 2), true);
  cpu.st.setSeg(Seg.TR, sel, descBase(d), descLimit(d), a | 2);
}

export function sldtStr(cpu: Cpu, which: 'ldtr' | 'tr'): number {
  if (!cpu.protectedMode || cpu.st.mode & 8) throw fault(Vec.UD);
  umipCheck(cpu);
  return cpu.st.segSel(which === 'ldtr' ? Seg.LDTR : Seg.TR);
}

export function smsw(cpu: Cpu): number {
  umipCheck(cpu);
  return cpu.st.cr0 & 0xffff;
}

/** LAR/LSL/VERR/VERW: returns null (ZF=0) when the selector is not accessible, else the value. */
export function segInfo(cpu: Cpu, sel: number, what: 'lar' | 'lsl' | 'verr' | 'verw'): number | null {
  if (!cpu.protectedMode || cpu.st.mode & 8) throw fault(Vec.UD);
  if ((sel & 0xfffc) === 0) return null;
  let d;
  try { d = readDescriptor(cpu, sel, Vec.GP); } catch { return null; }
  const a = descAttr(d);
  const type = a & 0xf;
  const conformingCode = (a & ATTR_S) && (type & 0xc) === 0xc;
  if (!conformingCode && (dpl(a) < cpu.cpl || dpl(a) < (sel & 3))) return null;
  if (what === 'verr') return (a & ATTR_S) && (!(type & 8) || (type & 2)) ? 1 : null;
  if (what === 'verw') return (a & ATTR_S) && !(type & 8) && (type & 2) ? 1 : null;
  if (!(a & ATTR_S)) {
    const ok = what === 'lar' ? [1, 2, 3, 4, 5, 9, 0xb, 0xc].includes(type) : [1, 2, 3, 9, 0xb].includes(type);
    if (!ok || (cpu.inLongMode && ![2, 9, 0xb, 0xc].includes(type))) return null;
  }
  return what === 'lar' ? (d.hi & 0x00f0ff00) >>> 0 : descLimit(d);
}

