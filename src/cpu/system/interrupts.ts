// Event delivery through the IVT/IDT and IRET (SDM vol. 3 ch. 6, vol. 2 INT n/IRET).
import type { Cpu } from '../cpu.js';
import { ATTR_P, ATTR_S, ATTR_L, ATTR_UNUSABLE } from '../cpu.js';
import { fault, Vec, GuestFault } from '../exception.js';
import { Seg, IDTR_BASE, IDTR_LIMIT, RIP, GPR } from '../state-layout.js';
import { readDescriptor, descAttr, descBase, descLimit, dpl, setCs, loadDataSeg, loadRealSeg, markAccessed } from './segments.js';
import { MODE_VM86 } from '../mode.js';
import { TF, IF, NT, RF, VM, AC, IOPL, VIF, VIP, ID } from '../flags.js';

export const enum EventKind {
  /** Fault or trap raised by an instruction (RIP = faulting insn, or next insn for traps). */
  Exception,
  /** External hardware interrupt or NMI. */
  External,
  /** INT n / INT3 / INTO: software, checks gate DPL; RIP = next instruction. */
  Software,
  /** INT1 (ICEBP): like an exception but delivered from an instruction; no DPL check. */
  Privileged,
}

const CONTRIBUTORY = new Set([0, 10, 11, 12, 13]);

export class TripleFault extends Error {
  constructor(readonly vector: number) {
    super('triple fault');
  }
}

function push(cpu: Cpu, rsp: { v: bigint }, size: number, value: bigint, ssBase: bigint, mask: bigint): void {
  rsp.v = (rsp.v - BigInt(size)) & mask;
  cpu.writeLin(cpu.is64 || mask === 0xffffffffffffffffn ? rsp.v : (ssBase + rsp.v) & 0xffffffffn, size, value, false);
}

/**
 * Deliver an interrupt or exception. `err` < 0 when there is no error code. A fault while
 * delivering escalates by the SDM's table (§6.15, "Double Fault Exception"): contributory after
 * contributory, or anything but a benign one after #PF, becomes #DF; a fault while delivering #DF
 * is a triple fault (thrown as TripleFault for the machine to report).
 */
export function deliverEvent(cpu: Cpu, vector: number, kind: EventKind, err: number, insnRip?: bigint): void {
  if (cpu.onEvent?.(vector, kind, err)) return;
  let v = vector, k = kind, e = err;
  for (;;) {
    try {
      deliverOnce(cpu, v, k, e);
      return;
    } catch (x) {
      if (!(x instanceof GuestFault)) throw x;
      // A fault while delivering INT n/INT3/INTO is reported at the INT instruction itself.
      if (insnRip !== undefined && v === vector) cpu.st.rip = insnRip;
      if (v === Vec.DF) throw new TripleFault(x.vector);
      const second = x.vector;
      const contributory = (n: number) => CONTRIBUTORY.has(n);
      if ((contributory(v) && contributory(second)) || (v === Vec.PF && (contributory(second) || second === Vec.PF))) {
        v = Vec.DF; k = EventKind.Exception; e = 0;
      } else {
        v = second; k = EventKind.Exception; e = x.errorCode;
      }
    }
  }
}

