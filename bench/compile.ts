/**
 * Translation cost "in batches": the cold tier's whole pipeline — decoding with iced-x86, emitting
 * Wasm, `new WebAssembly.Module` and `new WebAssembly.Instance` — over the text of Debian's kernel
 * (`.cache/images/vmlinux`, from `npm run images`), one batch per 4 KiB page of code, in 64-bit mode.
 * A batch holds the page's blocks reachable from the functions that start on it (as the engine
 * batches what it can reach from a missed block), pages without a function entry are skipped.
 * A boot's batches are smaller, and it also registers each block in the code caches. JSON on stdout.
 * Run: npx tsc -p . && node dist/bench/compile.js [--pages N] [--rounds N]
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Machine } from '../src/machine/machine.js';
import { translateBlocks, type BlockCode } from '../src/jit/translate.js';
import { RT_NAMES } from '../src/jit/runtime-module.js';
import { InsnDecoder, type Insn } from '../src/cpu/decode.js';
import { FlowControl } from '../src/cpu/iced.js';
import { endsBlock, isHelperBased } from '../src/cpu/sem/index.js';
import { MODE_CS64, MODE_LMA, MODE_PE, MODE_NOLIMIT_ALL } from '../src/cpu/mode.js';
import { parseElf } from '../src/loader/elf.js';

const VMLINUX = resolve(process.env.VMRUN_IMAGES ?? '.cache/images', 'vmlinux');
if (!existsSync(VMLINUX)) {
  process.stderr.write('bench compile: skipped: run npm run images first\n');
  process.exit(0);
}
const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const PAGES = opt('--pages', 1000);
const ROUNDS = Math.max(2, opt('--rounds', 3));
const file = readFileSync(VMLINUX);
// the kernel's text: its first executable segment, run at __START_KERNEL_map + its physical address
const text = parseElf(file, 'vmlinux').segments.find((sg) => sg.flags & 1);
if (!text) { process.stderr.write('bench compile: vmlinux has no executable segment\n'); process.exit(2); }
const textIp = 0xffffffff80000000n + BigInt(text.paddr);

// pages spread over the whole text (every k-th), shifted by one page each round: V8 can cache compiled
// modules by their bytes (the engine turns that cache off; rounds on other pages stay honest either way)
const step = Math.max(1, Math.floor(text.filesz / 4096 / PAGES));
type Page = { ip: bigint; bytes: Uint8Array };
const roundPages: Page[][] = [];
for (let r = 0; r < ROUNDS; r++) {
  const pages: Page[] = [];
  for (let p = 0; p < PAGES && (p * step + (r % step) + 1) * 4096 + 15 <= text.filesz; p++) {
    const off = (p * step + (r % step)) * 4096;
    pages.push({ ip: textIp + BigInt(off), bytes: new Uint8Array(file.subarray(text.offset + off, text.offset + off + 4096 + 15)) });
  }
  roundPages.push(pages);
}

const machine = new Machine({ memMiB: 16 });
const mode = MODE_PE | MODE_LMA | MODE_CS64 | MODE_NOLIMIT_ALL;
let helperIds = 0;
const hooks = { cpu: machine.cpu, bindHelper: () => helperIds++ % 4096, undefinedInsn: (g: { ended: boolean }) => { g.ended = true; }, isHelperBased };
const rt = new WebAssembly.Table({ element: 'anyfunc', initial: RT_NAMES.length });
RT_NAMES.forEach((name, i) => rt.set(i, machine.engine.runtime[name] as never));
const memPages = machine.cpu.memory.buffer.byteLength / 65536;
const decoder = new InsnDecoder();

/**
 * Function entries: targets of direct near calls (E8 rel32) found by a linear sweep of the text
 * that at least two call sites share (Debian's stripped kernel has no symbols; data decoded as
 * code rarely names the same target twice). Sorted.
 */
