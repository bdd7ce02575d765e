import v8 from 'node:v8';
import { Cpu } from '../cpu/cpu.js';
import * as L from '../cpu/state-layout.js';
import { buildRuntimeModule, RT_NAMES, JC_WAYS } from './runtime-module.js';
import { translateBlocks, translateRegion, HOT_THRESHOLD, mnemonicName, jumpCacheIndex, type BlockCode, type BlockLink, type TranslateHooks, type RegionExit } from './translate.js';
import { InsnDecoder, type Insn } from '../cpu/decode.js';
import { FlowControl, OpKind } from '../cpu/iced.js';
import { GuestFault, fault, Vec } from '../cpu/exception.js';
import { bitnessOf, MODE_CS64, MODE_TF } from '../cpu/mode.js';
import { RAM_BASE, GUEST_PAGE, PAGE_MASKS, JUMP_CACHE_BASE, JUMP_CACHE_ENTRIES, JUMP_CACHE_ENTRY_SIZE, JC, HOT_COUNTERS, HOT_COUNTER_SLOTS } from '../mmu/layout.js';
import { Kick, type HelperFn, type Gen } from '../cpu/sem/gen.js';
import { endsBlock, isHelperBased } from '../cpu/sem/index.js';
import { segCheck } from '../cpu/system/segcheck.js';
import { ACC_EXEC, ACC_USER } from '../mmu/paging.js';

interface Block {
  fn: () => void;
  ipLo: number;
  ipHi: number;
  mode: number;
  csBase: number;
  pages: number[];
  /** The module's helper ids and how many of its blocks are still valid (ids are freed at 0). */
  module: { helperIds: number[]; live: number };
  /** Guest-physical address of the first instruction (key in the physical-address cache). */
  paddr: number;
  /** Bytes of guest code it was translated from (from paddr on, continuing on its second page if any). */
  len: number;
  /** Blocks of the same module that branch to this one directly (see linksOf): they die with it. */
  linkedFrom: Block[];
  /** Next block with the same linear-cache key / physical address. */
  chain: Block | null;
  pchain: Block | null;
  /** The last two blocks that followed this one: checked before any map lookup, valid while sEpoch is current. */
  s0: Block | null;
  s1: Block | null;
  sEpoch: number;
  /** Linear page keys (4 KiB, or the large page it was fetched through) this block's code was fetched from. */
  linKeys: number[];
  /** Fetched through global translations only: its linear lookup survives CR3 writes, like the TLB entry. */
  global: boolean;
  /** Slot in the shared function table (for chaining from other blocks through the jump cache). */
  slot: number;
  valid: boolean;
  /** Runs in a hot region (its function is the region's entry for this block). */
  hot: boolean;
  /** The region (id, 0: none) and this block's index in it, published in its jump-cache entry. */
  region: number;
  regionIndex: number;
}

export interface EngineStats {
  blocksCompiled: number;
  modulesCompiled: number;
  compileMs: number;
  invalidations: number;
  blocksExecuted: number;
  /** Hot tier: regions compiled and the blocks they hold. */
  regionsCompiled: number;
  regionBlocks: number;
  /** Why generated code returned to Engine.run: instruction budget spent, a kick (helper, I/O, MMIO, stop), a jump-cache miss, a guest fault. */
  exits: { budget: number; event: number; lookup: number; fault: number };
}

// Functions of a batch are compiled when first called: many speculative successors never run.
// They are validated then too (~1.5 s of a Linux boot): invalid code, a host bug the golden and
// tier tests guard against, then surfaces as a CompileError at the block's first call.
v8.setFlagsFromString('--wasm-lazy-compilation');
v8.setFlagsFromString('--wasm-lazy-validation');
// V8 hashes every module's bytes to look it up in a cache of compiled modules; batches of guest code
// never repeat (their bytes carry addresses and slots), so the cache only costs (~0.6 % of a boot).
v8.setFlagsFromString('--no-wasm-native-module-cache-enabled');

const MAX_BLOCK_INSNS = 64;
const MAX_BATCH_BLOCKS = 64;
/**
 * Pages one batch may reach through direct successors. Measured on the PVH boot (8 paired runs):
 * 2 pages compile 2 % fewer blocks in 14 % more modules and boot ~3 % faster than 8; 1 page is slower.
 */
const MAX_BATCH_PAGES = 2;
/** 2^(32 - page shift) for each of PAGE_MASKS (see Engine.linKey). */
const HI_SCALE = PAGE_MASKS.map((m) => 2 ** Math.clz32(m));
/** Writes to a code page that leave it a code page, before it is dropped whole (see invalidateRange). */
const CODE_PAGE_WRITES = 64;
/** Blocks in one hot region at most. */
const MAX_REGION_BLOCKS = 256;

/** A linear page of guest code being translated, with its bytes and where it lives. */
interface CodePage {
  windowIp: bigint;
  ipEnd: bigint;
  bytes: Uint8Array;
  physPage: number;
  nextPhysPage: number;
  /** Linear address of the page (low 32 bits) and high half. */
  linPage: number;
  linHi: number;
  /** Page-size mask of the translation that fetched it, and whether it was global. */
  mask: number;
  global: boolean;
}

/**
 * The cold execution tier: translates guest code a page-batch of basic blocks at a time into one
 * Wasm module, caches the blocks by linear and physical address, and dispatches between them.
 */
