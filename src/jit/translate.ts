import { ModuleBuilder, FnBody, T, type TableFn } from './wasm/encoder.js';
import { RT_NAMES, rtSig, rtSlot, type RtName } from './runtime-module.js';
import { Gen, type RtFns, type HelperFn, type Kick } from '../cpu/sem/gen.js';
import { SEM } from '../cpu/sem/table.js';
import type { Insn } from '../cpu/decode.js';
import { flagLiveness } from './liveness.js';
import { Mnemonic, OpKind } from '../cpu/iced.js';
import type { Cpu } from '../cpu/cpu.js';
import { MODE_TF } from '../cpu/mode.js';
import { TF } from '../cpu/flags.js';
import { DR, ICOUNT, DEADLINE, RIP, MODE, segOff, SEG_BASE } from '../cpu/state-layout.js';
import { JC } from '../mmu/layout.js';
import { MODE_CS64 } from '../cpu/mode.js';
import { deliverEvent, EventKind } from '../cpu/system/interrupts.js';
import '../cpu/sem/index.js';

export interface BlockCode {
  ip: bigint;
  insns: Insn[];
}

export interface TranslateHooks {
  cpu: Cpu;
  bindHelper(fn: HelperFn, kick: Kick): number;
  /** Semantics for an instruction with no implementation: raise #UD and count it. */
  undefinedInsn(g: Gen): void;
  /** The helper-based predicate for liveness (instructions implemented in TypeScript). */
  isHelperBased(d: Insn): boolean;
}

const MNEMONIC_NAME: string[] = [];
for (const [k, v] of Object.entries(Mnemonic)) if (typeof v === 'number') MNEMONIC_NAME[v] = k;
export const mnemonicName = (m: number): string => MNEMONIC_NAME[m] ?? `#${m}`;

/**
 * Block epilogue: tail-call the runtime module's `dispatch`, which returns to the dispatcher when the
 * instruction budget is spent and otherwise chains to the next block through the jump cache. Only the
 * runtime instance imports the function table: V8 keeps a dispatch table per importing instance, so
 * a table shared by thousands of block modules would make every table update cost O(modules).
 */
function emitChain(f: FnBody, dispatchFn: TableFn): void {
  f.returnCallTable(dispatchFn);
}

/** The runtime functions as slots of the runtime table, typed in module `m`. */
export function runtimeRefs(m: ModuleBuilder): RtFns {
  const ref = (name: RtName): TableFn => ({ slot: rtSlot(name), type: m.typeIndex(...rtSig(name)) });
  return {
    rd: [ref('rd8'), ref('rd16'), ref('rd32'), ref('rd64')],
    wr: [ref('wr8'), ref('wr16'), ref('wr32'), ref('wr64')],
    rds: [ref('rds8'), ref('rds16'), ref('rds32'), ref('rds64')],
    wrs: [ref('wrs8'), ref('wrs16'), ref('wrs32'), ref('wrs64')],
    flagsGet: ref('flags_get'), mul128: ref('mul128'), div128: ref('div128'), dispatch: ref('dispatch'),
    helper: ref('helper'), ioIn: ref('io_in'), ioOut: ref('io_out'), raise: ref('raise'), segCheck: ref('seg_check'), hot: ref('hot'),
  };
}

export { jumpCacheIndex } from './runtime-module.js';
import { emitJumpCacheProbe } from './runtime-module.js';

function touchesMemory(d: Insn): boolean {
  if (d.mnemonic === Mnemonic.Lea || d.mnemonic === Mnemonic.Nop) return false;
  for (const k of d.opKind) if (k === OpKind.Memory || (k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI)) return true;
  return false;
}

/**
 * Executions after which a cold block asks for a hot region (see Engine.compileHot). Measured on the
 * Linux boot and the guest-kernel benchmark: regions pay off for long-running loops only; at 2,000 the
 * kernel's init code compiled hundreds of regions it barely reused, and once cold blocks branched to
 * each other directly, the PVH boot ran ~5 % faster at 200,000 (28 regions) than at 20,000 (92), with
 * the benchmark kernels unchanged.
 */
export const HOT_THRESHOLD = 200000;

/**
 * Emit one block's instructions (shared by both tiers): semantics with flag liveness, RIP synced
 * before anything that may fault, the next RIP stored when the block falls through, the retired
 * instructions accounted.
 */
