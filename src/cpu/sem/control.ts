// Near control transfer, stack instructions.
import { Mnemonic, OpKind, Register } from '../iced.js';
import { def } from './table.js';
import type { Gen } from './gen.js';
import { push, pop, stackAddrSize } from './stack.js';
import { RIP, RFLAGS, segOff, SEG_SEL } from '../state-layout.js';
import { REG, RegClass } from '../regs.js';

const M = Mnemonic;
export const JCC = [M.Jo, M.Jno, M.Jb, M.Jae, M.Je, M.Jne, M.Jbe, M.Ja, M.Js, M.Jns, M.Jp, M.Jnp, M.Jl, M.Jge, M.Jle, M.Jg];

function maskIp(g: Gen, n: number): void {
  if (n === 4) g.f.zext32();
  else if (n === 2) g.f.i64(0xffff, 0).i64And();
}

/** Operand size of a near branch: 64 in long mode, else the instruction's operand size. */
function branchSize(g: Gen): number {
  const d = g.insn;
  if (g.is64) return 8;
  const s = -d.stackInc;
  if (s === 2 || s === 4) return s;
  return d.bitness === 16 ? 2 : 4;
}

/** End the block with RIP = branch target if the i32 on the stack is non-zero, else the next instruction. */
function branchIf(g: Gen): void {
  const f = g.f;
  f.if_();
  f.i32(0).i64Big(g.insn.branchTarget).i64Store(RIP);
  f.else_();
  f.i32(0).i64Big(g.insn.next).i64Store(RIP);
  f.end();
  g.ended = true;
}

JCC.forEach((m, cc) => def(m, (g) => {
  g.cond(cc);
  branchIf(g);
}));

export function isNearTarget(g: Gen): boolean {
  const k = g.insn.opKind[0];
  return k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64;
}

/** Near JMP; far forms are handled in system.ts (registered after this file). */
export function jmpNear(g: Gen): void {
  if (isNearTarget(g)) { g.jumpConst(g.insn.branchTarget); return; }
  const t = g.tmp64();
  const n = g.opBytes(0);
  g.readOp(0, n); g.f.set(t);
  g.jumpTo(t);
}

export function callNear(g: Gen): void {
  const f = g.f;
  const n = -g.insn.stackInc;
  const t = g.tmp64(), ret = g.tmp64();
  if (isNearTarget(g)) f.i64Big(g.insn.branchTarget);
  else { g.readOp(0, g.opBytes(0)); }
  f.set(t);
  f.i64Big(g.insn.next).set(ret);
  push(g, ret, n);
  g.jumpTo(t);
}

export function retNear(g: Gen): void {
  const d = g.insn;
  const imm = d.opCount === 1 ? Number(d.imm[0]) & 0xffff : 0;
  const n = d.stackInc - imm;
  const t = pop(g, n, imm);
  g.f.get(t); maskIp(g, branchSize(g)); g.f.set(t);
  g.jumpTo(t);
}

def(M.Ret, retNear);

function countReg(g: Gen): void { g.getGprWidth(1, g.insn.addrSize); }

def([M.Jcxz, M.Jecxz, M.Jrcxz], (g) => {
  countReg(g);
  g.f.i64Eqz();
  branchIf(g);
});

def([M.Loop, M.Loope, M.Loopne], (g) => {
  const f = g.f;
  const d = g.insn;
  const c = g.tmp64();
  countReg(g); f.i64(1, 0).i64Sub().set(c);
  g.setGprWidthFrom(1, d.addrSize, c);
  f.get(c);
  if (d.addrSize === 4) f.zext32(); else if (d.addrSize === 2) f.i64(0xffff, 0).i64And();
  f.i64Eqz().i32Eqz();
  if (d.mnemonic === M.Loope) { g.cond(4); f.i32And(); }
  if (d.mnemonic === M.Loopne) { g.cond(5); f.i32And(); }
  branchIf(g);
});

def(M.Push, (g) => {
  const d = g.insn;
  const n = -d.stackInc;
  const v = g.tmp64();
  if (d.opKind[0] === OpKind.Register && REG[d.opReg[0]].cls === RegClass.Seg) {
    g.f.i32(0).i64Load32U(segOff(REG[d.opReg[0]].idx, SEG_SEL)).i64(0xffff, 0).i64And().set(v);
  } else {
    g.readOp(0, n); g.f.set(v);
  }
  push(g, v, n);
});

/** POP r/m (segment-register pops are in system.ts). */
export function popGeneral(g: Gen): void {
  const d = g.insn;
  const n = d.stackInc;
  if (g.isMem(0)) {
    // The destination address uses RSP after the pop (SDM: POP); fine for all non-RSP-based operands.
    const v = pop(g, n);
    g.writeOp(0, v, n);
    return;
  }
  const v = pop(g, n);
  g.writeOp(0, v, n);
}

def([M.Pushf, M.Pushfd, M.Pushfq], (g) => {
  const n = -g.insn.stackInc;
  const v = g.tmp64();
  // RF and VM are never pushed set
  g.f.callTable(g.rt.flagsGet).i32(~((1 << 16) | (1 << 17))).i32And().i64ExtendI32U().set(v);
  push(g, v, n);
});

def(M.Leave, (g) => {
  const sz = stackAddrSize(g);
  const bp = g.tmp64();
  g.getGprWidth(5, sz); g.f.set(bp);
  g.setGprWidthFrom(4, sz, bp);
  const size = leaveSize(g);
  const v = pop(g, size);
  g.setGprWidthFrom(5, size, v);
});

function leaveSize(g: Gen): number {
  // iced: Leavew / Leaved / Leaveq
  const b = g.insn.bytes;
  const has66 = Array.from(b).some((x, i) => x === 0x66 && i < b.length - 1);
  if (g.is64) return has66 ? 2 : 8;
  const def32 = g.insn.bitness === 32;
  return def32 !== has66 ? 4 : 2;
}