export class Engine {
  private readonly rt: WebAssembly.Instance;
  private readonly imports: WebAssembly.Imports;
  private readonly helpers: (HelperFn | undefined)[] = [];
  private readonly helperKicks: Kick[] = [];
  private readonly freeHelperIds: number[] = [];
  private readonly linear = new Map<number, Block>();
  /** Blocks by the linear page they were fetched from (keys: see linKey), for INVLPG. */
  private readonly linPages = new Map<number, Set<Block>>();
  /** Blocks in the linear map fetched through non-global translations (what a CR3 write forgets). */
  private readonly nonGlobalLinear = new Set<Block>();
  /** Bumped whenever linear→physical mappings may have changed: invalidates successor caches. */
  private epoch = 0;
  /** Blocks by physical address (then linear RIP, mode and CS base): survive linear flushes. */
  private readonly phys = new Map<number, Block>();
  private readonly byPage = new Map<number, Set<Block>>();
  private readonly decoder = new InsnDecoder();
  private readonly u32: Uint32Array;
  private readonly jc: Uint32Array;
  private readonly table = new WebAssembly.Table({ element: 'anyfunc', initial: 4096 });
  /** The runtime functions block modules reach through their imported table (see RT_SIGS). */
  private readonly rtFns: Function[];
  private rtTableUses = 0;
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;
  private readonly pages: number;
  readonly stats: EngineStats = { blocksCompiled: 0, modulesCompiled: 0, compileMs: 0, invalidations: 0, blocksExecuted: 0, regionsCompiled: 0, regionBlocks: 0, exits: { budget: 0, event: 0, lookup: 0, fault: 0 } };

  /** Cold-tier blocks by table slot (for hot-counter reports). */
  private readonly slotBlocks: (Block | undefined)[] = [];
  /** Slots of blocks that reached the hot threshold since the last compileHot. */
  private hotSlots: number[] = [];
  private regionIds = 0;
  /** The blocks of each live region, by id: one of them changing makes the whole function stale. */
  private readonly regions = new Map<number, Block[]>();
  /** Writes that hit a code page without making it data (see invalidateRange), by page. */
  private readonly codePageWrites = new Map<number, number>();
  private readonly counters: Uint32Array;
  /** Whether cold blocks count executions and hot ones are compiled into regions (`--engine jit`). */
  readonly hotTier: boolean;
  private readonly hooks: TranslateHooks;

  /** Executions after which a cold block asks for a region (tests lower it to exercise the hot tier). */
  readonly hotThreshold: number;

  constructor(readonly cpu: Cpu, opts: { hotTier?: boolean; hotThreshold?: number } = {}) {
    this.hotTier = opts.hotTier ?? true;
    this.hotThreshold = opts.hotThreshold ?? HOT_THRESHOLD;
    const memory = cpu.memory;
    this.counters = new Uint32Array(memory.buffer, HOT_COUNTERS, HOT_COUNTER_SLOTS);
    this.hooks = { cpu, bindHelper: this.bindHelper, undefinedInsn: this.undefinedInsn, isHelperBased };
    this.pages = memory.buffer.byteLength / 65536;
    this.u32 = new Uint32Array(memory.buffer, 0, L.STATE_END / 4);
    this.jc = new Uint32Array(memory.buffer, JUMP_CACHE_BASE, (JUMP_CACHE_ENTRIES * JUMP_CACHE_ENTRY_SIZE) / 4);
    this.jc.fill(0xffffffff);
    const rtBytes = buildRuntimeModule(this.pages, this.pages);
    const kick = () => cpu.kick();
    this.rt = new WebAssembly.Instance(new WebAssembly.Module(rtBytes), {
      env: { mem: memory, tbl: this.table },
      js: {
        tlb_miss_read: (lo: number, hi: number, size: number) => cpu.tlbMissRead(lo, hi, size),
        tlb_miss_write: (lo: number, hi: number, size: number, vlo: number, vhi: number) => cpu.tlbMissWrite(lo, hi, size, vlo, vhi),
        raise: (v: number, e: number) => { throw fault(v, e); },
        // Helpers and I/O may change interrupt state or stop the machine: return to the dispatcher.
        helper: (id: number) => {
          const k = this.helperKicks[id];
          if (k === Kick.Always) kick();
          this.helpers[id]!();
          // interrupts may have become deliverable (STI, POPF, IRET): let the machine loop take them
          if (k === Kick.IfPending && cpu.intc?.hasInterrupt()) kick();
        },
        io_in: (port: number, size: number) => { const v = cpu.ioIn(port, size); if (cpu.deviceKick()) kick(); return v; },
        io_out: (port: number, size: number, v: number) => { cpu.ioOut(port, size, v); if (cpu.deviceKick()) kick(); },
        seg_check: (seg: number, off: number, size: number, write: number) => segCheck(cpu, seg, off >>> 0, size, write !== 0),
        hot: (slot: number) => { this.hotSlots.push(slot); kick(); },
      },
    });
    const rx = this.rt.exports as Record<string, Function>;
    cpu.flagsGet = rx.flags_get as () => number;
    this.rtFns = RT_NAMES.map((name) => rx[name]);
    this.imports = { env: { mem: memory, rt: this.newRtTable() } };
    cpu.code = {
      isCodePage: (p) => this.byPage.has(p),
      invalidatePhys: (addr, len) => this.invalidateRange(addr, len),
      flushLinear: (includeGlobal) => this.flushLinear(includeGlobal),
      flushLinearPage: (lo, hi) => this.flushLinearPage(lo, hi),
    };
  }

  /**
   * A fresh runtime table. V8 links every instance that imports a table into that table's list of
   * users and instantiation walks the list: past ~1,000 importers each new instance costs 100+ µs
   * more. Block modules therefore share a table only in groups (see instantiate).
   */
  private newRtTable(): WebAssembly.Table {
    const t = new WebAssembly.Table({ element: 'anyfunc', initial: this.rtFns.length });
    this.rtFns.forEach((fn, slot) => t.set(slot, fn));
    this.rtTableUses = 0;
    return t;
  }

  private instantiate(mod: WebAssembly.Module): WebAssembly.Instance {
    if (++this.rtTableUses > 512) (this.imports.env as Record<string, unknown>).rt = this.newRtTable();
    return new WebAssembly.Instance(mod, this.imports);
  }

  /** Runtime exports (flags_get, rd/wr, …), e.g. for tests. */
  get runtime(): Record<string, Function> { return this.rt.exports as Record<string, Function>; }

  private bindHelper = (fn: HelperFn, kick: Kick): number => {
    const id = this.freeHelperIds.pop() ?? this.helpers.length;
    this.helpers[id] = fn;
    this.helperKicks[id] = kick;
    this.pendingHelperIds.push(id);
    return id;
  };
  private pendingHelperIds: number[] = [];