function emitBlockBody(g: Gen, b: BlockCode, hooks: TranslateHooks): void {
  const f = g.f;
  const live = flagLiveness(b.insns, hooks.isHelperBased);
  g.lazyKind = -1;
  for (let i = 0; i < b.insns.length; i++) {
    const d = b.insns[i];
    g.beginInsn(d);
    g.retired = i;
    g.flagsLive = live[i];
    // Memory and stack accesses may fault: the faulting RIP must be this instruction's. (Region code
    // stores it on the way into any runtime call instead: faults happen only there.)
    if (!g.regs && (d.stackInc !== 0 || touchesMemory(d))) g.syncRip();
    const sem = d.isInvalid ? undefined : SEM[d.mnemonic];
    if (sem) sem(g);
    else hooks.undefinedInsn(g);
    if (g.ended) break;
  }
  if (!g.ended) {
    const last = b.insns[b.insns.length - 1];
    f.i32(0).i64Big(last.next).i64Store(RIP);
  }
  g.addIcount(b.insns.length);
}

/**
 * Build one Wasm module holding one exported function per block (`b0`, `b1`, …). With `counters`,
 * each block that `counts` first bumps its execution counter (a 32-bit word at that address) and
 * reports the block's table slot through the runtime's `hot` once the count reaches its threshold;
 * the others only own the word (its sign bit closes direct edges to them, see emitLinks).
 */
export function translateBlocks(blocks: BlockCode[], mode: number, hooks: TranslateHooks, memPages: number, memMax: number, counters?: { addr: number; slot: number; threshold: number; counts?: boolean }[], links?: BlockLink[][]): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder({ module: 'env', name: 'mem', pages: memPages, maxPages: memMax });
  m.importTable('env', 'rt', RT_NAMES.length);
  const rt = runtimeRefs(m);
  const fnIndex = blocks.map((_, bi) => m.declareFunction([], [], `b${bi}`));
  blocks.forEach((b, bi) => {
    const f = new FnBody(0);
    const g = new Gen(f, mode, rt, hooks.bindHelper, hooks.cpu);
    const c = counters?.[bi];
    if (c && c.counts !== false) {
      const t = f.local(T.i32);
      f.i32(c.addr).i32(c.addr).i32Load().i32(1).i32Add().tee(t).i32Store();
      f.get(t).i32(c.threshold).i32Eq().if_().i32(c.slot).callTable(rt.hot).end();
    }
    emitBlockBody(g, b, hooks);
    if (mode & MODE_TF) {
      // single-step: a #DB trap after the instruction (SDM vol. 3 §17.3.1.4), reported in DR6.BS
      const cpu = hooks.cpu;
      g.callHelperNoSync(() => {
        if (!(cpu.getRflags() & TF)) return; // the instruction itself cleared TF (POPF, IRET…)
        cpu.st.set64(DR + 6 * 8, cpu.st.get64(DR + 6 * 8) | 0x4000n);
        deliverEvent(cpu, 1, EventKind.Exception, -1);
      });
    }
    const out = links?.[bi];
    if (out?.length) emitLinks(f, out, fnIndex);
    emitChain(f, rt.dispatch);
    m.setBody(fnIndex[bi], f);
  });
  return m.emit();
}

/**
 * A direct edge from a cold block to a block of the same module: taken when RIP is the successor's,
 * the instruction budget is not spent, and the successor has not gone hot (its hot counter's sign
 * bit, set when it joins a region: calls must then reach the region through dispatch).
 */
export interface BlockLink {
  ip: bigint;
  /** Index of the successor in the module's blocks. */
  to: number;
  /** Address of the successor's hot counter, or 0 when it has none. */
  counter: number;
}

/**
 * Block-to-block edges inside a module: a direct tail call is predicted where dispatch's single
 * indirect call is not, and skips the jump-cache probe. Only edges whose invalidation invalidates
 * the caller too are linked (see Engine.linksOf), so a live caller never reaches dead code.
 */
function emitLinks(f: FnBody, out: BlockLink[], fnIndex: number[]): void {
  // (MODE needs no check: an instruction that may change it ends its block unlinked, see linksOf)
  f.i32(0).i64Load(ICOUNT).i32(0).i64Load(DEADLINE).i64LtU();
  f.if_();
  for (const l of out) {
    f.i32(0).i64Load(RIP).i64Big(l.ip).i64Eq();
    if (l.counter) f.i32(l.counter).i32Load().i32(0).i32GeS().i32And();
    f.if_().returnCall(fnIndex[l.to]).end();
  }
  f.end();
}

