// String instructions with REP/REPE/REPNE. A REP loop runs inside the block for at most
// REP_CHUNK iterations, then leaves with RIP still on the instruction so interrupts can be taken.
import { Mnemonic, Register } from '../iced.js';
import { def } from './table.js';
import type { Gen } from './gen.js';
import { RFLAGS, RIP } from '../state-layout.js';
import { FK } from '../flags.js';
import { MEMSIZE_BYTES } from '../memsize.js';

const M = Mnemonic;
export const REP_CHUNK = 4096;

const ACC = [Register.AL, Register.AX, Register.EAX, Register.RAX];
const lg = (n: number) => (n === 1 ? 0 : n === 2 ? 1 : n === 4 ? 2 : 3);

interface StrCtx { n: number; delta: number; }

function maskAddr(g: Gen): void {
  const a = g.insn.addrSize;
  if (a === 4) g.f.zext32();
  else if (a === 2) g.f.i64(0xffff, 0).i64And();
}

/** Linear address of [seg:rSI] or [ES:rDI] into a new local. */
function ptr(g: Gen, reg: 6 | 7, seg: number, n: number, write: boolean): number {
  g.getGprWidth(reg, g.insn.addrSize);
  return g.linearizeTo(seg, n, write);
}

function advance(g: Gen, reg: 6 | 7, c: StrCtx): void {
  const t = g.tmp64();
  g.getGprWidth(reg, g.insn.addrSize); g.f.get(c.delta).i64Add(); maskAddr(g); g.f.set(t);
  g.setGprWidthFrom(reg, g.insn.addrSize, t);
}

function srcSeg(g: Gen): number { return g.segIndex(g.insn.memSeg === Register.None ? Register.DS : g.insn.memSeg); }

type Body = (g: Gen, c: StrCtx) => void;

function strOp(elemBytes: (g: Gen) => number, body: Body, cmpKind: 'none' | 'repz') {
  return (g: Gen) => {
    const f = g.f;
    const d = g.insn;
    const n = elemBytes(g);
    const delta = g.tmp64();
    // delta = DF ? -n : n
    f.i64(-n, -1).i64(n, 0).i32(0).i32Load(RFLAGS).i32(10).i32ShrU().i32(1).i32And().select().set(delta);
    const c: StrCtx = { n, delta };
    g.syncRip();
    if (!d.rep && !d.repne) { body(g, c); return; }
    const iter = g.tmp32();
    const cnt = g.tmp64();
    f.i32(0).set(iter);
    f.block(); // $done
    f.loop(); // $next
    g.getGprWidth(1, d.addrSize); f.i64Eqz().brIf(1);
    body(g, c);
    g.getGprWidth(1, d.addrSize); f.i64(1, 0).i64Sub().set(cnt);
    g.setGprWidthFrom(1, d.addrSize, cnt);
    if (cmpKind === 'repz') {
      // REPE stops when ZF = 0, REPNE when ZF = 1 (lazy state is SUB of this iteration)
      g.cond(d.repne ? 4 : 5);
      f.brIf(1);
    }
    f.get(iter).i32(1).i32Add().tee(iter).i32(REP_CHUNK).i32LtU().brIf(0);
    // chunk exhausted with work left: leave the block on this instruction
    g.getGprWidth(1, d.addrSize); f.i64Eqz().brIf(1);
    f.i32(0).i64Big(d.ip).i64Store(RIP);
    g.exitBlock();
    f.end(); // loop
    f.end(); // block
    if (cmpKind === 'repz') g.lazyKind = -1;
  };
}

const elem = (g: Gen) => MEMSIZE_BYTES[g.insn.memSize] || (g.opBytes(0));

def(M.Movsb === undefined ? [] : [M.Movsb, M.Movsw, M.Movsd, M.Movsq], strOp(elem, (g, c) => {
  const v = g.tmp64();
  const s = ptr(g, 6, srcSeg(g), c.n, false);
  g.load(s, c.n); g.f.set(v);
  const dd = ptr(g, 7, 0, c.n, true);
  g.store(dd, c.n, v);
  advance(g, 6, c); advance(g, 7, c);
}, 'none'));

def([M.Stosb, M.Stosw, M.Stosd, M.Stosq], strOp(elem, (g, c) => {
  const v = g.tmp64();
  g.getReg(ACC[lg(c.n)]); g.f.set(v);
  const dd = ptr(g, 7, 0, c.n, true);
  g.store(dd, c.n, v);
  advance(g, 7, c);
}, 'none'));

def([M.Lodsb, M.Lodsw, M.Lodsd, M.Lodsq], strOp(elem, (g, c) => {
  const v = g.tmp64();
  const s = ptr(g, 6, srcSeg(g), c.n, false);
  g.load(s, c.n); g.f.set(v);
  g.setRegFrom(ACC[lg(c.n)], v);
  advance(g, 6, c);
}, 'none'));

def([M.Cmpsb, M.Cmpsw, M.Cmpsd, M.Cmpsq], strOp(elem, (g, c) => {
  const a = g.tmp64(), b = g.tmp64(), r = g.tmp64();
  const s = ptr(g, 6, srcSeg(g), c.n, false);
  g.load(s, c.n); g.f.set(a);
  const dd = ptr(g, 7, 0, c.n, false);
  g.load(dd, c.n); g.f.set(b);
  g.f.get(a).get(b).i64Sub().set(r);
  advance(g, 6, c); advance(g, 7, c);
  const live = g.flagsLive; g.flagsLive = true;
  g.setFlags(FK.SUB, c.n, r, a, b);
  g.flagsLive = live;
}, 'repz'));

def([M.Scasb, M.Scasw, M.Scasd, M.Scasq], strOp(elem, (g, c) => {
  const a = g.tmp64(), b = g.tmp64(), r = g.tmp64();
  g.getReg(ACC[lg(c.n)]); g.f.set(a);
  const dd = ptr(g, 7, 0, c.n, false);
  g.load(dd, c.n); g.f.set(b);
  g.f.get(a).get(b).i64Sub().set(r);
  advance(g, 7, c);
  const live = g.flagsLive; g.flagsLive = true;
  g.setFlags(FK.SUB, c.n, r, a, b);
  g.flagsLive = live;
}, 'repz'));

def([M.Insb, M.Insw, M.Insd], strOp(elem, (g, c) => {
  const v = g.tmp64();
  g.getReg(Register.DX); g.f.i32WrapI64().i32(c.n).callTable(g.rt.ioIn).i64ExtendI32U().set(v);
  const dd = ptr(g, 7, 0, c.n, true);
  g.store(dd, c.n, v);
  advance(g, 7, c);
}, 'none'));

def([M.Outsb, M.Outsw, M.Outsd], strOp(elem, (g, c) => {
  const v = g.tmp64();
  const s = ptr(g, 6, srcSeg(g), c.n, false);
  g.load(s, c.n); g.f.set(v);
  g.getReg(Register.DX); g.f.i32WrapI64().i32(c.n).get(v).i32WrapI64().callTable(g.rt.ioOut);
  advance(g, 6, c);
}, 'none'));