  private undefinedInsn = (g: Gen): void => {
    const name = mnemonicName(g.insn.mnemonic);
    const stats = this.cpu.stats.ud;
    g.callHelper(() => {
      stats.set(name, (stats.get(name) ?? 0) + 1);
      throw fault(Vec.UD);
    });
    g.ended = true;
  };

  /**
   * Key of RIP (lo, hi) in the linear map: a hash that fits a small integer (V8 hashes those
   * without boxing); the chain behind a key is compared field by field.
   */
  private static key(lo: number, hi: number): number {
    return (lo ^ Math.imul(hi, 0x9e3779b1)) & 0x3fffffff;
  }

  /**
   * Run guest code for about `maxInstructions` instructions (blocks chain inside Wasm until the
   * DEADLINE instruction count), or until the CPU halts, a helper or device kicks the dispatcher,
   * or a stop is requested. Guest faults are delivered here; host errors propagate.
   */
  run(maxInstructions: number, deliver: (f: GuestFault) => void): void {
    const u32 = this.u32;
    const cpu = this.cpu;
    const D = L.DEADLINE >> 2, IC = L.ICOUNT >> 2;
    const start = cpu.st.icount;
    const end = start + Math.max(1, maxInstructions);
    const setDeadline = () => { u32[D] = end % 0x1_0000_0000; u32[D + 1] = Math.floor(end / 0x1_0000_0000); };
    const spent = () => u32[IC] + u32[IC + 1] * 0x1_0000_0000 >= end;
    const kicked = () => u32[D] === 0 && u32[D + 1] === 0;
    let n = 0;
    let prev: Block | null = null;
    const exits = this.stats.exits;
    const csOff = L.segOff(1, L.SEG_BASE) >> 2;
    setDeadline();
    while (!cpu.halted && !cpu.stopRequested) {
      try {
        for (; !cpu.halted && !cpu.stopRequested; n++) {
          if (n > 0 && (kicked() || spent())) break;
          if (this.hotSlots.length) this.compileHot();
          const lo = u32[L.RIP >> 2], hi = u32[(L.RIP >> 2) + 1], mode = u32[L.MODE >> 2];
          const csBase = mode & MODE_CS64 ? 0 : u32[csOff];
          let b: Block | null = null;
          if (prev !== null && prev.sEpoch === this.epoch) {
            // successor cache: most blocks have one or two successors
            const s0: Block | null = prev.s0;
            if (s0 !== null && s0.ipLo === lo && s0.ipHi === hi && s0.mode === mode && s0.csBase === csBase && s0.valid) b = s0;
            else {
              const s1: Block | null = prev.s1;
              if (s1 !== null && s1.ipLo === lo && s1.ipHi === hi && s1.mode === mode && s1.csBase === csBase && s1.valid) b = s1;
            }
          }
          if (b === null) {
            b = this.linear.get(Engine.key(lo, hi)) ?? null;
            while (b && !(b.ipLo === lo && b.ipHi === hi && b.mode === mode && b.csBase === csBase)) b = b.chain;
            if (!b) b = this.lookupOrTranslate(lo, hi, mode, csBase);
            if (prev !== null) {
              if (prev.sEpoch !== this.epoch) { prev.s0 = prev.s1 = null; prev.sEpoch = this.epoch; }
              prev.s1 = prev.s0; prev.s0 = b;
            }
          }
          this.insertJump(b);
          prev = b;
          b.fn();
          if (kicked()) exits.event++; else if (spent()) exits.budget++; else exits.lookup++;
        }
        break;
      } catch (e) {
        n++;
        prev = null;
        exits.fault++;
        if (e instanceof GuestFault) deliver(e);
        else if (e instanceof WebAssembly.CompileError) throw new Error(`code generation bug at RIP 0x${this.cpu.st.rip.toString(16)}: ${e.message}`);
        else throw e;
        if (kicked() || spent()) break;
      }
    }
    this.stats.blocksExecuted += n;
  }

  /** Record `b` in the jump cache so that other blocks' epilogues can chain to it. */
  private insertJump(b: Block, evict = true): void {
    const W = JUMP_CACHE_ENTRY_SIZE / 4;
    const e0 = jumpCacheIndex(b.ipLo) * W, e1 = e0 + W;
    const jc = this.jc;
    const holds = (e: number) => jc[e + JC.ipLo / 4] === b.ipLo && jc[e + JC.ipHi / 4] === b.ipHi && jc[e + JC.mode / 4] === b.mode && jc[e + JC.csBase / 4] === b.csBase;
    const write = (e: number) => {
      jc[e + JC.ipLo / 4] = b.ipLo; jc[e + JC.ipHi / 4] = b.ipHi; jc[e + JC.mode / 4] = b.mode; jc[e + JC.csBase / 4] = b.csBase;
      jc[e + JC.slot / 4] = b.slot; jc[e + JC.region / 4] = b.region; jc[e + JC.index / 4] = b.regionIndex;
    };
    const first0 = jc[e0 + JC.ipLo / 4];
    // the probe reads the second way only when the first holds another RIP low half
    if (holds(e0)) { if (jc[e0 + JC.slot / 4] !== b.slot || jc[e0 + JC.region / 4] !== b.region || jc[e0 + JC.index / 4] !== b.regionIndex) write(e0); return; }
    if (holds(e1) && first0 !== b.ipLo) { write(e1); return; }
    if (!evict) {
      // a speculative block takes a free way only
      if (first0 === 0xffffffff) write(e0);
      else if (jc[e1 + JC.ipLo / 4] === 0xffffffff && first0 !== b.ipLo) write(e1);
      return;
    }
    jc.copyWithin(e1, e0, e0 + W);
    write(e0);
  }

  /** `b` no longer runs its module's code: the module's helper ids are free once none of its blocks do. */
  private releaseFromModule(b: Block): void {
    if (--b.module.live === 0) for (const id of b.module.helperIds) this.freeHelperIds.push(id);
  }

  /** Drop `b`'s jump-cache entry, if it has one. */
  private forgetJump(b: Block): void {
    const W = JUMP_CACHE_ENTRY_SIZE / 4;
    const e0 = jumpCacheIndex(b.ipLo) * W;
    for (let e = e0; e < e0 + JC_WAYS * W; e += W) if (this.jc[e + JC.slot / 4] === b.slot) this.jc.fill(0xffffffff, e, e + W);
  }

