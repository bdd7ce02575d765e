// Far JMP/CALL/RET, with call gates (SDM vol. 2 JMP/CALL/RET, vol. 3 §5.8). Task switches are not implemented.
import type { Cpu } from '../cpu.js';
import { ATTR_P, ATTR_S, ATTR_L, ATTR_UNUSABLE } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import { Seg } from '../state-layout.js';
import { readDescriptor, descAttr, descBase, descLimit, dpl, setCs, loadRealSeg, loadDataSeg, markAccessed, type Descriptor } from './segments.js';
import { nullifyDataSegs } from './interrupts.js';
import { MODE_VM86 } from '../mode.js';

function spMask(cpu: Cpu): bigint {
  return cpu.is64 ? 0xffffffffffffffffn : cpu.st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
}

function stackLin(cpu: Cpu, sp: bigint): bigint {
  return cpu.is64 ? sp : (cpu.st.segBase(Seg.SS) + sp) & 0xffffffffn;
}

function setSp(cpu: Cpu, v: bigint, mask: bigint): void {
  const st = cpu.st;
  st.setGpr(4, mask === 0xffffn ? (st.gpr(4) & ~0xffffn) | (v & 0xffffn) : v & mask);
}

function checkCodeTarget(cpu: Cpu, sel: number, d: Descriptor): void {
  const a = descAttr(d);
  const cpl = cpu.cpl;
  if (!(a & ATTR_S) || !(a & 8)) throw fault(Vec.GP, sel & 0xfffc);
  if (a & 4) { if (dpl(a) > cpl) throw fault(Vec.GP, sel & 0xfffc); }
  else if ((sel & 3) > cpl || dpl(a) !== cpl) throw fault(Vec.GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  if (cpu.inLongMode && (a & ATTR_L) && (a & (1 << 14))) throw fault(Vec.GP, sel & 0xfffc);
}

function checkTargetIp(cpu: Cpu, d: Descriptor, ip: bigint): void {
  const a = descAttr(d);
  if (cpu.inLongMode && (a & ATTR_L)) {
    const top = BigInt.asIntN(64, ip) >> 47n;
    if (top !== 0n && top !== -1n) throw fault(Vec.GP, 0);
  } else if (ip > BigInt(descLimit(d))) throw fault(Vec.GP, 0);
}

interface Gate { sel: number; off: bigint; params: number; is32: boolean; is64: boolean }

function readCallGate(cpu: Cpu, sel: number, d: Descriptor): Gate {
  const a = descAttr(d);
  const type = a & 0xf;
  const cpl = cpu.cpl;
  if (cpu.inLongMode ? type !== 0xc : type !== 0xc && type !== 0x4) throw fault(Vec.GP, sel & 0xfffc);
  if (dpl(a) < cpl || dpl(a) < (sel & 3)) throw fault(Vec.GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  if (cpu.inLongMode) {
    const w = readDescriptor(cpu, sel, Vec.GP, true);
    if (((w.baseHigh >>> 0) & 0) !== 0) throw fault(Vec.GP, sel & 0xfffc);
    const off = BigInt(((w.lo & 0xffff) | (w.hi & 0xffff0000)) >>> 0) | (BigInt(w.baseHigh >>> 0) << 32n);
    return { sel: w.lo >>> 16, off, params: 0, is32: true, is64: true };
  }
  const off = BigInt(type === 0xc ? ((d.lo & 0xffff) | (d.hi & 0xffff0000)) >>> 0 : d.lo & 0xffff);
  return { sel: d.lo >>> 16, off, params: d.hi & 0x1f, is32: type === 0xc, is64: false };
}

export function jmpFar(cpu: Cpu, sel: number, off: bigint): void {
  const st = cpu.st;
  if (!cpu.protectedMode || st.mode & MODE_VM86) {
    loadRealSeg(cpu, Seg.CS, sel);
    st.rip = off;
    cpu.updateMode();
    return;
  }
  if ((sel & 0xfffc) === 0) throw fault(Vec.GP, 0);
  const d = readDescriptor(cpu, sel);
  const a = descAttr(d);
  if (a & ATTR_S) {
    checkCodeTarget(cpu, sel, d);
    checkTargetIp(cpu, d, off);
    setCs(cpu, sel, d, cpu.cpl);
    st.rip = off;
  } else {
    const g = readCallGate(cpu, sel, d);
    const cd = readDescriptor(cpu, g.sel);
    const ca = descAttr(cd);
    if (!(ca & ATTR_S) || !(ca & 8)) throw fault(Vec.GP, g.sel & 0xfffc);
    if ((ca & 4) ? dpl(ca) > cpu.cpl : dpl(ca) !== cpu.cpl) throw fault(Vec.GP, g.sel & 0xfffc);
    if (!(ca & ATTR_P)) throw fault(Vec.NP, g.sel & 0xfffc);
    if (g.is64 && !(ca & ATTR_L)) throw fault(Vec.GP, g.sel & 0xfffc);
    checkTargetIp(cpu, cd, g.off);
    setCs(cpu, g.sel, cd, cpu.cpl);
    st.rip = g.off;
  }
  cpu.updateMode();
}

/** CALL far with operand size `size` (2, 4, 8); `next` is the return offset. */
export function callFar(cpu: Cpu, sel: number, off: bigint, size: number, next: bigint): void {
  const st = cpu.st;
  const oldCs = BigInt(st.segSel(Seg.CS));
  if (!cpu.protectedMode || st.mode & MODE_VM86) {
    const m = spMask(cpu);
    let sp = st.gpr(4) & m;
    sp = (sp - BigInt(size)) & m; cpu.writeLin(stackLin(cpu, sp), size, oldCs);
    sp = (sp - BigInt(size)) & m; cpu.writeLin(stackLin(cpu, sp), size, next);
    setSp(cpu, sp, m);
    loadRealSeg(cpu, Seg.CS, sel);
    st.rip = off;
    cpu.updateMode();
    return;
  }
  if ((sel & 0xfffc) === 0) throw fault(Vec.GP, 0);
  const d = readDescriptor(cpu, sel);
  const a = descAttr(d);
  if (a & ATTR_S) {
    checkCodeTarget(cpu, sel, d);
    checkTargetIp(cpu, d, off);
    const m = spMask(cpu);
    let sp = st.gpr(4) & m;
    sp = (sp - BigInt(size)) & m; cpu.writeLin(stackLin(cpu, sp), size, oldCs);
    sp = (sp - BigInt(size)) & m; cpu.writeLin(stackLin(cpu, sp), size, next);
    setCs(cpu, sel, d, cpu.cpl);
    setSp(cpu, sp, m);
    st.rip = off;
    cpu.updateMode();
    return;
  }
  const g = readCallGate(cpu, sel, d);
  if ((g.sel & 0xfffc) === 0) throw fault(Vec.GP, 0);
  const cd = readDescriptor(cpu, g.sel);
  const ca = descAttr(cd);
  const cpl = cpu.cpl;
  if (!(ca & ATTR_S) || !(ca & 8) || dpl(ca) > cpl) throw fault(Vec.GP, g.sel & 0xfffc);
  if (!(ca & ATTR_P)) throw fault(Vec.NP, g.sel & 0xfffc);
  if (g.is64 && (!(ca & ATTR_L) || (ca & (1 << 14)))) throw fault(Vec.GP, g.sel & 0xfffc);
  checkTargetIp(cpu, cd, g.off);
  const gsize = g.is64 ? 8 : g.is32 ? 4 : 2;
  const newCpl = ca & 4 ? cpl : dpl(ca);
  if (newCpl < cpl) {
    // more privileged: switch stacks through the TSS, copy parameters (legacy gates)
    const oldSs = BigInt(st.segSel(Seg.SS));
    const oldSp = st.gpr(4);
    const oldMask = spMask(cpu);
    const params: bigint[] = [];
    for (let i = g.params - 1; i >= 0; i--) params.push(cpu.readLin(stackLin(cpu, (oldSp + BigInt(i * gsize)) & oldMask), gsize));
    let newSp: bigint, newSs: number;
    const trBase = st.segBase(Seg.TR);
    if (g.is64) { newSp = cpu.readLin(trBase + BigInt(4 + newCpl * 8), 8, true); newSs = newCpl; }
    else { newSp = cpu.readLin(trBase + BigInt(4 + 8 * newCpl), 4, true); newSs = Number(cpu.readLin(trBase + BigInt(8 + 8 * newCpl), 2, true)); }
    st.mode = (st.mode & ~3) | newCpl;
    if (g.is64) st.setSeg(Seg.SS, newSs, 0n, 0, ATTR_UNUSABLE | (newCpl << 5) | 0x13);
    else loadDataSeg(cpu, Seg.SS, newSs);
    const m = g.is64 ? 0xffffffffffffffffn : st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
    const lin = (sp: bigint) => (g.is64 ? sp : (st.segBase(Seg.SS) + sp) & 0xffffffffn);
    let sp = (g.is64 ? newSp & ~0xfn : newSp) & m;
    const pushv = (v: bigint) => { sp = (sp - BigInt(gsize)) & m; cpu.writeLin(lin(sp), gsize, v); };
    pushv(oldSs); pushv(oldSp);
    for (const p of params.reverse()) pushv(p);
    pushv(oldCs); pushv(next);
    setCs(cpu, g.sel, cd, newCpl);
    setSp(cpu, sp, m);
  } else {
    const m = spMask(cpu);
    let sp = st.gpr(4) & m;
    sp = (sp - BigInt(gsize)) & m; cpu.writeLin(stackLin(cpu, sp), gsize, oldCs);
    sp = (sp - BigInt(gsize)) & m; cpu.writeLin(stackLin(cpu, sp), gsize, next);
    setCs(cpu, g.sel, cd, cpl);
    setSp(cpu, sp, m);
  }
  st.rip = g.off;
  cpu.updateMode();
}

/** RETF [imm16] with operand size `size`. */
export function retFar(cpu: Cpu, size: number, imm: number): void {
  const st = cpu.st;
  const m = spMask(cpu);
  const sp = st.gpr(4) & m;
  const rd = (o: number) => cpu.readLin(stackLin(cpu, (sp + BigInt(o)) & m), size);
  const ip = rd(0);
  const sel = Number(rd(size)) & 0xffff;
  if (!cpu.protectedMode || st.mode & MODE_VM86) {
    loadRealSeg(cpu, Seg.CS, sel);
    st.rip = ip;
    setSp(cpu, sp + BigInt(2 * size + imm), m);
    cpu.updateMode();
    return;
  }
  if ((sel & 0xfffc) === 0) throw fault(Vec.GP, 0);
  const d = readDescriptor(cpu, sel);
  const a = descAttr(d);
  const cpl = cpu.cpl;
  const rpl = sel & 3;
  if (!(a & ATTR_S) || !(a & 8) || rpl < cpl) throw fault(Vec.GP, sel & 0xfffc);
  if ((a & 4) ? dpl(a) > rpl : dpl(a) !== rpl) throw fault(Vec.GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(Vec.NP, sel & 0xfffc);
  checkTargetIp(cpu, d, ip);
  if (rpl === cpl) {
    setCs(cpu, sel, d, cpl);
    st.rip = ip;
    setSp(cpu, sp + BigInt(2 * size + imm), m);
    cpu.updateMode();
    return;
  }
  const newSp = rd(2 * size + imm);
  const newSs = Number(rd(3 * size + imm)) & 0xffff;
  setCs(cpu, sel, d, rpl);
  st.rip = ip;
  st.mode = (st.mode & ~3) | rpl;
  if ((newSs & 0xfffc) === 0 && cpu.inLongMode && rpl !== 3) st.setSeg(Seg.SS, newSs, 0n, 0, ATTR_UNUSABLE | (rpl << 5) | 0x13);
  else loadDataSeg(cpu, Seg.SS, newSs);
  const m2 = cpu.inLongMode && (a & ATTR_L) ? 0xffffffffffffffffn : st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
  setSp(cpu, newSp + BigInt(imm), m2);
  nullifyDataSegs(cpu, rpl);
  cpu.updateMode();
}

