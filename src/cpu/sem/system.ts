// System instructions: semantics that call TypeScript helpers (src/cpu/system/*), plus the
// rules that end a block after an instruction changes the mode or needs the dispatcher.
import { Mnemonic, OpKind, Register, Code } from '../iced.js';
import { def } from './table.js';
import { Kick, type Gen } from './gen.js';
import { jmpNear, callNear, popGeneral, isNearTarget } from './control.js';
import { push, pop, peek, stackAddrSize } from './stack.js';
import * as L from '../state-layout.js';
import { HELPER_ARG0, HELPER_ARG1, RIP } from '../state-layout.js';
import { REG, RegClass } from '../regs.js';
import { MEMSIZE_BYTES } from '../memsize.js';
import { fault, Vec } from '../exception.js';
import { deliverEvent, EventKind, iret } from '../system/interrupts.js';
import { jmpFar, callFar, retFar } from '../system/far.js';
import { loadDataSeg } from '../system/segments.js';
import { writeCr, readCr, writeDr, readDr, clts, lmsw } from '../system/control-regs.js';
import { rdmsr, wrmsr, tsc } from '../system/msr.js';
import { cpuid } from '../system/cpuid.js';
import { syscallFrom, sysret, sysenter, sysexit, swapgs } from '../system/syscall.js';
import { loadDtr, storeDtr, lldt, ltr, sldtStr, smsw, segInfo } from '../system/tables.js';
import { IF, IOPL, VM, AC, TF, NT, RF, ID, VIF, VIP, ZF } from '../flags.js';
import { Seg } from '../state-layout.js';
import { MODE_VM86, MODE_PE } from '../mode.js';

const M = Mnemonic;
const A0 = HELPER_ARG0, A1 = HELPER_ARG1;

/** Mnemonics that always end a block after them (mode, RIP or event changes). */
export const ENDS_BLOCK = new Set<number>();
/** Mnemonics implemented by TypeScript helpers (they may read or write RFLAGS). */
export const HELPER_BASED = new Set<number>();

function sys(mn: number | number[], fn: (g: Gen) => void, endsBlock = true, kick = Kick.Always): void {
  for (const m of Array.isArray(mn) ? mn : [mn]) {
    HELPER_BASED.add(m);
    if (endsBlock) ENDS_BLOCK.add(m);
  }
  def(mn, (g) => { g.helperKick = kick; fn(g); });
}

const big = (g: Gen, off: number): bigint => g.cpu.st.get64(off);

// ---- MOV with segment, control and debug registers --------------------------------------------

function movSystem(g: Gen): boolean {
  const d = g.insn;
  const c0 = d.opKind[0] === OpKind.Register ? REG[d.opReg[0]].cls : RegClass.None;
  const c1 = d.opKind[1] === OpKind.Register ? REG[d.opReg[1]].cls : RegClass.None;
  const cpu = g.cpu;
  if (c0 === RegClass.Seg) {
    const seg = REG[d.opReg[0]].idx;
    if (seg === Seg.CS) { g.raise(Vec.UD); g.ended = true; return true; }
    g.argFromOp(1, A0, 2);
    g.callHelper(() => {
      loadDataSeg(cpu, seg, Number(big(g, A0) & 0xffffn));
      if (seg === Seg.SS) cpu.intShadow = true;
      cpu.updateMode();
    });
    g.endAfter = true;
    return true;
  }
  if (c1 === RegClass.Seg) {
    const seg = REG[d.opReg[1]].idx;
    const n = g.isMem(0) ? 2 : g.opBytes(0);
    const t = g.tmp64();
    g.f.i32(0).i64Load32U(L.segOff(seg, L.SEG_SEL)).i64(0xffff, 0).i64And().set(t);
    g.writeOp(0, t, n);
    return true;
  }
  if (c0 === RegClass.Cr || c1 === RegClass.Cr) {
    if (c0 === RegClass.Cr) {
      const n = REG[d.opReg[0]].idx;
      g.argFromOp(1, A0, g.is64 ? 8 : 4);
      g.callHelper(() => writeCr(cpu, n, big(g, A0)));
      g.endAfter = true;
    } else {
      const n = REG[d.opReg[1]].idx;
      g.callHelper(() => cpu.st.set64(A0, readCr(cpu, n)));
      g.opFromArg(0, A0, g.is64 ? 8 : 4);
    }
    return true;
  }
  if (c0 === RegClass.Dr || c1 === RegClass.Dr) {
    if (c0 === RegClass.Dr) {
      const n = REG[d.opReg[0]].idx;
      g.argFromOp(1, A0, g.is64 ? 8 : 4);
      g.callHelper(() => writeDr(cpu, n, big(g, A0)));
    } else {
      const n = REG[d.opReg[1]].idx;
      g.callHelper(() => cpu.st.set64(A0, readDr(cpu, n)));
      g.opFromArg(0, A0, g.is64 ? 8 : 4);
    }
    return true;
  }
  return false;
}