  /** A free slot of the function table (its hot counter reset). */
  private allocSlot(): number {
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      slot = this.nextSlot++;
      if (slot >= this.table.length) this.table.grow(this.table.length);
    }
    if (slot < HOT_COUNTER_SLOTS) this.counters[slot] = 0;
    return slot;
  }

  private lookupOrTranslate(lo: number, hi: number, mode: number, csBase: number): Block {
    const is64 = (mode & MODE_CS64) !== 0;
    const linLo = is64 ? lo : (csBase + lo) >>> 0;
    const linHi = is64 ? hi : 0;
    const phys = this.cpu.fetchPhys(linLo, linHi);
    let b = this.physGet(phys, lo, hi, mode, csBase);
    if (!b) b = this.translateBatch(lo, hi, mode, csBase, linLo, linHi, phys);
    else {
      // reused under a new mapping
      b.linKeys = [Engine.linKey(linLo, linHi, this.cpu.lastFetchPageMask)];
      b.global = this.cpu.lastFetchGlobal;
    }
    this.insertLinear(b);
    return b;
  }

  /** Key of the linear region (4 KiB page, or a 2 MiB / 1 GiB page, by `mask`) holding (lo, hi). */
  private static linKey(lo: number, hi: number, mask: number): number {
    const shift = 32 - Math.clz32(mask);
    // the size (its index in PAGE_MASKS) goes in the low bits so that keys of different sizes never collide
    const size = mask === 0xfff ? 0 : mask === 0x1fffff ? 1 : mask === 0x3fffff ? 2 : 3;
    return ((hi & 0xfffff) * HI_SCALE[size] + (lo >>> shift)) * 4 + size;
  }

  private flushLinear(includeGlobal = true): void {
    this.epoch++;
    for (const b of this.nonGlobalLinear) this.unlinkLinear(b);
    this.nonGlobalLinear.clear();
    if (!includeGlobal) return;
    // A global flush (INVPCID, CR4/CR0 paging bits) says mappings may have changed, not that they
    // did: Linux flushes everything whenever it unmaps more than a few kernel pages. Keep the global
    // code whose page still maps, global and executable, to the same physical page at the same size.
    for (const [k, set] of this.linPages) {
      if (set.size > 0 && this.stillMapped(k, set)) continue;
      for (const b of [...set]) this.unlinkLinear(b);
      this.linPages.delete(k);
    }
  }

  /** Whether the linear page `key` (see linKey) still maps the blocks in `set` as when they were found. */
  private stillMapped(key: number, set: Set<Block>): boolean {
    let b0: Block | null = null, user = false;
    for (const b of set) { b0 ??= b; if ((b.mode & 3) === 3) user = true; }
    const b = b0!;
    const is64 = (b.mode & MODE_CS64) !== 0;
    const t = this.cpu.walker.probe(is64 ? b.ipLo : (b.csBase + b.ipLo) >>> 0, is64 ? b.ipHi : 0, ACC_EXEC | (user ? ACC_USER : 0));
    const mask = PAGE_MASKS[key & 3];
    return t !== null && t.global && t.pageMask === mask && t.phys - (t.phys % GUEST_PAGE) === b.paddr - (b.paddr % GUEST_PAGE);
  }

  /** Remove `b` from the linear lookups (map, page sets, jump cache). */
  private unlinkLinear(b: Block): void {
    Engine.unlink(this.linear, Engine.key(b.ipLo, b.ipHi), b, 'chain');
    for (const k of b.linKeys) this.linPages.get(k)?.delete(b);
    this.forgetJump(b);
  }

  /** INVLPG: forget linear lookups of blocks fetched through the page at (lo, hi) — 4 KiB or any large page around it. */
  private flushLinearPage(lo: number, hi: number): void {
    let hit = false;
    for (const mask of PAGE_MASKS) {
      const k = Engine.linKey(lo, hi, mask);
      const set = this.linPages.get(k);
      if (!set) continue;
      hit = true;
      for (const b of set) {
        this.unlinkLinear(b);
        this.nonGlobalLinear.delete(b);
      }
      this.linPages.delete(k);
    }
    if (hit) this.epoch++;
  }

  private insertLinear(b: Block): void {
    if (!b.global) this.nonGlobalLinear.add(b);
    for (const k of b.linKeys) {
      let set = this.linPages.get(k);
      if (!set) { set = new Set(); this.linPages.set(k, set); }
      set.add(b);
    }
    const k = Engine.key(b.ipLo, b.ipHi);
    const head = this.linear.get(k);
    if (head === b) return;
    b.chain = head && head !== b ? head : null;
    this.linear.set(k, b);
  }

  /** Bytes of the physical page holding `phys`, plus up to 15 bytes of the next linear page if mapped. */
  private codeWindow(linLo: number, linHi: number, phys: number): { bytes: Uint8Array; nextPhysPage: number } {
    const page = phys - (phys % GUEST_PAGE);
    const pm = this.cpu.phys;
    let nextPhysPage = -1;
    const buf = new Uint8Array(GUEST_PAGE + 15);
    if (pm.isRamPage(page)) buf.set(pm.bytes.subarray(RAM_BASE + page, RAM_BASE + page + GUEST_PAGE));
    else for (let i = 0; i < GUEST_PAGE; i++) buf[i] = pm.read8(page + i);
    let len = GUEST_PAGE;
    try {
      const nLo = ((linLo & ~0xfff) + GUEST_PAGE) >>> 0;
      const nHi = nLo === 0 ? (linHi + 1) >>> 0 : linHi;
      const np = this.cpu.fetchPhys(nLo, nHi);
      nextPhysPage = np - (np % GUEST_PAGE);
      for (let i = 0; i < 15; i++) buf[GUEST_PAGE + i] = pm.read8(nextPhysPage + i);
      len += 15;
    } catch (e) {
      if (!(e instanceof GuestFault)) throw e;
    }
    return { bytes: buf.subarray(0, len), nextPhysPage };
  }

  /**
   * The code window of the linear page holding `ip` (plus 15 bytes of the next page), or null when
   * the page can't be fetched (successors are speculative: their faults are not the guest's).
   */
  private codePage(ip: bigint, mode: number, csBase: number, cache: Map<bigint, CodePage>, known?: { phys: number; mask: number; global: boolean }): CodePage | null {
    const is64 = (mode & MODE_CS64) !== 0;
    const ipLo = Number(ip & 0xffffffffn), ipHi = Number(ip >> 32n);
    const linLo = is64 ? ipLo : (csBase + ipLo) >>> 0;
    const linHi = is64 ? ipHi : 0;
    const windowIp = ip - BigInt(linLo & 0xfff);
    const hit = cache.get(windowIp);
    if (hit) return hit;
    let phys: number, mask: number, global: boolean;
    if (known) ({ phys, mask, global } = known);
    else {
      try {
        phys = this.cpu.fetchPhys(linLo, linHi);
      } catch (e) {
        if (e instanceof GuestFault) return null;
        throw e;
      }
      mask = this.cpu.lastFetchPageMask;
      global = this.cpu.lastFetchGlobal;
    }
    const { bytes, nextPhysPage } = this.codeWindow(linLo, linHi, phys);
    const page: CodePage = { windowIp, ipEnd: windowIp + BigInt(GUEST_PAGE), bytes, physPage: phys - (phys % GUEST_PAGE), nextPhysPage, linPage: (linLo & ~0xfff) >>> 0, linHi, mask, global };
    cache.set(windowIp, page);
    return page;
  }

  /**
   * Decode the block at `ip` and the blocks reachable from it by direct branches (breadth first, at
   * most `maxBlocks`, over at most `maxPages` linear pages; `skipKnown`: not the ones already
   * translated). Throws the guest's fault when the first instruction can't be fetched or decoded.
   */
  private collectBlocks(ipBig: bigint, mode: number, csBase: number, first: CodePage, opts: { maxBlocks: number; maxPages: number; skipKnown: boolean; seeds?: bigint[] }): { codes: BlockCode[]; info: { page: CodePage; cross: boolean }[] } {
    const bitness = bitnessOf(mode);
    const maxInsns = mode & MODE_TF ? 1 : MAX_BLOCK_INSNS;
    const pagesSeen = new Map<bigint, CodePage>([[first.windowIp, first]]);
    const codes: BlockCode[] = [];
    const info: { page: CodePage; cross: boolean }[] = [];
    const work: bigint[] = [ipBig, ...(opts.seeds ?? []).filter((s) => s !== ipBig)];
    const queued = new Set<bigint>(work);
    try {
      while (work.length && codes.length < opts.maxBlocks) {
        const start = work.shift()!;
        const cp = start === ipBig ? first : this.codePage(start, mode, csBase, pagesSeen);
        if (!cp) continue;
        const insns: Insn[] = [];
        let cross = false;
        let truncated = false;
        this.decoder.decodeRun(cp.bytes, cp.windowIp, start, bitness, (d) => {
          if (d.ip >= cp.ipEnd) return false; // next block starts on the next page
          if (d.isInvalid && Number(d.ip - cp.windowIp) + 15 > cp.bytes.length) { truncated = true; return false; }
          insns.push(d);
          if (d.next > cp.ipEnd) cross = true;
          if (d.flow !== FlowControl.Next || endsBlock(d) || insns.length >= maxInsns) return false;
          return !cross;
        });
        if (insns.length === 0) {
          if (start !== ipBig) continue;
          // the first instruction runs off the end of the mapped window: fetch fault on the next page
          if (truncated) {
            const nLo = ((first.linPage) + GUEST_PAGE) >>> 0;
            this.cpu.fetchPhys(nLo, nLo === 0 ? (first.linHi + 1) >>> 0 : first.linHi);
          }
          throw fault(Vec.UD);
        }
        codes.push({ ip: start, insns });
        info.push({ page: cp, cross });
        for (const s of staticSuccessors(insns[insns.length - 1])) {
          if (queued.has(s)) continue;
          queued.add(s);
          const inPage = s >= cp.windowIp && s < cp.ipEnd;
          if (!inPage && pagesSeen.size >= opts.maxPages) continue;
          if (inPage && opts.skipKnown) {
            const sLo = Number(s & 0xffffffffn), sHi = Number(s >> 32n);
            if (this.physGet(cp.physPage + Number(s - cp.windowIp), sLo, sHi, mode, csBase)) continue;
          }
          work.push(s);
        }
      }
    } finally {
      this.decoder.release();
    }
    return { codes, info };
  }

  /** Compile and instantiate a module of translated code (a host bug names the instruction). */
  private compile(wasm: Uint8Array<ArrayBuffer>, codes: BlockCode[], mode: number): WebAssembly.Instance {
    let mod: WebAssembly.Module;
    try {
      mod = new WebAssembly.Module(wasm);
    } catch (e) {
      throw new Error(`code generation bug: ${this.findBadInsn(codes, mode)}: ${(e as Error).message}`);
    }
    this.stats.modulesCompiled++;
    return this.instantiate(mod);
  }

  /** A new Block for code `c` fetched through page `cp`, registered in the physical and per-page maps. */
  private newBlock(c: BlockCode, cp: CodePage, cross: boolean, mode: number, csBase: number, fn: () => void, slot: number, modInfo: Block['module'], hot: boolean): Block {
    const sLo = Number(c.ip & 0xffffffffn), sHi = Number(c.ip >> 32n);
    const paddr = cp.physPage + Number(c.ip - cp.windowIp);
    const pages = cross && cp.nextPhysPage >= 0 ? [cp.physPage, cp.nextPhysPage] : [cp.physPage];
    const bLinLo = (cp.linPage + Number(c.ip - cp.windowIp)) >>> 0;
    const linKeys = [Engine.linKey(bLinLo, cp.linHi, cp.mask)];
    if (cross) linKeys.push(Engine.linKey(((bLinLo & ~0xfff) + 0x1000) >>> 0, bLinLo >= 0xfffff000 ? cp.linHi + 1 : cp.linHi, 0xfff));
    let len = 0;
    for (const d of c.insns) len += d.len;
    const b: Block = { fn, ipLo: sLo, ipHi: sHi, mode, csBase, pages, module: modInfo, paddr, len, linkedFrom: [], chain: null, pchain: null, s0: null, s1: null, sEpoch: 0, linKeys, global: cp.global && !cross, valid: true, slot, hot, region: 0, regionIndex: 0 };
    this.table.set(slot, fn);
    this.slotBlocks[slot] = b;
    b.pchain = this.phys.get(paddr) ?? null;
    this.phys.set(paddr, b);
    for (const p of pages) {
      let set = this.byPage.get(p);
      if (!set) {
        set = new Set();
        this.byPage.set(p, set);
        this.cpu.tlb.protectPhysPage(p);
      }
      set.add(b);
    }
    return b;
  }

  /**
   * Translate the block at `ip` and, speculatively, its direct successors — across pages too, since a
   * Wasm module costs a few hundred microseconds however few functions it holds — into one module.
   */
  private translateBatch(lo: number, hi: number, mode: number, csBase: number, linLo: number, linHi: number, phys: number): Block {
    const t0 = performance.now();
    const ipBig = (BigInt(hi) << 32n) | BigInt(lo);
    const first = this.codePage(ipBig, mode, csBase, new Map(), { phys, mask: this.cpu.lastFetchPageMask, global: this.cpu.lastFetchGlobal })!;
    const { codes, info } = this.collectBlocks(ipBig, mode, csBase, first, { maxBlocks: MAX_BATCH_BLOCKS, maxPages: MAX_BATCH_PAGES, skipKnown: true });
    // blocks already translated by an earlier batch (reached through another page) keep that translation
    const keep = codes.map((c, i) => {
      if (i === 0) return true;
      const cp = info[i].page;
      return !this.physGet(cp.physPage + Number(c.ip - cp.windowIp), Number(c.ip & 0xffffffffn), Number(c.ip >> 32n), mode, csBase);
    });
    const kept = codes.filter((_, i) => keep[i]);
    const keptInfo = info.filter((_, i) => keep[i]);
    const slots = kept.map(() => this.allocSlot());
    const counters = this.hotTier && !(mode & MODE_TF) ? slots.map((slot, i) => ({ addr: HOT_COUNTERS + slot * 4, slot, threshold: this.hotThreshold, counts: closesLoop(kept[i]) })) : undefined;
    if (counters) for (const c of counters) if (c.slot >= HOT_COUNTER_SLOTS) { counters.length = 0; break; }
    this.pendingHelperIds = [];
    const links = this.linksOf(kept, keptInfo, mode, counters?.length ? counters : undefined);
    const wasm = translateBlocks(kept, mode, this.hooks, this.pages, this.pages, counters?.length ? counters : undefined, links);
    const modInfo = { helperIds: this.pendingHelperIds, live: kept.length };
    const inst = this.compile(wasm, kept, mode);
    this.stats.blocksCompiled += kept.length;
    const made: Block[] = [];
    kept.forEach((c, i) => {
      const b = this.newBlock(c, keptInfo[i].page, keptInfo[i].cross, mode, csBase, inst.exports[`b${i}`] as () => void, slots[i], modInfo, false);
      made.push(b);
      if (i > 0) {
        this.insertLinear(b);
        // let other blocks chain to it on first use without a trip through the dispatcher
        // (without evicting: half the blocks of a batch never run)
        this.insertJump(b, false);
      }
    });
    links.forEach((out, i) => { for (const l of out) made[l.to].linkedFrom.push(made[i]); });
    this.stats.compileMs += performance.now() - t0;
    return made[0];
  }

  /**
   * The direct edges between blocks of one batch (see translate.emitLinks). An edge is linked only
   * when the successor was fetched through the same code page as its caller and holds no page the
   * caller doesn't: whatever invalidates or remaps the successor then does as much to the caller.
   * Under the hot tier a successor needs a hot counter (whose sign bit closes the edge when it joins
   * a region); a system instruction at the end may have changed the mode: no edge.
   */
  private linksOf(codes: BlockCode[], info: { page: CodePage; cross: boolean }[], mode: number, counters?: { addr: number }[]): BlockLink[][] {
    const at = new Map<bigint, number>(codes.map((c, i) => [c.ip, i]));
    const regionsPossible = this.hotTier && !(mode & MODE_TF);
    return codes.map((c, i) => {
      const last = c.insns[c.insns.length - 1];
      if (endsBlock(last) && isHelperBased(last)) return [];
      const out: BlockLink[] = [];
      for (const s of regionSuccessors(last)) {
        const j = at.get(s);
        if (j === undefined || info[j].page !== info[i].page || (info[j].cross && !info[i].cross)) continue;
        const counter = counters ? counters[j].addr : 0;
        if (!counter && regionsPossible) continue;
        out.push({ ip: s, to: j, counter });
      }
      return out;
    });
  }

  /**
   * Hot tier: compile the loop around hot block `hb` — the blocks of its page on a cycle through it,
   * see loopAround — into one Wasm function, and point every one of those blocks (translated before
   * or not) at its entry into the region.
   */
  private compileRegion(hb: Block): void {
    const t0 = performance.now();
    const ipBig = (BigInt(hb.ipHi) << 32n) | BigInt(hb.ipLo >>> 0);
    const mode = hb.mode, csBase = hb.csBase;
    const cp = this.codePage(ipBig, mode, csBase, new Map());
    if (!cp || cp.physPage !== hb.paddr - (hb.paddr % GUEST_PAGE)) return; // remapped since: not this code
    let collected;
    // the blocks already seen running on this page: what a jump through a register may reach (loopAround)
    const seeds: bigint[] = [];
    try {
      for (const b of this.byPage.get(cp.physPage) ?? []) {
        if (!b.valid || b.mode !== mode || b.csBase !== csBase || b.ipHi !== hb.ipHi || (b.ipLo & ~0xfff) !== (hb.ipLo & ~0xfff)) continue;
        seeds.push((BigInt(b.ipHi) << 32n) | BigInt(b.ipLo >>> 0));
      }
      collected = this.collectBlocks(ipBig, mode, csBase, cp, { maxBlocks: MAX_REGION_BLOCKS, maxPages: 1, skipKnown: false, seeds });
    } catch (e) {
      if (e instanceof GuestFault) return;
      throw e;
    }
    const loop = loopAround(collected.codes, seeds);
    if (!loop) return; // hot but not in a loop: straight-line code gains nothing from a region
    const { codes, info } = regionOrder(loop.map((i) => collected.codes[i]), loop.map((i) => collected.info[i]));
    const index = new Map<bigint, number>(codes.map((c, i) => [c.ip, i]));
    const exits = codes.map((c): RegionExit => {
      const last = c.insns[c.insns.length - 1];
      // a system instruction may have changed the mode: continue through dispatch
      if (endsBlock(last) && isHelperBased(last)) return { succ: [], complete: false, indirect: false };
      const all = regionSuccessors(last);
      const succ = all.filter((s) => index.has(s)).map((s): [bigint, number] => [s, index.get(s)!]);
      const indirect = last.flow === FlowControl.IndirectBranch || last.flow === FlowControl.IndirectCall || last.flow === FlowControl.Return;
      return { succ, complete: !indirect && succ.length === all.length && succ.length > 0, indirect };
    });
    const regionId = ++this.regionIds;
    const members: Block[] = [];
    this.regions.set(regionId, members);
    this.pendingHelperIds = [];
    const wasm = translateRegion(codes, exits, mode, csBase, regionId, this.hooks, this.pages, this.pages);
    const modInfo = { helperIds: this.pendingHelperIds, live: codes.length };
    const inst = this.compile(wasm, codes, mode);
    this.stats.regionsCompiled++;
    this.stats.regionBlocks += codes.length;
    codes.forEach((c, i) => {
      const fn = inst.exports[`e${i}`] as () => void;
      const { page, cross } = info[i];
      const paddr = page.physPage + Number(c.ip - page.windowIp);
      const old = this.physGet(paddr, Number(c.ip & 0xffffffffn), Number(c.ip >> 32n), mode, csBase);
      if (old) {
        // the cold translation stays alive for its module's sake; calls now go to the region
        old.fn = fn;
        old.hot = true;
        // close the direct edges into its cold function (see linksOf)
        if (old.slot < HOT_COUNTER_SLOTS) this.counters[old.slot] = 0x8000_0000;
        old.region = regionId;
        old.regionIndex = i;
        this.table.set(old.slot, fn);
        this.forgetJump(old);
        // nothing can call the cold function any more (not even a running block: this runs between blocks)
        this.releaseFromModule(old);
        old.module = modInfo;
        members.push(old);
        return;
      }
      const b = this.newBlock(c, page, cross, mode, csBase, fn, this.allocSlot(), modInfo, true);
      b.region = regionId;
      b.regionIndex = i;
      members.push(b);
    });
    this.stats.compileMs += performance.now() - t0;
  }

  /** Compile regions for the blocks that reported themselves hot. */
  private compileHot(): void {
    const slots = this.hotSlots;
    this.hotSlots = [];
    for (const slot of slots) {
      const b = this.slotBlocks[slot];
      if (b && b.valid && !b.hot) this.compileRegion(b);
    }
  }

  /** Pinpoint the instruction whose semantics emitted invalid Wasm (a host bug report). */
  private findBadInsn(codes: BlockCode[], mode: number): string {
    for (const c of codes) {
      for (const d of c.insns) {
        const w = translateBlocks([{ ip: d.ip, insns: [d] }], mode, this.hooks, this.pages, this.pages);
        if (!WebAssembly.validate(w)) return `${mnemonicName(d.mnemonic)} [${Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ')}] at 0x${d.ip.toString(16)}`;
      }
    }
    return 'unknown instruction';
  }

  /** The valid block translated from physical address `paddr` for linear RIP (lo, hi), mode and CS base. */
  private physGet(paddr: number, lo: number, hi: number, mode: number, csBase: number): Block | null {
    let b = this.phys.get(paddr) ?? null;
    while (b && !(b.ipLo === lo && b.ipHi === hi && b.mode === mode && b.csBase === csBase && b.valid)) b = b.pchain;
    return b;
  }

  /** Remove `b` from a chained map (linear: by `chain`, physical: by `pchain`). */
  private static unlink(map: Map<number, Block>, key: number, b: Block, next: 'chain' | 'pchain'): void {
    let cur = map.get(key);
    if (cur === b) {
      if (b[next]) map.set(key, b[next]!); else map.delete(key);
      return;
    }
    while (cur && cur[next] !== b) cur = cur[next]!;
    if (cur) cur[next] = b[next];
  }

  /**
   * A write hit bytes [addr, addr + len) of a code page (len ≤ the rest of the page): drop the
   * translations made from those bytes — and what runs into them without a lookup: blocks linking to
   * them directly, the other blocks of their region. Linux patches its text a few bytes at a time
   * (jump labels, static calls, alternatives: ~1,600 writes per boot), and each whole-page drop cost
   * the page's other ~30 blocks a new translation. A page that keeps being written without code
   * being hit (code and data sharing it) is dropped whole after CODE_PAGE_WRITES writes, so that its
   * data writes take the TLB fast path again.
   */
  invalidateRange(addr: number, len: number): void {
    const page = addr - (addr % GUEST_PAGE);
    const set = this.byPage.get(page);
    if (!set) return;
    const writes = (this.codePageWrites.get(page) ?? 0) + 1;
    if (writes > CODE_PAGE_WRITES) { this.invalidatePage(page); return; }
    this.codePageWrites.set(page, writes);
    const hit: Block[] = [];
    for (const b of set) {
      // the block's bytes on this page: from its start, or (second page) from the page's start
      const firstPageEnd = b.paddr - (b.paddr % GUEST_PAGE) + GUEST_PAGE;
      const first = firstPageEnd === page + GUEST_PAGE;
      const lo = first ? b.paddr : page;
      const hi = first ? Math.min(b.paddr + b.len, firstPageEnd) : page + (b.paddr + b.len - firstPageEnd);
      if (lo < addr + len && addr < hi) hit.push(b);
    }
    if (hit.length) this.invalidateBlocks(hit);
  }

  /** Drop every translation on a physical page. */
  invalidatePage(page: number): void {
    const set = this.byPage.get(page);
    if (!set) return;
    this.invalidateBlocks([...set]);
  }

  /** Drop `seeds`, the blocks linking to them and their regions' blocks, transitively. */
  private invalidateBlocks(seeds: Block[]): void {
    this.stats.invalidations++;
    // the running code may be among the dead: a region would go on looping through it and a cold
    // block would branch to a dead successor, so make it leave at its next edge
    this.cpu.kick();
    const work = seeds;
    while (work.length) {
      const b = work.pop()!;
      if (!b.valid) continue;
      b.valid = false;
      for (const p of b.linkedFrom) if (p.valid) work.push(p);
      if (b.region) {
        for (const r of this.regions.get(b.region) ?? []) if (r.valid) work.push(r);
        this.regions.delete(b.region);
      }
      // forget it everywhere it can be found: jump cache, linear and physical maps, function table
      this.forgetJump(b);
      this.table.set(b.slot, null);
      this.slotBlocks[b.slot] = undefined;
      this.freeSlots.push(b.slot);
      Engine.unlink(this.phys, b.paddr, b, 'pchain');
      this.unlinkLinear(b);
      this.nonGlobalLinear.delete(b);
      // The running block may be among the dead and still call its helpers: keep them bound; the ids
      // are only rebound by later translations, which happen after that block has returned.
      this.releaseFromModule(b);
      for (const p of b.pages) {
        const set = this.byPage.get(p);
        if (!set) continue;
        set.delete(b);
        if (set.size === 0) { this.byPage.delete(p); this.codePageWrites.delete(p); }
      }
    }
  }

  /** Forget every translation (e.g. after loading a new kernel). */
  flushAll(): void {
    for (const p of [...this.byPage.keys()]) this.invalidatePage(p);
    this.flushLinear();
    this.phys.clear();
  }
}

