// The runtime module: Wasm functions every block module imports. Memory accesses take the TLB
// fast path here and leave Wasm only on a miss; flags materialization and 128-bit mul/div too.
import { ModuleBuilder, FnBody, T } from './wasm/encoder.js';
import { TLB_BANK, BOUNCE, RET64, ICOUNT, DEADLINE, RIP, MODE, segOff, SEG_BASE, STACK_ACCESS } from '../cpu/state-layout.js';
import { JUMP_CACHE_BASE, JUMP_CACHE_ENTRIES, JUMP_CACHE_ENTRY_SIZE, JC, TLB_ENTRIES } from '../mmu/layout.js';
import { MODE_CS64 } from '../cpu/mode.js';

/**
 * The jump cache is 2-way set associative: a RIP's low 32 bits hash to a set of two adjacent
 * entries (one 64-byte line). Direct-mapped, a third of the Linux boot's returns to the dispatcher
 * were conflicts. The first way holds the most recently inserted entry.
 */
const JC_HASH_SHIFT = 16;
export const JC_WAYS = 2;
const JC_SETS = JUMP_CACHE_ENTRIES / JC_WAYS;
/** Entry index of the first way of the set for a RIP's low 32 bits (shared with the dispatcher). */
export function jumpCacheIndex(ripLo: number): number {
  return (((ripLo ^ (ripLo >>> JC_HASH_SHIFT)) & (JC_SETS - 1)) * JC_WAYS) >>> 0;
}
import { emitMaterializer } from '../cpu/flags.js';

export interface RuntimeImports {
  /**
   * Fill the TLB for a read of `size` bytes at linear (lo, hi); 1 = retry the fast path, 0 = value
   * left in BOUNCE. Throws guest faults. `size` | STACK_ACCESS: an access through SS in 64-bit mode.
   */
  tlb_miss_read(lo: number, hi: number, size: number): number;
  /** Same for a write of (vlo, vhi); 0 = the write was done by the slow path. */
  tlb_miss_write(lo: number, hi: number, size: number, vlo: number, vhi: number): number;
  /** Raise a guest exception (throws). */
  raise(vector: number, err: number): void;
}

/**
 * The runtime table: block modules import it as their table 0 and reach every runtime function
 * through `call_indirect` at these constant slots. They import no functions at all: V8 compiles
 * import-call wrappers for every imported function signature of every module it compiles, which
 * cost more than the blocks themselves (~200 µs a module). The table is filled once, never changed.
 */
export const RT_SIGS = {
  rd8: [[T.i64], [T.i64]], rd16: [[T.i64], [T.i64]], rd32: [[T.i64], [T.i64]], rd64: [[T.i64], [T.i64]],
  wr8: [[T.i64, T.i64], []], wr16: [[T.i64, T.i64], []], wr32: [[T.i64, T.i64], []], wr64: [[T.i64, T.i64], []],
  // the same through the stack segment in 64-bit mode: a non-canonical address raises #SS(0), not #GP(0)
  rds8: [[T.i64], [T.i64]], rds16: [[T.i64], [T.i64]], rds32: [[T.i64], [T.i64]], rds64: [[T.i64], [T.i64]],
  wrs8: [[T.i64, T.i64], []], wrs16: [[T.i64, T.i64], []], wrs32: [[T.i64, T.i64], []], wrs64: [[T.i64, T.i64], []],
  flags_get: [[], [T.i32]],
  mul128: [[T.i64, T.i64, T.i32], [T.i64]],
  div128: [[T.i64, T.i64, T.i64, T.i32, T.i32], [T.i64]],
  dispatch: [[], []],
  helper: [[T.i32], []],
  io_in: [[T.i32, T.i32], [T.i32]],
  io_out: [[T.i32, T.i32, T.i32], []],
  raise: [[T.i32, T.i32], []],
  seg_check: [[T.i32, T.i32, T.i32, T.i32], []],
  hot: [[T.i32], []],
};
export type RtName = keyof typeof RT_SIGS;
/** Parameter and result types of runtime function `name`. */
export const rtSig = (name: RtName): [T[], T[]] => RT_SIGS[name] as [T[], T[]];
export const RT_NAMES = Object.keys(RT_SIGS) as RtName[];
export const rtSlot = (name: RtName): number => RT_NAMES.indexOf(name);

/** JavaScript functions the runtime module wraps for block modules (the Engine provides them). */
const JS_TRAMPOLINES: RtName[] = ['helper', 'io_in', 'io_out', 'seg_check', 'hot'];