/** How region block i ends: in-region static successors [RIP, index], and whether that is all of them
 * (`complete`) or it ends in an indirect jump/call/return whose target may be in the region. */
export interface RegionExit { succ: [bigint, number][]; complete: boolean; indirect: boolean }

/**
 * The hot tier: one Wasm function for a whole region (the loop around a hot block, see
 * Engine.compileRegion), exported through one entry function per block (`e0`, `e1`, …). Guest registers live in
 * locals for the whole region and are spilled to the state block only around runtime calls (which
 * may fault, run a helper or read memory through TypeScript) and at exits. Direct branches between
 * the region's blocks stay inside the function (a loop around a br_table on the block index), and so
 * do indirect jumps and returns that land on a block of this region (found by a br_table on RIP's
 * low bits, see regionHash; the jump cache where no such hash exists); the instruction budget is
 * checked on every such edge.
 * `exits[i]` describes block i's end: its in-region successors as [RIP, block index], and whether
 * it ends in an indirect jump, call or return.
 */
export function translateRegion(blocks: BlockCode[], exits: RegionExit[], mode: number, csBase: number, regionId: number, hooks: TranslateHooks, memPages: number, memMax: number): Uint8Array<ArrayBuffer> {
  // pass 1: which GPRs the region uses and writes (helpers bound here are dummies, code discarded)
  const seen = { used: 0, written: 0 };
  const dummy: TranslateHooks = { ...hooks, bindHelper: () => 0, undefinedInsn: (g) => { g.ended = true; } };
  emitRegion(blocks, exits, mode, csBase, regionId, dummy, memPages, memMax, seen, null);
  return emitRegion(blocks, exits, mode, csBase, regionId, hooks, memPages, memMax, seen, seen);
}