function isNear(d: Insn): boolean {
  const k = d.opKind[0];
  return k === OpKind.NearBranch16 || k === OpKind.NearBranch32 || k === OpKind.NearBranch64;
}

/**
 * Whether block `c` may close a loop: it ends in a branch back to its own start or before it (every
 * cycle of direct branches has one) or in a jump through a register (an interpreter's dispatch).
 * Only these count executions: a region forms around a hot loop, which they all belong to, and the
 * other blocks are spared the counter's load, add, store and compare.
 */
function closesLoop(c: BlockCode): boolean {
  const last = c.insns[c.insns.length - 1];
  if (last.flow === FlowControl.IndirectBranch) return true;
  return (last.flow === FlowControl.ConditionalBranch || last.flow === FlowControl.UnconditionalBranch) && isNear(last) && last.branchTarget <= c.ip;
}

/** Where control can go after `last` without an indirect jump: fall-through and near direct targets. */
function staticSuccessors(last: Insn): bigint[] {
  // a call's return point is likely to run too (after the callee), though not next
  return last.flow === FlowControl.Call ? [last.next, ...regionSuccessors(last)] : regionSuccessors(last);
}

/** Where control goes after `last` at run time, when that is a constant (a call goes to its target). */
function regionSuccessors(last: Insn): bigint[] {
  if (last.flow === FlowControl.Next) return [last.next];
  if (!isNear(last)) return [];
  if (last.flow === FlowControl.ConditionalBranch) return [last.next, last.branchTarget];
  if (last.flow === FlowControl.UnconditionalBranch || last.flow === FlowControl.Call) return [last.branchTarget];
  return [];
}