export function isSystemMov(d: { opKind: number[]; opReg: number[] }): boolean {
  for (let i = 0; i < 2; i++) {
    if (d.opKind[i] !== OpKind.Register) continue;
    const c = REG[d.opReg[i]].cls;
    if (c === RegClass.Seg || c === RegClass.Cr || c === RegClass.Dr) return true;
  }
  return false;
}

export function semMovSystem(g: Gen): boolean { return movSystem(g); }

sys(M.Pop, (g) => {
  const d = g.insn;
  if (d.opKind[0] === OpKind.Register && REG[d.opReg[0]].cls === RegClass.Seg) {
    const seg = REG[d.opReg[0]].idx;
    const cpu = g.cpu;
    const n = d.stackInc;
    const v = peek(g, n, 0);
    g.f.i32(0).get(v).i64Store(A0);
    g.callHelper(() => {
      loadDataSeg(cpu, seg, Number(big(g, A0) & 0xffffn));
      if (seg === Seg.SS) cpu.intShadow = true;
      cpu.updateMode();
    });
    pop(g, n);
    g.endAfter = true;
    return;
  }
  popGeneral(g);
}, false);

function loadFarPointer(mn: number, seg: number) {
  sys(mn, (g) => {
    const cpu = g.cpu;
    const n = g.opBytes(0);
    const addr = g.memLinear(false, n + 2);
    const off = g.tmp64(), sel = g.tmp64(), a2 = g.tmp64();
    g.load(addr, n); g.f.set(off);
    g.f.get(addr).i64(n, 0).i64Add().set(a2);
    g.load(a2, 2); g.f.set(sel);
    g.f.i32(0).get(sel).i64Store(A0);
    g.callHelper(() => { loadDataSeg(cpu, seg, Number(big(g, A0))); cpu.updateMode(); });
    g.writeOp(0, off, n);
  });
}
loadFarPointer(M.Lds, Seg.DS);
loadFarPointer(M.Les, Seg.ES);
loadFarPointer(M.Lfs, Seg.FS);
loadFarPointer(M.Lgs, Seg.GS);
loadFarPointer(M.Lss, Seg.SS);

// ---- far control transfer and interrupts ---------------------------------------------------------

/** Far pointer operand: (selector, offset) into A0/A1. Returns the operand size in bytes. */
function farOperand(g: Gen): number {
  const d = g.insn;
  const f = g.f;
  if (d.opKind[0] === OpKind.FarBranch16 || d.opKind[0] === OpKind.FarBranch32) {
    f.i32(0).i64(d.farSel, 0).i64Store(A0);
    f.i32(0).i64(d.farOff >>> 0, 0).i64Store(A1);
    return d.opKind[0] === OpKind.FarBranch16 ? 2 : 4;
  }
  const total = MEMSIZE_BYTES[d.memSize];
  const n = total - 2;
  const addr = g.memLinear(false, total);
  const t = g.tmp64(), a2 = g.tmp64();
  g.load(addr, n); f.set(t); f.i32(0).get(t).i64Store(A1);
  f.get(addr).i64(n, 0).i64Add().set(a2);
  g.load(a2, 2); f.set(t); f.i32(0).get(t).i64Store(A0);
  return n;
}