export interface RuntimeExports {
  rd8: Function; rd16: Function; rd32: Function; rd64: Function;
  wr8: Function; wr16: Function; wr32: Function; wr64: Function;
  rds8: Function; rds16: Function; rds32: Function; rds64: Function;
  wrs8: Function; wrs16: Function; wrs32: Function; wrs64: Function;
  flags_get: () => number;
  mul128: Function;
  div128: Function;
  dispatch: Function;
}

const SIZES = [1, 2, 4, 8];

function emitEntry(f: FnBody, va: number, e: number): void {
  // e = bank + ((va >> 12) & (TLB_ENTRIES - 1)) * 32, the shift folded into one
  f.i32(0).i32Load(TLB_BANK);
  f.get(va).i32WrapI64().i32(7).i32ShrU().i32((TLB_ENTRIES - 1) << 5).i32And();
  f.i32Add().set(e);
}

function emitTag(f: FnBody, va: number, size: number): void {
  f.get(va);
  if (size > 1) f.i64(size - 1, 0).i64Add();
  f.i64(~0xfff, -1).i64And();
}

function emitRead(f: FnBody, size: number, self: number, missFn: number, stack: boolean): void {
  const va = 0;
  const e = f.local(T.i32);
  emitEntry(f, va, e);
  f.get(e).i64Load(0);
  emitTag(f, va, size);
  f.i64Eq();
  f.if_();
  f.get(va).get(e).i64Load(16).i64Add().i32WrapI64();
  if (size === 1) f.i64Load8U(); else if (size === 2) f.i64Load16U(); else if (size === 4) f.i64Load32U(); else f.i64Load();
  f.return_();
  f.end();
  f.get(va).i32WrapI64().get(va).i64(32, 0).i64ShrU().i32WrapI64().i32(size | (stack ? STACK_ACCESS : 0)).call(missFn);
  f.if_(T.i64);
  f.get(va).returnCall(self);
  f.else_();
  f.i32(0);
  if (size === 1) f.i64Load8U(BOUNCE); else if (size === 2) f.i64Load16U(BOUNCE); else if (size === 4) f.i64Load32U(BOUNCE); else f.i64Load(BOUNCE);
  f.end();
}

function emitWrite(f: FnBody, size: number, self: number, missFn: number, stack: boolean): void {
  const va = 0, v = 1;
  const e = f.local(T.i32);
  emitEntry(f, va, e);
  f.get(e).i64Load(8);
  emitTag(f, va, size);
  f.i64Eq();
  f.if_();
  f.get(va).get(e).i64Load(16).i64Add().i32WrapI64().get(v);
  if (size === 1) f.i64Store8(); else if (size === 2) f.i64Store16(); else if (size === 4) f.i64Store32(); else f.i64Store();
  f.return_();
  f.end();
  f.get(va).i32WrapI64().get(va).i64(32, 0).i64ShrU().i32WrapI64().i32(size | (stack ? STACK_ACCESS : 0));
  f.get(v).i32WrapI64().get(v).i64(32, 0).i64ShrU().i32WrapI64();
  f.call(missFn);
  f.if_();
  f.get(va).get(v).returnCall(self);
  f.end();
}

/** mul128(a, b, signed) -> low 64 bits; high 64 bits stored at RET64. */
function emitMul128(f: FnBody): void {
  const a = 0, b = 1, signed = 2;
  const p00 = f.local(T.i64), p01 = f.local(T.i64), p10 = f.local(T.i64), mid = f.local(T.i64), hi = f.local(T.i64);
  const lo32 = (x: number) => f.get(x).zext32();
  const hi32 = (x: number) => f.get(x).i64(32, 0).i64ShrU();
  lo32(a); lo32(b); f.i64Mul().set(p00);
  lo32(a); hi32(b); f.i64Mul().set(p01);
  hi32(a); lo32(b); f.i64Mul().set(p10);
  hi32(p00); lo32(p01); f.i64Add(); lo32(p10); f.i64Add().set(mid);
  hi32(a); hi32(b); f.i64Mul(); hi32(p01); f.i64Add(); hi32(p10); f.i64Add(); hi32(mid); f.i64Add().set(hi);
  f.get(signed).if_();
  // signed high = unsigned high - (a<0 ? b : 0) - (b<0 ? a : 0)
  f.get(hi).get(b).i64(0, 0).get(a).i64(0, 0).i64LtS().select().i64Sub();
  f.get(a).i64(0, 0).get(b).i64(0, 0).i64LtS().select().i64Sub().set(hi);
  f.end();
  f.i32(0).get(hi).i64Store(RET64);
  lo32(p00); f.get(mid).i64(32, 0).i64Shl().i64Or();
}