/**
 * Emission order for a region: depth first from each block, the fall-through (or the jump target)
 * first, so that a block's likely successor follows its code and is reached without the dispatch loop.
 */
function regionOrder<I>(codes: BlockCode[], info: I[]): { codes: BlockCode[]; info: I[] } {
  const at = new Map<bigint, number>(codes.map((c, i) => [c.ip, i]));
  const done = new Set<number>();
  const order: number[] = [];
  for (let root = 0; root < codes.length; root++) {
    let i: number | undefined = root;
    while (i !== undefined && !done.has(i)) {
      done.add(i);
      order.push(i);
      const next: number | undefined = regionSuccessors(codes[i].insns[codes[i].insns.length - 1]).map((s) => at.get(s)).find((k) => k !== undefined && !done.has(k));
      i = next;
    }
  }
  return { codes: order.map((i) => codes[i]), info: order.map((i) => info[i]) };
}

/**
 * The strongly connected part of a page's control flow that holds block 0 (the hot block): the
 * blocks reachable from it that can also reach it, through static successors and — for blocks
 * ending in an indirect jump — any block already seen running on the page (`seeds`: a switch's
 * cases). Null when block 0 is on no cycle.
 */
function loopAround(codes: BlockCode[], seeds: bigint[]): number[] | null {
  const at = new Map<bigint, number>(codes.map((c, i) => [c.ip, i]));
  const seedIdx = seeds.map((s) => at.get(s)).filter((i): i is number => i !== undefined);
  const succ = codes.map((c) => {
    const last = c.insns[c.insns.length - 1];
    const out = regionSuccessors(last).map((s) => at.get(s)).filter((i): i is number => i !== undefined);
    // a jump through a register or table (a switch, an interpreter's dispatch) may go to any block
    // seen on the page; returns and indirect calls leave for the caller or callee instead
    return last.flow === FlowControl.IndirectBranch ? [...out, ...seedIdx] : out;
  });
  const pred: number[][] = codes.map(() => []);
  succ.forEach((out, i) => { for (const k of out) pred[k].push(i); });
  const reach = (edges: number[][]) => {
    const seen = new Set<number>();
    const work = [...edges[0]];
    while (work.length) {
      const i = work.pop()!;
      if (seen.has(i)) continue;
      seen.add(i);
      work.push(...edges[i]);
    }
    return seen;
  };
  const fwd = reach(succ);
  if (!fwd.has(0)) return null;
  const back = reach(pred);
  return [...fwd].filter((i) => back.has(i)).sort((a, b) => a - b);
}