function deliverOnce(cpu: Cpu, vector: number, kind: EventKind, err: number): void {
  const st = cpu.st;
  cpu.halted = false;
  if (kind === EventKind.Exception || kind === EventKind.Privileged) cpu.stats.exceptions[vector & 31]++;
  if (!cpu.protectedMode) return deliverReal(cpu, vector);
  const ext = kind === EventKind.External ? 1 : 0;
  const long = cpu.inLongMode;
  const entSize = long ? 16 : 8;
  const idtBase = st.get64(IDTR_BASE);
  const idtLimit = st.get32(IDTR_LIMIT);
  const gateErr = vector * 8 + 2 + ext;
  if (vector * entSize + entSize - 1 > idtLimit) throw fault(Vec.GP, gateErr);
  const gLo = Number(cpu.readLin(idtBase + BigInt(vector * entSize), 4, true));
  const gHi = Number(cpu.readLin(idtBase + BigInt(vector * entSize + 4), 4, true));
  const gType = (gHi >>> 8) & 0x1f;
  const gDpl = (gHi >>> 13) & 3;
  const gP = (gHi >>> 15) & 1;
  const type = gType & 0xf;
  const cpl = cpu.cpl;
  if (long ? type !== 0xe && type !== 0xf : ![0x5, 0x6, 0x7, 0xe, 0xf].includes(type) || gType & 0x10) throw fault(Vec.GP, gateErr);
  if ((kind === EventKind.Software) && gDpl < cpl) throw fault(Vec.GP, gateErr);
  if (!gP) throw fault(Vec.NP, gateErr);
  if (type === 0x5) throw fault(Vec.GP, gateErr); // task gates: not implemented (README: partial)
  const is32 = (type & 8) !== 0;
  const trap = (type & 1) !== 0;
  let offset = BigInt(((gLo & 0xffff) | (gHi & 0xffff0000)) >>> 0);
  if (!is32) offset &= 0xffffn;
  const ist = long ? gHi & 7 : 0;
  if (long) offset |= BigInt(Number(cpu.readLin(idtBase + BigInt(vector * 16 + 8), 4, true)) >>> 0) << 32n;
  const sel = gLo >>> 16;
  if ((sel & 0xfffc) === 0) throw fault(Vec.GP, ext);
  const cd = readDescriptor(cpu, sel, Vec.GP);
  const cAttr = descAttr(cd);
  const cDpl = dpl(cAttr);
  if (!(cAttr & ATTR_S) || !(cAttr & 8) || cDpl > cpl) throw fault(Vec.GP, (sel & 0xfffc) + ext);
  if (!(cAttr & ATTR_P)) throw fault(Vec.NP, (sel & 0xfffc) + ext);
  if (long && (!(cAttr & ATTR_L) || (cAttr & (1 << 14)))) throw fault(Vec.GP, (sel & 0xfffc) + ext);
  const conforming = (cAttr & 4) !== 0;
  const newCpl = conforming ? cpl : cDpl;
  const rflags = cpu.getRflags();
  if (rflags & VM) throw fault(Vec.GP, (sel & 0xfffc) + ext); // virtual-8086 mode: not implemented
  const oldSs = st.segSel(Seg.SS);
  const oldRsp = st.gpr(4);
  const oldCs = st.segSel(Seg.CS);
  const rip = st.rip;

  if (long) {
    let rsp: bigint;
    if (ist) rsp = tssRead64(cpu, 0x24 + (ist - 1) * 8);
    else if (newCpl < cpl) rsp = tssRead64(cpu, 4 + newCpl * 8);
    else rsp = oldRsp;
    rsp &= ~0xfn;
    const r = { v: rsp };
    const M = 0xffffffffffffffffn;
    // Pushes run at the new privilege level (writes as supervisor when newCpl < 3).
    const savedMode = st.mode;
    st.mode = (st.mode & ~3) | newCpl;
    try {
      push(cpu, r, 8, BigInt(oldSs), 0n, M);
      push(cpu, r, 8, oldRsp, 0n, M);
      push(cpu, r, 8, BigInt(rflags), 0n, M);
      push(cpu, r, 8, BigInt(oldCs), 0n, M);
      push(cpu, r, 8, rip, 0n, M);
      if (err >= 0) push(cpu, r, 8, BigInt(err >>> 0), 0n, M);
    } catch (e) {
      st.mode = savedMode;
      throw e;
    }
    setCs(cpu, sel, cd, newCpl);
    if (newCpl !== cpl) st.setSeg(Seg.SS, newCpl, 0n, 0, ATTR_UNUSABLE | (newCpl << 5) | 0x13);
    st.setGpr(4, r.v);
    st.rip = offset;
  } else {
    let ssBase = st.segBase(Seg.SS);
    let mask = st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
    let rsp = oldRsp & mask;
    let newSs = -1;
    let ssDesc = null as ReturnType<typeof readDescriptor> | null;
    if (newCpl < cpl) {
      const { ss, esp } = tssStack32(cpu, newCpl);
      if ((ss & 0xfffc) === 0) throw fault(Vec.TS, ext);
      const sd = readDescriptor(cpu, ss, Vec.TS);
      const sa = descAttr(sd);
      if ((ss & 3) !== newCpl || dpl(sa) !== newCpl || !(sa & ATTR_S) || (sa & 8) || !(sa & 2)) throw fault(Vec.TS, (ss & 0xfffc) + ext);
      if (!(sa & ATTR_P)) throw fault(Vec.SS, (ss & 0xfffc) + ext);
      newSs = ss; ssDesc = sd;
      ssBase = descBase(sd);
      mask = sa & (1 << 14) ? 0xffffffffn : 0xffffn;
      rsp = BigInt(esp >>> 0) & mask;
    }
    const size = is32 ? 4 : 2;
    const r = { v: rsp };
    const savedMode = st.mode;
    st.mode = (st.mode & ~3) | newCpl;
    try {
      if (newSs >= 0) {
        push(cpu, r, size, BigInt(oldSs), ssBase, mask);
        push(cpu, r, size, oldRsp & (is32 ? 0xffffffffn : 0xffffn), ssBase, mask);
      }
      push(cpu, r, size, BigInt(rflags) & (is32 ? 0xffffffffn : 0xffffn), ssBase, mask);
      push(cpu, r, size, BigInt(oldCs), ssBase, mask);
      push(cpu, r, size, rip & (is32 ? 0xffffffffn : 0xffffn), ssBase, mask);
      if (err >= 0) push(cpu, r, size, BigInt(err >>> 0), ssBase, mask);
    } catch (e) {
      st.mode = savedMode;
      throw e;
    }
    if (newSs >= 0 && ssDesc) {
      markAccessed(cpu, newSs, ssDesc);
      st.setSeg(Seg.SS, newSs, descBase(ssDesc), descLimit(ssDesc), descAttr(ssDesc));
    }
    setCs(cpu, sel, cd, newCpl);
    const sp = st.gpr(4);
    st.setGpr(4, mask === 0xffffn ? (sp & ~0xffffn) | r.v : r.v);
    st.rip = offset;
  }
  let nf = rflags & ~(TF | NT | RF | VM);
  if (!trap) nf &= ~IF;
  cpu.setRflags(nf);
  cpu.updateMode();
}