sys(M.Jmp, (g) => {
  const d = g.insn;
  if (isNearTarget(g) || d.flow === 2 /* IndirectBranch */ && !isFar(d.code)) { jmpNear(g); return; }
  const cpu = g.cpu;
  farOperand(g);
  g.callHelper(() => jmpFar(cpu, Number(big(g, A0) & 0xffffn), big(g, A1)));
  g.ended = true;
}, false);

sys(M.Call, (g) => {
  const d = g.insn;
  if (!isFar(d.code)) { callNear(g); return; }
  const cpu = g.cpu;
  const n = farOperand(g);
  const next = d.next;
  g.callHelper(() => callFar(cpu, Number(big(g, A0) & 0xffffn), big(g, A1), n, next));
  g.ended = true;
}, false);

sys(M.Retf, (g) => {
  const d = g.insn;
  const cpu = g.cpu;
  const imm = d.opCount === 1 ? Number(d.imm[0]) & 0xffff : 0;
  const size = (d.stackInc - imm) / 2;
  g.callHelper(() => retFar(cpu, size, imm));
  g.ended = true;
});

sys([M.Iret, M.Iretd, M.Iretq], (g) => {
  const cpu = g.cpu;
  const size = g.insn.mnemonic === M.Iret ? 2 : g.insn.mnemonic === M.Iretd ? 4 : 8;
  g.callHelper(() => iret(cpu, size));
  g.ended = true;
}, true, Kick.IfPending);

function softInt(g: Gen, vector: number, kind: EventKind): void {
  const cpu = g.cpu;
  const next = g.insn.next;
  const ip = g.insn.ip;
  g.callHelper(() => {
    if (kind === EventKind.Software && cpu.st.mode & MODE_VM86) throw fault(Vec.GP, 0);
    cpu.st.rip = next;
    deliverEvent(cpu, vector, kind, -1, ip);
  });
  g.ended = true;
}

sys(M.Int, (g) => softInt(g, Number(g.insn.imm[0]) & 0xff, EventKind.Software));
sys(M.Int3, (g) => softInt(g, 3, EventKind.Software));
sys(M.Int1, (g) => softInt(g, 1, EventKind.Privileged));
sys(M.Into, (g) => {
  if (g.is64) { g.raise(Vec.UD); g.ended = true; return; }
  const cpu = g.cpu;
  const next = g.insn.next;
  g.cond(0);
  g.f.if_();
  const ip = g.insn.ip;
  g.callHelper(() => { cpu.st.rip = next; deliverEvent(cpu, 4, EventKind.Software, -1, ip); });
  g.f.else_();
  g.f.i32(0).i64Big(next).i64Store(RIP);
  g.f.end();
  g.ended = true;
});

sys(M.Bound, (g) => {
  if (g.is64) { g.raise(Vec.UD); g.ended = true; return; }
  const f = g.f;
  const n = g.opBytes(0);
  const addr = g.memLinear(false, n * 2);
  const lo = g.tmp64(), hi = g.tmp64(), v = g.tmp64(), a2 = g.tmp64();
  const sx = (x: number) => { g.f.get(x); if (n === 2) g.f.i64Extend16S(); else g.f.i64Extend32S(); };
  g.load(addr, n); f.set(lo);
  f.get(addr).i64(n, 0).i64Add().set(a2);
  g.load(a2, n); f.set(hi);
  g.readOp(0, n); f.set(v);
  sx(v); sx(lo); f.i64LtS();
  sx(v); sx(hi); f.i64GtS();
  f.i32Or().if_();
  g.raise(Vec.BR);
  f.end();
}, false);

// ---- flags and privileged state ------------------------------------------------------------------

sys(M.Cli, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const fl = cpu.getRflags();
    if (cpu.protectedMode && cpu.cpl > ((fl >> 12) & 3)) throw fault(Vec.GP, 0);
    cpu.setRflags(fl & ~IF);
  });
}, true, Kick.Never);

