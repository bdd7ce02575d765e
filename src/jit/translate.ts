import { ModuleBuilder, FnBody, type TableFn } from './wasm/encoder.js';
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
import { JUMP_CACHE_BASE, JUMP_CACHE_ENTRIES } from '../mmu/layout.js';
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
    flagsGet: ref('flags_get'), mul128: ref('mul128'), div128: ref('div128'), dispatch: ref('dispatch'),
    helper: ref('helper'), ioIn: ref('io_in'), ioOut: ref('io_out'), raise: ref('raise'), segCheck: ref('seg_check'),
  };
}

export { jumpCacheIndex } from './runtime-module.js';

function touchesMemory(d: Insn): boolean {
  if (d.mnemonic === Mnemonic.Lea || d.mnemonic === Mnemonic.Nop) return false;
  for (const k of d.opKind) if (k === OpKind.Memory || (k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI)) return true;
  return false;
}

/** Build one Wasm module holding one exported function per block (`b0`, `b1`, …). */
export function translateBlocks(blocks: BlockCode[], mode: number, hooks: TranslateHooks, memPages: number, memMax: number): Uint8Array<ArrayBuffer> {
  const m = new ModuleBuilder({ module: 'env', name: 'mem', pages: memPages, maxPages: memMax });
  m.importTable('env', 'rt', RT_NAMES.length);
  const rt = runtimeRefs(m);
  blocks.forEach((b, bi) => {
    const f = new FnBody(0);
    const g = new Gen(f, mode, rt, hooks.bindHelper, hooks.cpu);
    const live = flagLiveness(b.insns, hooks.isHelperBased);
    g.lazyKind = -1;
    for (let i = 0; i < b.insns.length; i++) {
      const d = b.insns[i];
      g.beginInsn(d);
      g.retired = i;
      g.flagsLive = live[i];
      // Memory and stack accesses may fault: the faulting RIP must be this instruction's.
      if (d.stackInc !== 0 || touchesMemory(d)) g.syncRip();
      const sem = d.isInvalid ? undefined : SEM[d.mnemonic];
      if (sem) sem(g);
      else hooks.undefinedInsn(g);
      if (g.ended) break;
    }
    if (!g.ended) {
      const last = b.insns[b.insns.length - 1];
      f.i32(0).i64Big(last.next).i64Store(128 /* RIP */);
    }
    g.addIcount(b.insns.length);
    if (mode & MODE_TF) {
      // single-step: a #DB trap after the instruction (SDM vol. 3 §17.3.1.4), reported in DR6.BS
      const cpu = hooks.cpu;
      g.callHelperNoSync(() => {
        if (!(cpu.getRflags() & TF)) return; // the instruction itself cleared TF (POPF, IRET…)
        cpu.st.set64(DR + 6 * 8, cpu.st.get64(DR + 6 * 8) | 0x4000n);
        deliverEvent(cpu, 1, EventKind.Exception, -1);
      });
    }
    emitChain(f, rt.dispatch);
    m.addFunction([], [], f, `b${bi}`);
  });
  return m.emit();
}