function emitRegion(blocks: BlockCode[], exits: RegionExit[], mode: number, csBase: number, regionId: number, hooks: TranslateHooks,
  memPages: number, memMax: number, seen: { used: number; written: number }, known: { used: number; written: number } | null): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder({ module: 'env', name: 'mem', pages: memPages, maxPages: memMax });
  m.importTable('env', 'rt', RT_NAMES.length);
  const rt = runtimeRefs(m);
  const n = blocks.length;
  const region = m.declareFunction([T.i32], []);
  const f = new FnBody(1);
  const next = 0;
  const regs = Array.from({ length: 16 }, () => f.local(T.i64));
  const rip = f.local(T.i64);
  const lo = f.local(T.i32), e = f.local(T.i32);
  const icount = f.local(T.i64), budget = f.local(T.i64);
  const gen = () => {
    const g = new Gen(f, mode, rt, hooks.bindHelper, hooks.cpu);
    g.regs = regs;
    g.icountLocal = icount;
    g.seen = seen;
    if (known) { g.regsUsed = known.used; g.regsWritten = known.written; }
    return g;
  };
  const hash = exits.some((x) => x.indirect) ? regionHash(blocks) : null;
  f.loop();
  for (let i = 0; i < n; i++) f.block();
  if (hash) {
    // `next` is a block index, or n + the RIP hash of an indirect jump (see regionHash): its arm
    // compares RIP with its block's address and branches there, a miss leaves through dispatch
    const arms = hash.arms, A = arms.length;
    f.block(); // $miss
    for (let a = 0; a < A; a++) f.block();
    const toBlock = Array.from({ length: n }, (_, k) => A + 1 + k);
    f.get(next).brTable([...toBlock, ...hash.slots.map((k) => (k < 0 ? A : arms.indexOf(k)))], A);
    arms.forEach((k, a) => {
      f.end(); // arm a, nested in arms a+1…, $miss and the block labels
      const out = A - 1 - a;
      f.get(rip).i64Big(blocks[k].ip).i64Eq().if_().br(out + 2 + k).end();
      if (out > 0) f.br(out);
    });
    f.end(); // $miss: RIP is in the state block already
    gen().spillRegs();
    emitChain(f, rt.dispatch);
  } else {
    f.get(next).brTable(Array.from({ length: n }, (_, i) => i), n - 1);
  }
  // The instruction budget is checked on every edge, as the cold tier's dispatch does between blocks
  // (so both tiers stop at the same instruction: runs stay deterministic whichever tier ran them).
  // `budget` = DEADLINE - ICOUNT, refreshed after runtime calls (a helper or device may have kicked,
  // spilling moved the pending count into ICOUNT).
  const setBudget = () => { f.i32(0).i64Load(DEADLINE).i32(0).i64Load(ICOUNT).i64Sub().set(budget); };
  /** Budget spent (timer due, kick, stop): leave with the state in memory. */
  const leaveIfSpent = (g: Gen) => {
    f.get(icount).get(budget).i64GeS().if_();
    g.spillRegs();
    f.return_().end();
  };
  blocks.forEach((b, i) => {
    f.end(); // block i's label: its code follows, nested in the labels of blocks i+1… and the loop
    const toLoop = n - 1 - i;
    f.trackLocals();
    const g = gen();
    // around runtime calls: spill (precise state for faults and helpers), reload after helpers
    f.onCall = (fn, after) => {
      if (fn.slot === rt.flagsGet.slot || fn.slot === rt.mul128.slot) return;
      if (after) {
        if (fn.slot === rt.helper.slot) g.reloadRegs();
        setBudget();
        return;
      }
      g.spillRegs();
      if (!g.ended) g.syncRip();
    };
    emitBlockBody(g, b, hooks);
    f.onCall = null;
    const { succ, indirect, complete } = exits[i];
    // go to block k from inside `depth` extra nesting levels: fall into the next block's code, else loop
    const goTo = (k: number, depth: number) => {
      leaveIfSpent(g);
      if (k === i + 1) f.br(depth);
      else f.i32(k).set(next).br(toLoop + depth);
    };
    if (succ.length === 1 && complete) goTo(succ[0][1], 0);
    else if (succ.length || indirect) {
      f.i32(0).i64Load(RIP).set(rip);
      succ.forEach(([ip, k], j) => {
        if (complete && j === succ.length - 1) { goTo(k, 0); return; }
        f.get(rip).i64Big(ip).i64Eq().if_();
        goTo(k, 1);
        f.end();
      });
      if (indirect && hash) {
        // to the arm of RIP's hash at the loop head (see above)
        leaveIfSpent(g);
        f.get(rip).i32WrapI64().i32(hash.shift).i32ShrU().i32(hash.mask).i32And().i32(n).i32Add().set(next).br(toLoop);
      } else if (indirect) {
        // the jump cache entry for RIP, if it names a block of this region (same mode and CS base)
        f.get(rip).i32WrapI64().set(lo);
        emitJumpCacheProbe(f, lo, e);
        f.get(e).i32Load(JC.ipHi).get(rip).i64(32, 0).i64ShrU().i32WrapI64().i32Eq().i32And();
        f.get(e).i32Load(JC.region).i32(regionId).i32Eq().i32And();
        f.get(e).i32Load(JC.mode).i32(mode).i32Eq().i32And();
        f.get(e).i32Load(JC.csBase).i32(csBase).i32Eq().i32And();
        f.if_();
        leaveIfSpent(g);
        f.get(e).i32Load(JC.index).set(next).br(toLoop + 1).end();
      }
    }
    g.spillRegs();
    emitChain(f, rt.dispatch);
    f.releaseLocals();
  });
  f.end(); // loop
  f.prepend(() => { gen().reloadRegs(); setBudget(); });
  m.setBody(region, f);
  for (let i = 0; i < n; i++) {
    const e = new FnBody(0);
    e.i32(i).returnCall(region);
    m.addFunction([], [], e, `e${i}`);
  }
  return m.emit();
}

/**
 * Indirect jumps and returns that land in their own region (an interpreter's dispatch, a loop
 * calling a function of its page) find their block without the jump cache: RIP's low bits, shifted
 * and masked, index a br_table whose arms compare RIP with their block's. `slots[h]` is the block
 * index for hash h (-1: none), `arms` the blocks in arm order. Null when no shift keeps the region's
 * blocks apart within 256 slots (the jump-cache probe is used then).
 */
function regionHash(blocks: BlockCode[]): { shift: number; mask: number; slots: number[]; arms: number[] } | null {
  const ips = blocks.map((b) => Number(b.ip & 0xffffffffn));
  for (let bits = Math.max(1, Math.ceil(Math.log2(ips.length))); bits <= 8; bits++) {
    const mask = (1 << bits) - 1;
    for (let shift = 0; shift <= 12; shift++) {
      const slots = new Array<number>(mask + 1).fill(-1);
      let ok = true;
      for (let k = 0; k < ips.length && ok; k++) {
        const h = (ips[k] >>> shift) & mask;
        if (slots[h] >= 0) ok = false;
        else slots[h] = k;
      }
      if (ok) return { shift, mask, slots, arms: slots.filter((k) => k >= 0) };
    }
  }
  return null;
}