sys(M.Sti, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const fl = cpu.getRflags();
    if (cpu.protectedMode && cpu.cpl > ((fl >> 12) & 3)) throw fault(Vec.GP, 0);
    if (!(fl & IF)) cpu.intShadow = true;
    cpu.setRflags(fl | IF);
  });
}, true, Kick.IfPending);

sys([M.Popf, M.Popfd, M.Popfq], (g) => {
  const cpu = g.cpu;
  const n = g.insn.stackInc;
  const v = peek(g, n, 0);
  g.f.i32(0).get(v).i64Store(A0);
  g.callHelper(() => {
    const old = cpu.getRflags();
    let nv = Number(big(g, A0) & 0xffffffffn);
    if (n === 2) nv = (old & ~0xffff) | (nv & 0xffff);
    const cpl = cpu.protectedMode ? cpu.cpl : 0;
    const iopl = (old >> 12) & 3;
    if (cpu.st.mode & MODE_VM86 && iopl < 3) throw fault(Vec.GP, 0);
    let mask = 0xcd5 | TF | NT | AC | ID | (1 << 10);
    if (cpl === 0) mask |= IOPL;
    if (cpl <= iopl) mask |= IF;
    mask &= ~(VM | RF | VIF | VIP);
    if (n === 2) mask &= 0xffff;
    cpu.setRflags((old & ~mask) | (nv & mask));
    cpu.updateMode();
  });
  pop(g, n);
}, true, Kick.IfPending);

sys(M.Hlt, (g) => {
  const cpu = g.cpu;
  const next = g.insn.next;
  g.callHelper(() => {
    if (cpu.protectedMode && cpu.cpl !== 0) throw fault(Vec.GP, 0);
    cpu.st.rip = next;
    cpu.halted = true;
  });
  g.ended = true;
});

sys([M.Stac, M.Clac], (g) => {
  const cpu = g.cpu;
  const set = g.insn.mnemonic === M.Stac;
  g.callHelper(() => {
    if (cpu.cpl !== 0) throw fault(Vec.UD);
    const fl = cpu.getRflags();
    cpu.setRflags(set ? fl | AC : fl & ~AC);
    cpu.updateMode();
  });
}, true, Kick.Never);

sys(M.Cpuid, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const st = cpu.st;
    const [a, b, c, d] = cpuid(cpu, st.gpr32(0), st.gpr32(1));
    st.setGpr32(0, a); st.setGpr32(3, b); st.setGpr32(1, c); st.setGpr32(2, d);
  });
}, false, Kick.Never);

sys(M.Rdmsr, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const st = cpu.st;
    const v = rdmsr(cpu, st.gpr32(1));
    st.setGpr32(0, Number(v & 0xffffffffn)); st.setGpr32(2, Number(v >> 32n));
  });
}, false, Kick.Never);

sys(M.Wrmsr, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const st = cpu.st;
    wrmsr(cpu, st.gpr32(1), (BigInt(st.gpr32(2)) << 32n) | BigInt(st.gpr32(0)));
    cpu.updateMode();
  });
});

sys([M.Rdtsc, M.Rdtscp], (g) => {
  const cpu = g.cpu;
  const p = g.insn.mnemonic === M.Rdtscp;
  if (cpu.inlineTsc) { rdtscInline(g, p); return; }
  // (a clock at another rate than 1 ns per instruction: through the clock itself)
  g.callHelper(() => {
    const st = cpu.st;
    if ((st.cr4 & 4) && cpu.cpl !== 0 && cpu.protectedMode) throw fault(Vec.GP, 0);
    const t = BigInt.asUintN(64, tsc(cpu));
    st.setGpr32(0, Number(t & 0xffffffffn)); st.setGpr32(2, Number(t >> 32n));
    if (p) st.setGpr32(1, st.u32[L.TSC_AUX >> 2]);
  });
}, false, Kick.Never);

/**
 * RDTSC in generated code: TSC = ICOUNT (plus a region's pending count) + TSC_BASE + TSC_OFFSET, the
 * value the helper computes from the clock. Linux reads the TSC millions of times a boot (its
 * `timer_irq_works` and `delay_tsc` spin on it): a call into TypeScript each time cost ~0.2 s.
 */