function deliverReal(cpu: Cpu, vector: number): void {
  const st = cpu.st;
  const idtBase = st.get64(IDTR_BASE);
  if (vector * 4 + 3 > st.get32(IDTR_LIMIT)) throw fault(Vec.GP, 0);
  const ip = Number(cpu.readLin(idtBase + BigInt(vector * 4), 2));
  const cs = Number(cpu.readLin(idtBase + BigInt(vector * 4 + 2), 2));
  const rflags = cpu.getRflags();
  const ssBase = st.segBase(Seg.SS);
  const r = { v: st.gpr(4) & 0xffffn };
  push(cpu, r, 2, BigInt(rflags & 0xffff), ssBase, 0xffffn);
  push(cpu, r, 2, BigInt(st.segSel(Seg.CS)), ssBase, 0xffffn);
  push(cpu, r, 2, st.rip & 0xffffn, ssBase, 0xffffn);
  st.setGpr(4, (st.gpr(4) & ~0xffffn) | r.v);
  loadRealSeg(cpu, Seg.CS, cs);
  st.rip = BigInt(ip);
  cpu.setRflags(rflags & ~(IF | TF | AC | RF));
  cpu.updateMode();
}

function tssRead64(cpu: Cpu, off: number): bigint {
  const st = cpu.st;
  if (off + 7 > st.segLimit(Seg.TR)) throw fault(Vec.TS, st.segSel(Seg.TR) & 0xfffc);
  return cpu.readLin(st.segBase(Seg.TR) + BigInt(off), 8, true);
}

