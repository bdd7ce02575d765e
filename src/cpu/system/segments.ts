// Descriptor tables and segment register loads (SDM vol. 3 ch. 3 and 5).
import type { Cpu } from '../cpu.js';
import { ATTR_P, ATTR_S, ATTR_L, ATTR_DB, ATTR_G, ATTR_UNUSABLE } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import { Seg, GDTR_BASE, GDTR_LIMIT } from '../state-layout.js';
import { MODE_VM86 } from '../mode.js';

export interface Descriptor {
  lo: number;
  hi: number;
  /** For 16-byte system descriptors in long mode: bits 32-63 of the base. */
  baseHigh: number;
}

export function descBase(d: Descriptor): bigint {
  const b = ((d.lo >>> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000)) >>> 0;
  return BigInt(b) | (BigInt(d.baseHigh >>> 0) << 32n);
}

export function descLimit(d: Descriptor): number {
  let l = (d.lo & 0xffff) | (d.hi & 0xf0000);
  if (d.hi & (1 << 23)) l = ((l << 12) | 0xfff) >>> 0;
  return l >>> 0;
}

/** Our SEG_ATTR format (VMX access-rights layout): access byte, AVL, L, D/B, G. */
export function descAttr(d: Descriptor): number {
  return ((d.hi >>> 8) & 0xff) | (((d.hi >>> 20) & 0xf) << 12);
}

export const dpl = (attr: number): number => (attr >> 5) & 3;

/** Read the 8-byte descriptor for `sel` from the GDT or LDT; throws `vec`(sel & ~3) past the limit. */
export function readDescriptor(cpu: Cpu, sel: number, vec: number = Vec.GP, wide = false): Descriptor {
  const st = cpu.st;
  const ti = (sel & 4) !== 0;
  let base: bigint, limit: number;
  if (ti) {
    if (st.segAttr(Seg.LDTR) & ATTR_UNUSABLE) throw fault(vec, sel & 0xfffc);
    base = st.segBase(Seg.LDTR);
    limit = st.segLimit(Seg.LDTR);
  } else {
    base = st.get64(GDTR_BASE);
    limit = st.get32(GDTR_LIMIT);
  }
  const idx = sel & 0xfff8;
  if (idx + (wide ? 15 : 7) > limit) throw fault(vec, sel & 0xfffc);
  const lo = Number(cpu.readLin(base + BigInt(idx), 4, true));
  const hi = Number(cpu.readLin(base + BigInt(idx + 4), 4, true));
  const baseHigh = wide ? Number(cpu.readLin(base + BigInt(idx + 8), 4, true)) : 0;
  return { lo, hi, baseHigh };
}

/** Set the Accessed bit of a code/data descriptor in memory (if not set). */
export function markAccessed(cpu: Cpu, sel: number, d: Descriptor): void {
  if (d.hi & 0x100) return;
  const st = cpu.st;
  const base = sel & 4 ? st.segBase(Seg.LDTR) : st.get64(GDTR_BASE);
  d.hi |= 0x100;
  cpu.writeLin(base + BigInt((sel & 0xfff8) + 5), 1, BigInt((d.hi >>> 8) & 0xff), true);
}

/** Load a segment register in real or virtual-8086 mode: base = sel * 16, attributes kept/normalized. */
export function loadRealSeg(cpu: Cpu, seg: number, sel: number): void {
  const st = cpu.st;
  const vm86 = (st.mode & MODE_VM86) !== 0;
  let attr = st.segAttr(seg) & ~ATTR_UNUSABLE;
  let limit = st.segLimit(seg);
  if (vm86) { attr = 0xf3; limit = 0xffff; }
  if (seg === Seg.CS && !vm86) attr = (attr & ~0xff) | 0x9b;
  attr |= ATTR_P | ATTR_S;
  st.setSeg(seg, sel, BigInt((sel & 0xffff) << 4), limit, attr);
}

/**
 * MOV/POP/LDS… into a data segment register or SS, in protected mode (SDM MOV: the checks that
 * raise #GP/#SS/#NP with the selector as error code).
 */
export function loadDataSeg(cpu: Cpu, seg: number, sel: number): void {
  const st = cpu.st;
  if (!cpu.protectedMode || st.mode & MODE_VM86) { loadRealSeg(cpu, seg, sel); return; }
  const cpl = cpu.cpl;
  if ((sel & 0xfffc) === 0) {
    // null selector: SS may hold one only in 64-bit mode at CPL < 3
    if (seg === Seg.SS && !(cpu.is64 && cpl !== 3 && (sel & 3) === cpl)) throw fault(Vec.GP, 0);
    st.setSeg(seg, sel, 0n, 0, ATTR_UNUSABLE | (seg === Seg.SS ? (cpl << 5) | 0x13 : 0));
    return;
  }
  const d = readDescriptor(cpu, sel);
  const attr = descAttr(d);
  const type = attr & 0xf;
  const rpl = sel & 3;
  if (seg === Seg.SS) {
    if (rpl !== cpl || !(attr & ATTR_S) || (type & 8) || !(type & 2) || dpl(attr) !== cpl) throw fault(Vec.GP, sel & 0xfffc);
    if (!(attr & ATTR_P)) throw fault(Vec.SS, sel & 0xfffc);
  } else {
    if (!(attr & ATTR_S) || ((type & 8) && !(type & 2))) throw fault(Vec.GP, sel & 0xfffc);
    // data or non-conforming code: DPL >= max(CPL, RPL)
    if (!((type & 8) && (type & 4)) && (dpl(attr) < cpl || dpl(attr) < rpl)) throw fault(Vec.GP, sel & 0xfffc);
    if (!(attr & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  }
  markAccessed(cpu, sel, d);
  st.setSeg(seg, sel, descBase(d), descLimit(d), descAttr(d));
}

/** Load CS from a code descriptor already validated by the caller (far transfer, gate, IRET). */
export function setCs(cpu: Cpu, sel: number, d: Descriptor, cpl: number): void {
  markAccessed(cpu, sel, d);
  cpu.st.setSeg(Seg.CS, (sel & 0xfffc) | cpl, descBase(d), descLimit(d), descAttr(d));
}

/** Flat segment values used by SYSCALL/SYSENTER and the loaders. */
export function setFlatSeg(cpu: Cpu, seg: number, sel: number, code: boolean, dplv: number, long: boolean): void {
  const attr = (code ? 0x9b : 0x93) | (dplv << 5) | ATTR_G | (long ? ATTR_L : ATTR_DB);
  cpu.st.setSeg(seg, sel, 0n, 0xffffffff, attr);
}