function rdtscInline(g: Gen, p: boolean): void {
  const f = g.f;
  // CR4.TSD makes it privileged outside ring 0 (protected mode only)
  if ((g.mode & MODE_PE) && (g.mode & 3) !== 0) {
    f.i32(0).i32Load(L.CR4).i32(4).i32And().if_();
    g.raise(Vec.GP, 0);
    f.end();
  }
  const t = g.tmp64(), hi = g.tmp64();
  f.i32(0).i64Load(L.ICOUNT);
  if (g.icountLocal >= 0) f.get(g.icountLocal).i64Add();
  f.i32(0).i64Load(L.TSC_BASE).i64Add().i32(0).i64Load(L.TSC_OFFSET).i64Add().tee(t);
  f.i64(32, 0).i64ShrU().set(hi);
  g.setGprWidthFrom(0, 4, t);
  g.setGprWidthFrom(2, 4, hi);
  if (p) {
    const aux = g.tmp64();
    f.i32(0).i64Load32U(L.TSC_AUX).set(aux);
    g.setGprWidthFrom(1, 4, aux);
  }
}

sys(M.Rdpid, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => cpu.st.set64(A0, cpu.st.get64(L.TSC_AUX)));
  g.opFromArg(0, A0, g.opBytes(0));
}, false, Kick.Never);

sys(M.Xgetbv, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => {
    const st = cpu.st;
    if (!(st.cr4 & (1 << 18))) throw fault(Vec.UD);
    if (st.gpr32(1) !== 0) throw fault(Vec.GP, 0);
    const v = st.get64(L.XCR0);
    st.setGpr32(0, Number(v & 0xffffffffn)); st.setGpr32(2, Number(v >> 32n));
  });
}, false, Kick.Never);

sys(M.Syscall, (g) => { const cpu = g.cpu; const next = g.insn.next; g.callHelper(() => syscallFrom(cpu, next)); g.ended = true; });
sys([M.Sysret, M.Sysretq], (g) => { const cpu = g.cpu; const w = g.insn.mnemonic === M.Sysretq; g.callHelper(() => sysret(cpu, w)); g.ended = true; });
sys(M.Sysenter, (g) => { const cpu = g.cpu; g.callHelper(() => sysenter(cpu)); g.ended = true; });
sys([M.Sysexit, M.Sysexitq], (g) => { const cpu = g.cpu; const w = g.insn.mnemonic === M.Sysexitq; g.callHelper(() => sysexit(cpu, w)); g.ended = true; });
sys(M.Swapgs, (g) => { const cpu = g.cpu; g.callHelper(() => swapgs(cpu)); }, true, Kick.Never);

sys([M.Lgdt, M.Lidt], (g) => {
  const cpu = g.cpu;
  const which = g.insn.mnemonic === M.Lgdt ? 'gdt' : 'idt';
  const op = g.insn.bitness === 16 ? 2 : 4;
  g.argFromAddr(A0, false, 6);
  g.callHelper(() => loadDtr(cpu, which, big(g, A0), op));
}, false);
sys([M.Sgdt, M.Sidt], (g) => {
  const cpu = g.cpu;
  const which = g.insn.mnemonic === M.Sgdt ? 'gdt' : 'idt';
  g.argFromAddr(A0, true, 6);
  g.callHelper(() => storeDtr(cpu, which, big(g, A0)));
}, false);
sys(M.Lldt, (g) => { const cpu = g.cpu; g.argFromOp(0, A0, 2); g.callHelper(() => lldt(cpu, Number(big(g, A0) & 0xffffn))); });
sys(M.Ltr, (g) => { const cpu = g.cpu; g.argFromOp(0, A0, 2); g.callHelper(() => ltr(cpu, Number(big(g, A0) & 0xffffn))); });
sys([M.Sldt, M.Str], (g) => {
  const cpu = g.cpu;
  const which = g.insn.mnemonic === M.Sldt ? 'ldtr' : 'tr';
  g.callHelper(() => cpu.st.set64(A0, BigInt(sldtStr(cpu, which))));
  g.opFromArg(0, A0, g.isMem(0) ? 2 : g.opBytes(0));
}, false);
sys(M.Smsw, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => cpu.st.set64(A0, BigInt(smsw(cpu)) | (BigInt(cpu.st.cr0) & ~0xffffn)));
  g.opFromArg(0, A0, g.isMem(0) ? 2 : g.opBytes(0));
}, false);
sys(M.Lmsw, (g) => { const cpu = g.cpu; g.argFromOp(0, A0, 2); g.callHelper(() => lmsw(cpu, Number(big(g, A0) & 0xffffn))); });
sys(M.Clts, (g) => { const cpu = g.cpu; g.callHelper(() => { clts(cpu); }); });