function tssStack32(cpu: Cpu, pl: number): { ss: number; esp: number } {
  const st = cpu.st;
  const type = st.segAttr(Seg.TR) & 0xf;
  const base = st.segBase(Seg.TR);
  if (type === 0xb || type === 0x9) {
    if (8 * pl + 11 > st.segLimit(Seg.TR)) throw fault(Vec.TS, st.segSel(Seg.TR) & 0xfffc);
    return { esp: Number(cpu.readLin(base + BigInt(4 + 8 * pl), 4, true)), ss: Number(cpu.readLin(base + BigInt(8 + 8 * pl), 2, true)) };
  }
  // 16-bit TSS
  if (4 * pl + 5 > st.segLimit(Seg.TR)) throw fault(Vec.TS, st.segSel(Seg.TR) & 0xfffc);
  return { esp: Number(cpu.readLin(base + BigInt(2 + 4 * pl), 2, true)), ss: Number(cpu.readLin(base + BigInt(4 + 4 * pl), 2, true)) };
}

/** IRET / IRETD / IRETQ with operand size `size` (2, 4, 8). */
export function iret(cpu: Cpu, size: number): void {
  const st = cpu.st;
  const rflagsNow = cpu.getRflags();
  if (!cpu.protectedMode) {
    const ssBase = st.segBase(Seg.SS);
    const sp = st.gpr(4) & 0xffffn;
    const rd = (o: number) => cpu.readLin((ssBase + ((sp + BigInt(o)) & 0xffffn)) & 0xffffffffn, size);
    const ip = rd(0), cs = rd(size), fl = Number(rd(2 * size));
    st.setGpr(4, (st.gpr(4) & ~0xffffn) | ((sp + BigInt(3 * size)) & 0xffffn));
    loadRealSeg(cpu, Seg.CS, Number(cs));
    st.rip = ip & (size === 2 ? 0xffffn : 0xffffffffn);
    const keep = size === 2 ? ~0xffff : (VM | VIF | VIP);
    cpu.setRflags((rflagsNow & keep) | (fl & ~keep & 0x3f7fd5));
    cpu.updateMode();
    return;
  }
  if (st.mode & MODE_VM86) throw fault(Vec.GP, 0);
  if (rflagsNow & NT && !cpu.inLongMode) throw fault(Vec.GP, 0); // task return: not implemented
  const cpl = cpu.cpl;
  const mask = cpu.is64 ? 0xffffffffffffffffn : st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
  const ssBase = cpu.is64 ? 0n : st.segBase(Seg.SS);
  const sp = st.gpr(4) & mask;
  const rd = (o: number) => cpu.readLin(cpu.is64 ? (sp + BigInt(o)) & mask : (ssBase + ((sp + BigInt(o)) & mask)) & 0xffffffffn, size);
  const newIp = rd(0);
  const newCs = Number(rd(size)) & 0xffff;
  const newFl = Number(rd(2 * size) & 0xffffffffn);
  const rpl = newCs & 3;
  if ((newCs & 0xfffc) === 0) throw fault(Vec.GP, 0);
  if (!cpu.inLongMode && size === 4 && (newFl & VM) && cpl === 0) throw fault(Vec.GP, 0); // return to v8086: not implemented
  const cd = readDescriptor(cpu, newCs);
  const ca = descAttr(cd);
  if (!(ca & ATTR_S) || !(ca & 8) || rpl < cpl) throw fault(Vec.GP, newCs & 0xfffc);
  if ((ca & 4) ? dpl(ca) > rpl : dpl(ca) !== rpl) throw fault(Vec.GP, newCs & 0xfffc);
  if (!(ca & ATTR_P)) throw fault(Vec.NP, newCs & 0xfffc);
  const toLong64 = cpu.inLongMode && (ca & ATTR_L) !== 0;
  if (cpu.inLongMode && (ca & ATTR_L) && (ca & (1 << 14))) throw fault(Vec.GP, newCs & 0xfffc);
  let newRsp = 0n, newSs = 0;
  const outer = rpl > cpl || cpu.is64; // IRETQ always pops SS:RSP in 64-bit mode
  if (outer) {
    newRsp = rd(3 * size);
    newSs = Number(rd(4 * size)) & 0xffff;
  }
  // RFLAGS update rules: IOPL only at CPL 0, IF only when CPL <= IOPL
  const iopl = (rflagsNow >> 12) & 3;
  let changeable = TF | 0xd5 /* arith */ | (1 << 10) | NT | RF | AC | ID | (1 << 1);
  changeable |= 0x8d5 | 0x400;
  if (cpl === 0) changeable |= IOPL | VIF | VIP;
  if (cpl <= iopl) changeable |= IF;
  if (size === 2) changeable &= 0xffff;
  const fl = (rflagsNow & ~changeable) | (newFl & changeable);
  if (outer) {
    // validate SS before committing
    if ((newSs & 0xfffc) === 0) {
      if (!(toLong64 && rpl !== 3)) throw fault(Vec.GP, 0);
    } else {
      const sd = readDescriptor(cpu, newSs);
      const sa = descAttr(sd);
      if ((newSs & 3) !== rpl || dpl(sa) !== rpl || !(sa & ATTR_S) || (sa & 8) || !(sa & 2)) throw fault(Vec.GP, newSs & 0xfffc);
      if (!(sa & ATTR_P)) throw fault(Vec.SS, newSs & 0xfffc);
    }
  }
  if (toLong64) {
    const hi = Number(newIp >> 32n) | 0;
    if ((hi >> 15) !== 0 && (hi >> 15) !== -1) throw fault(Vec.GP, 0);
  } else if (newIp > BigInt(descLimit(cd))) throw fault(Vec.GP, 0);
  setCs(cpu, newCs, cd, rpl);
  st.rip = toLong64 ? newIp : newIp & (size === 2 ? 0xffffn : 0xffffffffn);
  cpu.setRflags(fl);
  if (outer) {
    st.mode = (st.mode & ~3) | rpl;
    if ((newSs & 0xfffc) === 0) st.setSeg(Seg.SS, newSs, 0n, 0, ATTR_UNUSABLE | (rpl << 5) | 0x13);
    else loadDataSeg(cpu, Seg.SS, newSs);
    const spMask = cpu.inLongMode && toLong64 ? 0xffffffffffffffffn : st.segAttr(Seg.SS) & (1 << 14) ? 0xffffffffn : 0xffffn;
    st.setGpr(4, spMask === 0xffffn ? (st.gpr(4) & ~0xffffn) | (newRsp & 0xffffn) : newRsp & spMask);
    if (rpl > cpl) nullifyDataSegs(cpu, rpl);
  } else {
    st.setGpr(4, mask === 0xffffn ? (st.gpr(4) & ~0xffffn) | ((sp + BigInt(3 * size)) & 0xffffn) : (sp + BigInt(3 * size)) & mask);
  }
  cpu.updateMode();
}

/** On a return to an outer level, data segments the new CPL may not use become null (SDM RET/IRET). */
export function nullifyDataSegs(cpu: Cpu, newCpl: number): void {
  const st = cpu.st;
  for (const s of [Seg.ES, Seg.DS, Seg.FS, Seg.GS]) {
    const a = st.segAttr(s);
    if (a & ATTR_UNUSABLE) continue;
    const isData = !(a & 8);
    const conformingCode = (a & 8) && (a & 4);
    if ((isData || !conformingCode) && dpl(a) < newCpl) st.setSeg(s, 0, st.segBase(s), st.segLimit(s), a | ATTR_UNUSABLE);
  }
}

