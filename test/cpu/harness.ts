// Runs short 64-bit ring-0 snippets (Intel-syntax assembly, assembled with GNU as) on the real
// engine and exposes the resulting state, for the SSE/x87 tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Machine, type EngineKind } from '../../src/machine/machine.js';
import { EventKind } from '../../src/cpu/system/interrupts.js';
import * as L from '../../src/cpu/state-layout.js';
import { Seg } from '../../src/cpu/state-layout.js';
import { ATTR_G, ATTR_L, ATTR_DB } from '../../src/cpu/cpu.js';
import type { CpuState } from '../../src/cpu/state.js';
import type { GuestFault } from '../../src/cpu/exception.js';

export const hasAs = ((): boolean => {
  try { execFileSync('as', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

const asmCache = new Map<string, Uint8Array>();

/** Assemble Intel-syntax x86-64 code to flat bytes. */
export function asm(src: string): Uint8Array {
  const hit = asmCache.get(src);
  if (hit) return hit;
  const dir = mkdtempSync(join(tmpdir(), 'vmrun-asm-'));
  try {
    writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n.text\n${src}\n`);
    execFileSync('as', ['--64', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    const b = new Uint8Array(readFileSync(join(dir, 'a.bin')));
    asmCache.set(src, b);
    return b;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const PML4 = 0x1000, PDPT = 0x2000, PD = 0x3000;
/** Code ends at CODE_END; the next page is unmapped so running off the end stops the snippet. */
export const CODE_END = 0x200000;
/** Scratch data (16-byte aligned) that snippets address as [DATA + k] via r15 or absolute. */
export const DATA = 0x100000;

/** RunResult.fault after a triple fault (the machine stopped: a shutdown, not a vector). */
export const TRIPLE_FAULT = -2;

export interface RunResult {
  m: Machine;
  st: CpuState;
  /** Exception vector raised by the snippet, -1 when it ran to the end, TRIPLE_FAULT after one. */
  fault: number;
  errorCode: number;
}

export interface Setup {
  /** Called after the standard state is set, before running. */
  init?: (st: CpuState, m: Machine) => void;
  /** Bytes written at DATA. */
  data?: Uint8Array;
  /** Execution engine and hot threshold (default: the CLI's). */
  engine?: { engine?: EngineKind; hotThreshold?: number };
  /** Run through the machine loop (timers, interrupts) instead of the bare engine. */
  withDevices?: boolean;
  /** Instructions before giving up (default 100,000). */
  maxInstructions?: number;
}

/** One machine per engine configuration (see Setup.engine). */
const shared = new Map<string, Machine>();
let codeSlot = 0;

function machine(engine: Setup['engine'] = {}): Machine {
  const key = `${engine.engine ?? ''}/${engine.hotThreshold ?? ''}`;
  const had = shared.get(key);
  if (had) return had;
  const m = new Machine({ memMiB: 16, ...engine });
  shared.set(key, m);
  return m;
}

/** The page tables every run starts from (a run's `init` may change them: they are rewritten each time). */
function writePageTables(m: Machine): void {
  const p = m.phys;
  p.fill(0, 0x10000);
  p.write64(PML4, PDPT | 3);
  p.write64(PDPT, PD | 3);
  p.write64(PD, 0x0 | 0x83); // 0-2 MiB, one writable supervisor page; 2-4 MiB unmapped
}

/** Run code (assembly text or bytes) in 64-bit ring 0 with SSE enabled. */
export function run(code: string | Uint8Array, setup: Setup = {}): RunResult {
  const m = machine(setup.engine);
  const cpu = m.cpu;
  const st = cpu.st;
  const bytes = typeof code === 'string' ? asm(code) : code;
  // each run uses a fresh code address so no translated block is reused with stale bytes
  codeSlot = (codeSlot + 1) % 64;
  const end = CODE_END - codeSlot * 0x1000;
  // the snippet, then `jmp CODE_END` (unmapped): the #PF there marks the normal end
  const body = new Uint8Array(bytes.length + 5);
  body.set(bytes);
  const at = end - body.length;
  body[bytes.length] = 0xe9;
  new DataView(body.buffer).setInt32(bytes.length + 1, CODE_END - end, true);
  writePageTables(m);
  m.phys.writeBytes(at, body);
  m.phys.fill(DATA, 0x4000);
  st.u8.fill(0, L.XMM, L.STATE_END);
  st.u8.fill(0, L.STATE_END, 4096);
  for (let i = 0; i < 16; i++) st.setGpr(i, 0n);
  st.setGpr(4, 0x90000n);
  st.setGpr(15, BigInt(DATA));
  st.cr0 = 0x80050033; // PG WP NE ET MP PE
  st.cr4 = 0x406a0; // OSXSAVE OSXMMEXCPT OSFXSR PGE PAE
  st.efer = 0xd00;
  st.set64(L.XCR0, 3n);
  st.setNum(L.CR3, PML4);
  st.setSeg(Seg.CS, 0x08, 0n, 0xffffffff, 0x9b | ATTR_G | ATTR_L);
  for (const s of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) st.setSeg(s, 0x10, 0n, 0xffffffff, 0x93 | ATTR_G | ATTR_DB);
  st.set32(L.MXCSR, 0x1f80);
  st.set32(L.FPU_CW, 0x37f);
  cpu.setRflags(2);
  if (setup.data) m.phys.writeBytes(DATA, setup.data);
  setup.init?.(st, m);
  cpu.halted = false;
  cpu.stopRequested = false;
  m.stopReason = null;
  cpu.updateMode();
  cpu.flushTlb(true);
  st.rip = BigInt(at);
  let fault = -1, errorCode = -1;
  const stop = (vector: number, err: number): void => {
    if (!(vector === 14 && st.rip === BigInt(CODE_END))) { fault = vector; errorCode = err; }
    cpu.stopRequested = true;
  };
  // exceptions end the snippet; external interrupts (withDevices) go through the IDT
  cpu.onEvent = (vector, kind, err) => { if (kind === EventKind.External) return false; stop(vector, err); return true; };
  // helpers, I/O and hot-code reports return to the caller early: keep going until the end or the budget
  const limit = st.icount + (setup.maxInstructions ?? 100_000);
  while (!cpu.stopRequested && !cpu.halted && st.icount < limit) {
    if (setup.withDevices) m.runSlice(1000);
    else m.engine.run(limit - st.icount, (f: GuestFault) => stop(f.vector, f.errorCode));
  }
  cpu.onEvent = null;
  // a triple fault (an exception while delivering a double fault) never reaches onEvent
  if (m.stopReason === 'triple-fault') fault = TRIPLE_FAULT;
  return { m, st, fault, errorCode };
}

// ---- state accessors -------------------------------------------------------------------------------

export const xmmOff = (i: number): number => L.XMM + i * 16;
export function xmmBytes(st: CpuState, i: number): Uint8Array { return st.u8.slice(xmmOff(i), xmmOff(i) + 16); }
export function xmmU32(st: CpuState, i: number): number[] { return [0, 1, 2, 3].map((k) => st.u32[(xmmOff(i) >> 2) + k]); }
export function xmmU64(st: CpuState, i: number): bigint[] { return [st.get64(xmmOff(i)), st.get64(xmmOff(i) + 8)]; }
export function xmmF32(st: CpuState, i: number): number[] { return [0, 1, 2, 3].map((k) => st.dv.getFloat32(xmmOff(i) + 4 * k, true)); }
export function xmmF64(st: CpuState, i: number): number[] { return [0, 1].map((k) => st.dv.getFloat64(xmmOff(i) + 8 * k, true)); }
export function setXmmU32(st: CpuState, i: number, v: number[]): void { v.forEach((x, k) => { st.u32[(xmmOff(i) >> 2) + k] = x >>> 0; }); }
export function setXmmU64(st: CpuState, i: number, v: bigint[]): void { v.forEach((x, k) => st.set64(xmmOff(i) + 8 * k, x)); }
export function setXmmF32(st: CpuState, i: number, v: number[]): void { v.forEach((x, k) => st.dv.setFloat32(xmmOff(i) + 4 * k, x, true)); }
export function setXmmF64(st: CpuState, i: number, v: number[]): void { v.forEach((x, k) => st.dv.setFloat64(xmmOff(i) + 8 * k, x, true)); }
export function setXmmBytes(st: CpuState, i: number, b: ArrayLike<number>): void { for (let k = 0; k < 16; k++) st.u8[xmmOff(i) + k] = b[k]; }

/** Bits of a float32 / float64 as unsigned integers. */
export const f32bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];
export const f64bits = (x: number): bigint => new BigUint64Array(new Float64Array([x]).buffer)[0];
export const bitsF32 = (u: number): number => new Float32Array(new Uint32Array([u]).buffer)[0];
export const bitsF64 = (u: bigint): number => new Float64Array(new BigUint64Array([u]).buffer)[0];

export function readData(m: Machine, off: number, n: number): Uint8Array { return m.phys.readBytes(DATA + off, n); }

// ---- native differential runs (x86-64 hosts with gcc) ---------------------------------------------

export const canNative = process.arch === 'x64' && hasAs && ((): boolean => {
  try { execFileSync('gcc', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
})();

/** Initial state shared by the emulated and native runs of a differential case. */
export interface DiffInput {
  code: string;
  /** 16 XMM registers × 16 bytes. */
  xmm?: Uint8Array;
  /** rax, rcx, rdx, rbx, (rsp ignored), rbp, rsi, rdi, r8..r14 (r15 = data pointer). */
  gpr?: bigint[];
  /** Data area contents (≤ 4096 bytes) at [r15]. */
  data?: Uint8Array;
}

export interface DiffOutput {
  xmm: Uint8Array;
  gpr: bigint[];
  rflags: number;
  mxcsr: number;
  data: Uint8Array;
}

const GPR_SAVE = [0, 1, 2, 3, 5, 6, 8, 9, 10, 11, 12, 13, 14];
const GNAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const DATA_N = 4096;

/** Run each case natively (one gcc build for the batch). */
export function runNative(cases: DiffInput[]): DiffOutput[] {
  const dir = mkdtempSync(join(tmpdir(), 'vmrun-native-'));
  try {
    let s = '.intel_syntax noprefix\n.text\n';
    cases.forEach((c, k) => {
      s += `.globl snip${k}\nsnip${k}:\n push rbx\n push rbp\n push r12\n push r13\n push r14\n push r15\n sub rsp, 8\n`;
      s += ` mov [rip+saved_state], rdi\n mov r15, rsi\n`;
      for (let i = 0; i < 16; i++) s += ` movdqu xmm${i}, [rdi+${i * 16}]\n`;
      for (const r of GPR_SAVE) s += ` mov ${GNAMES[r]}, [rdi+${256 + r * 8}]\n`;
      s += ` mov rdi, [rdi+${256 + 7 * 8}]\n`;
      s += c.code + '\n';
      s += ` mov [rip+tmp_rdi], rdi\n mov rdi, [rip+saved_state]\n`;
      for (const r of GPR_SAVE) s += ` mov [rdi+${256 + r * 8}], ${GNAMES[r]}\n`;
      s += ` mov rax, [rip+tmp_rdi]\n mov [rdi+${256 + 7 * 8}], rax\n pushfq\n pop rax\n mov [rdi+384], rax\n stmxcsr [rdi+392]\n`;
      for (let i = 0; i < 16; i++) s += ` movdqu [rdi+${i * 16}], xmm${i}\n`;
      s += ` mov eax, 0x1f80\n mov [rdi+400], eax\n ldmxcsr [rdi+400]\n fninit\n add rsp, 8\n pop r15\n pop r14\n pop r13\n pop r12\n pop rbp\n pop rbx\n ret\n`;
    });
    s += '.data\n.align 16\nsaved_state: .quad 0\ntmp_rdi: .quad 0\n';
    s += `.globl ncases\nncases: .long ${cases.length}\n.globl snips\n.align 8\nsnips:\n`;
    cases.forEach((_, k) => { s += ` .quad snip${k}\n`; });
    writeFileSync(join(dir, 's.s'), s + '.section .note.GNU-stack,"",@progbits\n');
    const inputs = new Uint8Array(cases.length * (512 + DATA_N));
    cases.forEach((c, k) => {
      const base = k * (512 + DATA_N);
      if (c.xmm) inputs.set(c.xmm, base);
      const dv = new DataView(inputs.buffer);
      (c.gpr ?? []).forEach((v, i) => { if (i !== 4 && i < 15) dv.setBigUint64(base + 256 + i * 8, BigInt.asUintN(64, v), true); });
      if (c.data) inputs.set(c.data, base + 512);
    });
    writeFileSync(join(dir, 'in.bin'), inputs);
    writeFileSync(join(dir, 'm.c'), `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern int ncases; extern void (*snips[])(unsigned char*, unsigned char*);
static unsigned char st[512] __attribute__((aligned(16)));
static unsigned char data[${DATA_N}] __attribute__((aligned(4096)));
int main(int c, char **v) {
  FILE *f = fopen(v[1], "rb"); FILE *o = fopen(v[2], "wb");
  for (int k = 0; k < ncases; k++) {
    fread(st, 1, 512, f); fread(data, 1, ${DATA_N}, f);
    snips[k](st, data);
    fwrite(st, 1, 512, o); fwrite(data, 1, ${DATA_N}, o);
  }
  fclose(o); return 0;
}
`);
    execFileSync('gcc', ['-O1', '-no-pie', '-o', join(dir, 'n'), join(dir, 'm.c'), join(dir, 's.s')]);
    execFileSync(join(dir, 'n'), [join(dir, 'in.bin'), join(dir, 'out.bin')]);
    const out = new Uint8Array(readFileSync(join(dir, 'out.bin')));
    return cases.map((_, k) => {
      const base = k * (512 + DATA_N);
      const dv = new DataView(out.buffer, base);
      const gpr: bigint[] = [];
      for (let i = 0; i < 16; i++) gpr.push(dv.getBigUint64(256 + i * 8, true));
      return { xmm: out.slice(base, base + 256), gpr, rflags: Number(dv.getBigUint64(384, true)), mxcsr: dv.getUint32(392, true), data: out.slice(base + 512, base + 512 + DATA_N) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run one differential case on the emulator. */
export function runEmu(c: DiffInput): DiffOutput & { fault: number } {
  const r = run(c.code, {
    data: c.data,
    init: (st) => {
      if (c.xmm) st.u8.set(c.xmm, L.XMM);
      (c.gpr ?? []).forEach((v, i) => { if (i !== 4 && i < 15) st.setGpr(i, v); });
    },
  });
  const gpr: bigint[] = [];
  for (let i = 0; i < 16; i++) gpr.push(r.st.gpr(i));
  return { fault: r.fault, xmm: r.st.u8.slice(L.XMM, L.XMM + 256), gpr, rflags: r.m.cpu.getRflags(), mxcsr: r.st.get32(L.MXCSR), data: r.m.phys.readBytes(DATA, DATA_N) };
}

/** Deterministic pseudo-random bytes. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

export const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * Run every case natively and under vmrun; `compare` adds a line to `bad` for each difference that
 * matters for that suite. A fault under vmrun is always a difference. Returns the list of differences.
 */
export function diffAgainstNative(cases: DiffInput[], compare: (c: DiffInput, e: DiffOutput, n: DiffOutput, bad: string[]) => void): string[] {
  const nat = runNative(cases);
  const bad: string[] = [];
  cases.forEach((c, k) => {
    const e = runEmu(c);
    if (e.fault !== -1) { bad.push(`${c.code}: fault ${e.fault}`); return; }
    compare(c, e, nat[k], bad);
  });
  return bad;
}

/** One line per XMM register that differs, labelled by `label` (and `extra(i)` when given). */
export function diffXmm(label: string, e: DiffOutput, n: DiffOutput, bad: string[], extra?: (i: number) => string): void {
  for (let i = 0; i < 16; i++) {
    const a = hex(e.xmm.slice(i * 16, i * 16 + 16)), b = hex(n.xmm.slice(i * 16, i * 16 + 16));
    if (a !== b) bad.push(`${label}: xmm${i} emu ${a} native ${b}${extra ? extra(i) : ''}`);
  }
}