sys([M.Lar, M.Lsl, M.Verr, M.Verw], (g) => {
  const cpu = g.cpu;
  const m = g.insn.mnemonic;
  const what = m === M.Lar ? 'lar' : m === M.Lsl ? 'lsl' : m === M.Verr ? 'verr' : 'verw';
  const srcIdx = what === 'lar' || what === 'lsl' ? 1 : 0;
  g.argFromOp(srcIdx, A0, 2);
  g.materializeFlags();
  g.callHelper(() => {
    const r = segInfo(cpu, Number(big(g, A0) & 0xffffn), what);
    const fl = cpu.getRflags();
    cpu.setRflags(r === null ? fl & ~ZF : fl | ZF);
    cpu.st.set64(A1, r === null ? -1n : BigInt(r));
  });
  if (srcIdx === 1) {
    const f = g.f;
    const t = g.tmp64();
    f.i32(0).i64Load(A1).tee(t).i64(-1, -1).i64Ne().if_();
    g.writeOp(0, t, g.opBytes(0));
    f.end();
  }
  g.lazyKind = -1;
}, false, Kick.Never);

sys(M.Arpl, (g) => {
  if (g.is64) { g.raise(Vec.UD); g.ended = true; return; }
  const cpu = g.cpu;
  g.argFromOp(0, A0, 2);
  g.argFromOp(1, A1, 2);
  g.materializeFlags();
  g.callHelper(() => {
    if (!cpu.protectedMode) throw fault(Vec.UD);
    const dst = Number(big(g, A0)), src = Number(big(g, A1));
    const fl = cpu.getRflags();
    if ((dst & 3) < (src & 3)) { cpu.st.set64(A0, BigInt((dst & ~3) | (src & 3))); cpu.setRflags(fl | ZF); }
    else cpu.setRflags(fl & ~ZF);
  });
  g.opFromArg(0, A0, 2);
  g.lazyKind = -1;
}, false);

sys(M.Invlpg, (g) => {
  const cpu = g.cpu;
  g.argFromAddr(A0, false, 1);
  g.callHelper(() => {
    if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
    const lo = cpu.st.lo(A0), hi = cpu.st.hi(A0);
    cpu.tlb.flushPage(lo, hi);
    cpu.code.flushLinearPage(lo, hi);
  });
}, true, Kick.Never);

sys(M.Invpcid, (g) => {
  const cpu = g.cpu;
  g.argFromOp(0, A1, 8);
  g.argFromAddr(A0, false, 16);
  g.callHelper(() => {
    if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
    const type = big(g, A1);
    if (type > 3n) throw fault(Vec.GP, 0);
    const desc0 = cpu.readLin(big(g, A0), 8);
    const addr = cpu.readLin(big(g, A0) + 8n, 8);
    if (desc0 > 0xfffn) throw fault(Vec.GP, 0);
    if (type === 0n) {
      const lo = Number(addr & 0xffffffffn), hi = Number(addr >> 32n);
      cpu.tlb.flushPage(lo, hi);
      cpu.code.flushLinearPage(lo, hi);
    }
    else cpu.flushTlb(type === 2n);
  });
});

sys([M.Wbinvd, M.Invd, M.Wbnoinvd], (g) => { const cpu = g.cpu; g.callHelper(() => { if (cpu.cpl !== 0) throw fault(Vec.GP, 0); }); }, false);

// ---- I/O ------------------------------------------------------------------------------------------

