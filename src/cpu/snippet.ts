// Runs short user-mode x86-64 snippets on the real engine for the differential tests
// (contract: test/oracle/contract.ts). One machine is reused across calls.
import { Machine, type EngineKind } from '../machine/machine.js';
import * as L from './state-layout.js';
import { Seg } from './state-layout.js';
import { ATTR_G, ATTR_L, ATTR_DB } from './cpu.js';
import type { GuestFault } from './exception.js';

export interface SnippetInput { readonly code: Uint8Array; readonly regs: BigUint64Array; readonly mem: Uint8Array }
export interface SnippetOutput {
  regs: BigUint64Array; mem: Uint8Array; fault: number; faultOffset: number;
  /** Instructions this snippet retired inside hot regions. */
  hotInstructions: number;
}

const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000;
/** Code ends exactly at CODE_END; the page at CODE_END is not mapped, so running off the end faults there. */
const CODE_END = 0x200000;
const SCRATCH = 0x80000;
/** Guest-virtual address of the scratch memory (R15 on entry). */
export const SNIPPET_SCRATCH = SCRATCH;
const MAX_INSNS = 1_000_000;

/** One machine per engine configuration, reused across calls. */
const machines = new Map<string, Machine>();

/** Engine configuration for runSnippets (default: the CLI's). */
export interface SnippetEngine { engine?: EngineKind; hotThreshold?: number }

function setup(opts: SnippetEngine): Machine {
  const m = new Machine({ memMiB: 4, ...opts });
  m.phys.fill(0, 0x10000);
  return m;
}

function prepare(m: Machine): void {
  const cpu = m.cpu;
  const st = cpu.st;
  // the page tables lie in the page snippets may write: rewritten for each, so none sees another's writes
  const p = m.phys;
  p.fill(PML4, 0x3000);
  p.write64(PML4, PDPT | 7);
  p.write64(PDPT, PD | 7);
  p.write64(PD, 0x0 | 0x87); // 0-2 MiB: one user, writable 2 MiB page; 2-4 MiB left unmapped
  st.cr0 = 0x80050033;
  st.cr4 = 0x6a0; // PAE, PGE, OSFXSR, OSXMMEXCPT
  st.efer = 0xd00; // LME, LMA, NXE
  st.setNum(L.CR3, PML4);
  st.setSeg(Seg.CS, 0x33, 0n, 0xffffffff, 0xfb | ATTR_G | ATTR_L);
  for (const s of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) st.setSeg(s, 0x2b, 0n, 0xffffffff, 0xf3 | ATTR_G | ATTR_DB);
  cpu.halted = false;
  cpu.stopRequested = false;
  cpu.updateMode();
  cpu.flushTlb(true);
}

export function runSnippets(batch: readonly SnippetInput[], opts: SnippetEngine = {}): SnippetOutput[] {
  const key = `${opts.engine ?? ''}/${opts.hotThreshold ?? ''}`;
  let m = machines.get(key);
  if (!m) { m = setup(opts); machines.set(key, m); }
  const cpu = m.cpu;
  const st = cpu.st;
  const out: SnippetOutput[] = [];
  for (const sn of batch) {
    const start = CODE_END - sn.code.length;
    if (start < SCRATCH + sn.mem.length) throw new RangeError('snippet too large');
    prepare(m);
    m.phys.writeBytes(start, sn.code);
    m.phys.writeBytes(SCRATCH, sn.mem);
    for (let i = 0; i < 16; i++) st.setGpr(i, sn.regs[i]);
    st.setGpr(15, BigInt(SCRATCH));
    cpu.setRflags(Number(sn.regs[16] & 0x8d5n) | 2);
    st.rip = BigInt(start);
    let fault = -1, faultRip = -1n;
    const stopAt = (vector: number) => {
      const rip = st.rip;
      if (!(vector === 14 && rip === BigInt(CODE_END))) { fault = vector; faultRip = rip; }
      cpu.stopRequested = true;
    };
    cpu.onEvent = (vector) => { stopAt(vector); return true; };
    const deliver = (f: GuestFault) => stopAt(f.vector);
    // helpers and I/O return to the dispatcher: keep running until the snippet ends or the budget is spent
    const limit = st.icount + MAX_INSNS;
    const hot0 = st.num(L.HOT_ICOUNT);
    while (!cpu.stopRequested && !cpu.halted && st.icount < limit) m.engine.run(limit - st.icount, deliver);
    cpu.onEvent = null;
    const regs = new BigUint64Array(17);
    for (let i = 0; i < 16; i++) regs[i] = st.gpr(i);
    regs[4] = sn.regs[4];
    regs[15] = sn.regs[15];
    regs[16] = BigInt(cpu.getRflags());
    out.push({ regs, mem: m.phys.readBytes(SCRATCH, sn.mem.length), fault, faultOffset: fault < 0 ? -1 : Number(faultRip - BigInt(start)), hotInstructions: st.num(L.HOT_ICOUNT) - hot0 });
  }
  return out;
}