/**
 * div128(hi, lo, d, signed, bytes) -> quotient; remainder at RET64. For bytes < 8 the dividend is
 * `lo` alone (already extended by the caller). Raises #DE on divide-by-zero or quotient overflow.
 */
function emitDiv128(f: FnBody, raiseFn: number): void {
  const hi = 0, lo = 1, d = 2, signed = 3, bytes = 4;
  const q = f.local(T.i64), r = f.local(T.i64), negQ = f.local(T.i32), negR = f.local(T.i32), i = f.local(T.i32), carry = f.local(T.i64);
  const de = () => { f.i32(0).i32(-1).call(raiseFn).unreachable(); };
  f.get(d).i64Eqz().if_(); de(); f.end();
  f.get(bytes).i32(8).i32Ne().if_(T.i64);
  {
    // Narrow forms: the whole dividend fits in i64.
    f.get(signed).if_(T.i64);
    f.get(lo).i64(0, 0x80000000 | 0).i64Eq().get(d).i64(-1, -1).i64Eq().i32And().if_(); de(); f.end();
    f.get(lo).get(d).i64RemS().set(r);
    f.get(lo).get(d).i64DivS().tee(q);
    // range check: q must fit in bytes*8 signed bits: sext(q, w) == q
    f.get(bytes).i32(1).i32Eq().if_(T.i64).get(q).i64Extend8S().else_()
      .get(bytes).i32(2).i32Eq().if_(T.i64).get(q).i64Extend16S().else_().get(q).i64Extend32S().end().end();
    f.i64Ne().if_(); de(); f.end();
    f.get(q);
    f.else_();
    f.get(lo).get(d).i64RemU().set(r);
    f.get(lo).get(d).i64DivU().tee(q);
    // q must be <= mask
    f.i64(-1, -1).get(bytes).i64ExtendI32U().i64(3, 0).i64Shl().i64Shl().i64(-1, -1).i64Xor();
    f.i64GtU().if_(); de(); f.end();
    f.get(q);
    f.end();
    f.else_();
    // 128 / 64
    f.i32(0).set(negQ).i32(0).set(negR);
    f.get(signed).if_();
    f.get(hi).i64(0, 0).i64LtS().if_();
    f.i32(1).set(negQ).i32(1).set(negR);
    f.get(hi).i64(-1, -1).i64Xor().get(lo).i64Eqz().i64ExtendI32U().i64Add().set(hi);
    f.i64(0, 0).get(lo).i64Sub().set(lo);
    f.end();
    f.get(d).i64(0, 0).i64LtS().if_();
    f.get(negQ).i32(1).i32Xor().set(negQ);
    f.i64(0, 0).get(d).i64Sub().set(d);
    f.end();
    f.end();
    f.get(hi).get(d).i64GeU().if_(); de(); f.end();
    f.get(hi).i64Eqz().if_();
    f.get(lo).get(d).i64DivU().set(q).get(lo).get(d).i64RemU().set(r);
    f.else_();
    f.i32(64).set(i);
    f.loop();
    f.get(hi).i64(63, 0).i64ShrU().set(carry);
    f.get(hi).i64(1, 0).i64Shl().get(lo).i64(63, 0).i64ShrU().i64Or().set(hi);
    f.get(lo).i64(1, 0).i64Shl().set(lo);
    f.get(carry).i64Eqz().i32Eqz().get(hi).get(d).i64GeU().i32Or().if_();
    f.get(hi).get(d).i64Sub().set(hi);
    f.get(lo).i64(1, 0).i64Or().set(lo);
    f.end();
    f.get(i).i32(1).i32Sub().tee(i).brIf(0);
    f.end();
    f.get(lo).set(q).get(hi).set(r);
    f.end();
    f.get(signed).if_();
    // quotient range
    f.get(negQ).if_();
    f.get(q).i64(0, 0x80000000 | 0).i64GtU().if_(); de(); f.end();
    f.i64(0, 0).get(q).i64Sub().set(q);
    f.else_();
    f.get(q).i64(0, 0x80000000 | 0).i64GeU().if_(); de(); f.end();
    f.end();
    f.get(negR).if_(); f.i64(0, 0).get(r).i64Sub().set(r); f.end();
    f.end();
    f.get(q);
  }
  f.end();
  f.i32(0).get(r).i64Store(RET64);
}