function functionEntries(): bigint[] {
  const bytes = file.subarray(text!.offset, text!.offset + text!.filesz);
  const count = new Map<number, number>();
  for (let i = 0; i + 5 <= bytes.length; i++) {
    if (bytes[i] !== 0xe8) continue;
    const t = i + 5 + (bytes[i + 1] | (bytes[i + 2] << 8) | (bytes[i + 3] << 16) | (bytes[i + 4] << 24));
    if (t >= 0 && t < bytes.length) count.set(t, (count.get(t) ?? 0) + 1);
  }
  return [...count].filter(([, n]) => n >= 2).map(([t]) => textIp + BigInt(t)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
const entries = functionEntries();
/** The function entries on each sampled page (found before the clock runs). */
const pageEntries = new Map(roundPages.flat().map((pg) => [pg.ip, entries.filter((e) => e >= pg.ip && e < pg.ip + 4096n)]));

function decodeBlock(page: Page, ip: bigint, end: bigint): Insn[] {
  const insns: Insn[] = [];
  decoder.decodeRun(page.bytes, page.ip, ip, 64, (d) => {
    if (d.ip >= end) return false;
    insns.push(d);
    return d.flow === FlowControl.Next && !endsBlock(d) && insns.length < 64;
  });
  return insns;
}

/** One page's batch: the blocks reachable from the function entries on it (fall-through and near branch targets on the page, at most 64). */
function decodePage(page: Page): BlockCode[] {
  const blocks: BlockCode[] = [];
  const end = page.ip + 4096n;
  const todo = [...pageEntries.get(page.ip)!];
  const seen = new Set<bigint>(todo);
  while (todo.length && blocks.length < 64) {
    const ip = todo.shift()!;
    const insns = decodeBlock(page, ip, end);
    if (!insns.length) continue;
    blocks.push({ ip, insns });
    const last = insns[insns.length - 1];
    const next: bigint[] = [];
    if (last.flow === FlowControl.Next || last.flow === FlowControl.ConditionalBranch || last.flow === FlowControl.Call) next.push(last.next);
    if (last.branchTarget) next.push(last.branchTarget);
    for (const n of next) if (n >= page.ip && n < end && !seen.has(n)) { seen.add(n); todo.push(n); }
  }
  decoder.release();
  return blocks;
}

const rounds: { decodeUs: number; emitUs: number; moduleUs: number; instanceUs: number; totalUs: number; blocks: number; insns: number; wasmBytesPerInsn: number }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let decode = 0, emit = 0, mod = 0, inst = 0, blocks = 0, insns = 0, bytes = 0;
  const keep: WebAssembly.Instance[] = [];
  for (const page of roundPages[r]) {
    const t0 = performance.now();
    const codes = decodePage(page);
    const t1 = performance.now();
    if (!codes.length) continue;
    const wasm = translateBlocks(codes, mode, hooks, memPages, memPages);
    const t2 = performance.now();
    const m = new WebAssembly.Module(wasm);
    const t3 = performance.now();
    keep.push(new WebAssembly.Instance(m, { env: { mem: machine.cpu.memory, rt } }));
    const t4 = performance.now();
    decode += t1 - t0; emit += t2 - t1; mod += t3 - t2; inst += t4 - t3;
    blocks += codes.length; insns += codes.reduce((a, c) => a + c.insns.length, 0); bytes += wasm.length;
  }
  const us = (ms: number) => (ms * 1000) / blocks;
  rounds.push({ decodeUs: us(decode), emitUs: us(emit), moduleUs: us(mod), instanceUs: us(inst), totalUs: us(decode + emit + mod + inst), blocks, insns, wasmBytesPerInsn: bytes / insns });
}
// the first round warms up V8's JIT: report the best of the others
const best = rounds.slice(1).reduce((a, b) => (b.totalUs < a.totalUs ? b : a));
process.stderr.write(`compile: ${roundPages[0].length} pages of vmlinux .text (the code reachable from ${entries.length} call targets), ${best.blocks} blocks, ${best.insns} instructions per round\n`);
process.stderr.write(`compile: per block ${best.totalUs.toFixed(1)} µs = decode ${best.decodeUs.toFixed(1)} + emit ${best.emitUs.toFixed(1)} + module ${best.moduleUs.toFixed(1)} + instance ${best.instanceUs.toFixed(1)}; ${best.wasmBytesPerInsn.toFixed(0)} Wasm bytes per instruction; ${(best.insns / best.blocks).toFixed(1)} instructions a block, ${(best.totalUs * best.blocks / best.insns).toFixed(2)} µs an instruction\n`);
process.stdout.write(JSON.stringify({ note: 'µs per block, one batch (module) per 4 KiB page of the kernel text: the blocks reachable from the functions (call targets) starting on it; best of rounds 2..N', pages: roundPages[0].length, ...best, rounds }, null, 2) + '\n');