function ioPort(g: Gen): void {
  const d = g.insn;
  const idx = d.mnemonic === M.In ? 1 : 0;
  if (d.opKind[idx] === OpKind.Immediate8) g.f.i32(Number(d.imm[idx]) & 0xff);
  else { g.getReg(Register.DX); g.f.i32WrapI64(); }
}

def(M.In, (g) => {
  const n = g.opBytes(0);
  const v = g.tmp64();
  g.syncRip();
  ioPort(g);
  g.f.i32(n).callTable(g.rt.ioIn).i64ExtendI32U().set(v);
  g.writeOp(0, v, n);
});
def(M.Out, (g) => {
  const n = g.opBytes(1);
  g.syncRip();
  ioPort(g);
  g.f.i32(n);
  g.readOp(1, n); g.f.i32WrapI64();
  g.f.callTable(g.rt.ioOut);
  g.endAfter = true;
});
ENDS_BLOCK.add(M.Out);

// ---- other stack forms ------------------------------------------------------------------------------

sys([M.Pusha, M.Pushad], (g) => {
  if (g.is64) { g.raise(Vec.UD); g.ended = true; return; }
  const n = g.insn.mnemonic === M.Pusha ? 2 : 4;
  const sp0 = g.tmp64();
  g.getGprWidth(4, n); g.f.set(sp0);
  for (const r of [0, 1, 2, 3, 4, 5, 6, 7]) {
    const v = g.tmp64();
    if (r === 4) g.f.get(sp0).set(v); else { g.getGprWidth(r, n); g.f.set(v); }
    push(g, v, n);
  }
}, false);
sys([M.Popa, M.Popad], (g) => {
  if (g.is64) { g.raise(Vec.UD); g.ended = true; return; }
  const n = g.insn.mnemonic === M.Popa ? 2 : 4;
  for (const r of [7, 6, 5, 4, 3, 2, 1, 0]) {
    const v = pop(g, n);
    if (r !== 4) g.setGprWidthFrom(r, n, v);
  }
}, false);

sys(M.Enter, (g) => {
  const d = g.insn;
  const f = g.f;
  const size = g.is64 ? (d.bytes.includes(0x66) ? 2 : 8) : d.bitness === 32 !== d.bytes.slice(0, d.bytes.length - 4).includes(0x66) ? 4 : 2;
  const alloc = Number(d.imm[0]) & 0xffff;
  const level = Number(d.imm[1]) & 31;
  const sz = stackAddrSize(g);
  const bp = g.tmp64(), frame = g.tmp64();
  g.getGprWidth(5, size); f.set(bp);
  push(g, bp, size);
  g.getGprWidth(4, sz); f.set(frame);
  if (level > 0) {
    for (let i = 1; i < level; i++) {
      const v = g.tmp64();
      g.getGprWidth(5, sz); f.i64(i * size, 0).i64Sub();
      if (sz === 4) f.zext32(); else if (sz === 2) f.i64(0xffff, 0).i64And();
      const a = g.linearizeTo(2, size, false);
      g.load(a, size); f.set(v);
      push(g, v, size);
    }
    push(g, frame, size);
  }
  g.setGprWidthFrom(5, size, frame);
  const sp = g.tmp64();
  g.getGprWidth(4, sz); f.i64(alloc, 0).i64Sub();
  if (sz === 4) f.zext32(); else if (sz === 2) f.i64(0xffff, 0).i64And();
  f.set(sp);
  g.setGprWidthFrom(4, sz, sp);
}, false);

// ---- undefined-by-design instructions ----------------------------------------------------------------

sys([M.Ud0, M.Ud1, M.Ud2], (g) => { g.raise(Vec.UD); g.ended = true; });

// ---- far-branch code classification ---------------------------------------------------------------------

const FAR_CODES = new Set<number>();
for (const [name, v] of Object.entries(Code)) {
  if (typeof v !== 'number') continue;
  if (/^(Jmp|Call)_(ptr|m16)/.test(name)) FAR_CODES.add(v);
}
export function isFar(code: number): boolean { return FAR_CODES.has(code); }