/**
 * dispatch(): the epilogue of every block. Unless ICOUNT has reached DEADLINE, probe the jump cache
 * for (RIP, MODE, CS base) and tail-call the next block through the function table; otherwise return
 * to the TypeScript dispatcher.
 */
/**
 * Set local `e` to the address of the jump-cache entry for a RIP whose low half is in local `lo`
 * (jumpCacheIndex in Wasm: the set's first way, or its second unless the first holds this low
 * half), and push whether that entry is for this RIP's low half.
 */
export function emitJumpCacheProbe(f: FnBody, lo: number, e: number): void {
  f.get(lo).get(lo).i32(JC_HASH_SHIFT).i32ShrU().i32Xor().i32(JC_SETS - 1).i32And().i32(Math.log2(JUMP_CACHE_ENTRY_SIZE * JC_WAYS)).i32Shl();
  f.i32(JUMP_CACHE_BASE).i32Add().set(e);
  f.get(e).get(e).i32(JUMP_CACHE_ENTRY_SIZE).i32Add().get(e).i32Load(JC.ipLo).get(lo).i32Eq().select().tee(e);
  f.i32Load(JC.ipLo).get(lo).i32Eq();
}

function emitDispatch(f: FnBody, chainType: number): void {
  f.i32(0).i64Load(ICOUNT).i32(0).i64Load(DEADLINE).i64GeU().if_().return_().end();
  const lo = f.local(T.i32), e = f.local(T.i32);
  f.i32(0).i32Load(RIP).set(lo);
  emitJumpCacheProbe(f, lo, e);
  f.get(e).i32Load(JC.ipHi).i32(0).i32Load(RIP + 4).i32Eq().i32And();
  f.get(e).i32Load(JC.mode).i32(0).i32Load(MODE).i32Eq().i32And();
  // CS base matters outside 64-bit mode only
  f.get(e).i32Load(JC.csBase).i32(0).i32(0).i32Load(segOff(1, SEG_BASE)).i32(0).i32Load(MODE).i32(MODE_CS64).i32And().select().i32Eq().i32And();
  f.if_().get(e).i32Load(JC.slot).returnCallIndirect(chainType).end();
}

export function buildRuntimeModule(pages: number, maxPages: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder({ module: 'env', name: 'mem', pages, maxPages });
  m.importTable('env', 'tbl', 0);
  const missRead = m.importFunction('js', 'tlb_miss_read', [T.i32, T.i32, T.i32], [T.i32]);
  const missWrite = m.importFunction('js', 'tlb_miss_write', [T.i32, T.i32, T.i32, T.i32, T.i32], [T.i32]);
  const raise = m.importFunction('js', 'raise', [T.i32, T.i32], []);
  const jsFns = JS_TRAMPOLINES.map((name) => m.importFunction('js', name, ...rtSig(name)));
  // Exported Wasm functions that forward to the JavaScript imports (a table holds only Wasm functions).
  const forward = (name: RtName, target: number) => {
    const [params, results] = rtSig(name);
    const f = new FnBody(params.length);
    for (let i = 0; i < params.length; i++) f.get(i);
    f.returnCall(target);
    m.addFunction(params, results, f, name);
  };
  for (const stack of [false, true]) {
    for (const s of SIZES) {
      const idx = m.declareFunction([T.i64], [T.i64], `rd${stack ? 's' : ''}${s * 8}`);
      const f = new FnBody(1);
      emitRead(f, s, idx, missRead, stack);
      m.setBody(idx, f);
    }
    for (const s of SIZES) {
      const idx = m.declareFunction([T.i64, T.i64], [], `wr${stack ? 's' : ''}${s * 8}`);
      const f = new FnBody(2);
      emitWrite(f, s, idx, missWrite, stack);
      m.setBody(idx, f);
    }
  }
  {
    const f = new FnBody(0);
    emitMaterializer(f);
    m.addFunction([], [T.i32], f, 'flags_get');
  }
  {
    const f = new FnBody(3);
    emitMul128(f);
    m.addFunction([T.i64, T.i64, T.i32], [T.i64], f, 'mul128');
  }
  {
    const f = new FnBody(5);
    emitDiv128(f, raise);
    m.addFunction([T.i64, T.i64, T.i64, T.i32, T.i32], [T.i64], f, 'div128');
  }
  {
    const f = new FnBody(0);
    emitDispatch(f, m.typeIndex([], []));
    m.addFunction([], [], f, 'dispatch');
  }
  JS_TRAMPOLINES.forEach((name, i) => forward(name, jsFns[i]));
  forward('raise', raise);
  return m.emit();
}
