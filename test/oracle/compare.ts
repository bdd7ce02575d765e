// Masked comparison of two snippet outputs, and human-readable reports.
import { RSP, SCRATCH_BASE_REG, STATUS_FLAGS_MASK, RFLAGS, type SnippetOutput } from './contract.js';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax, Instruction } from './iced.js';
import { definedFlagsMask, regMask, type Definedness } from './mask.js';
import type { Sequence } from './gen.js';

export const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export interface Diff {
  what: string;
  expected: string;
  actual: string;
}

const hex = (v: bigint, digits = 16): string => '0x' + v.toString(16).padStart(digits, '0');

export function flagsString(v: bigint, mask: bigint = STATUS_FLAGS_MASK): string {
  const names: Array<[bigint, string]> = [[0x800n, 'O'], [0x80n, 'S'], [0x40n, 'Z'], [0x10n, 'A'], [0x4n, 'P'], [0x1n, 'C']];
  return names.map(([bit, n]) => ((mask & bit) === 0n ? '.' : (v & bit) !== 0n ? n : n.toLowerCase())).join('');
}

/** Differences between `expected` (the host CPU) and `actual` (vmrun) in defined state. */
export function compareOutputs(expected: SnippetOutput, actual: SnippetOutput, d: Definedness): Diff[] {
  const diffs: Diff[] = [];
  if (expected.fault !== actual.fault || expected.faultOffset !== actual.faultOffset) {
    diffs.push({
      what: 'fault',
      expected: `vector ${expected.fault} at +${expected.faultOffset}`,
      actual: `vector ${actual.fault} at +${actual.faultOffset}`,
    });
  }
  for (let i = 0; i < 16; i++) {
    if (i === RSP || i === SCRATCH_BASE_REG) continue;
    const m = regMask(d, i);
    const e = expected.regs[i]!;
    const a = actual.regs[i]!;
    if ((e & m) !== (a & m)) diffs.push({ what: REG_NAMES[i]!, expected: hex(e), actual: `${hex(a)} (compared bytes ${hex(m)})` });
  }
  const fm = definedFlagsMask(d);
  const ef = expected.regs[RFLAGS]!;
  const af = actual.regs[RFLAGS]!;
  if ((ef & fm) !== (af & fm)) {
    diffs.push({ what: 'rflags', expected: flagsString(ef, fm), actual: flagsString(af, fm) });
  }
  if (actual.mem.length !== expected.mem.length) {
    diffs.push({ what: 'mem.length', expected: String(expected.mem.length), actual: String(actual.mem.length) });
  } else {
    for (let i = 0; i < expected.mem.length; i++) {
      if (d.mem[i] && expected.mem[i] !== actual.mem[i]) {
        let j = i;
        while (j + 1 < expected.mem.length && j - i < 15 && d.mem[j + 1] && expected.mem[j + 1] !== actual.mem[j + 1]) j++;
        const bytes = (m: Uint8Array): string => Array.from(m.subarray(i, j + 1), (b) => b.toString(16).padStart(2, '0')).join(' ');
        diffs.push({ what: `mem[${i}..${j}]`, expected: bytes(expected.mem), actual: bytes(actual.mem) });
        i = j;
        if (diffs.length > 24) break;
      }
    }
  }
  return diffs;
}

const formatter = new Formatter(FormatterSyntax.Intel);
formatter.hexPrefix = '0x';
formatter.hexSuffix = '';
formatter.uppercaseHex = false;

/** One line per instruction: offset, bytes, Intel syntax. */
export function disassemble(code: Uint8Array, mark = -1): string[] {
  const decoder = new Decoder(64, code, DecoderOptions.None);
  const ins = new Instruction();
  const lines: string[] = [];
  let k = 0;
  while (decoder.canDecode) {
    const at = Number(decoder.ip);
    decoder.decodeOut(ins);
    const bytes = Array.from(code.subarray(at, at + ins.length), (b) => b.toString(16).padStart(2, '0')).join('');
    lines.push(`${k === mark ? '>>' : '  '} ${String(at).padStart(4)}: ${bytes.padEnd(30)} ${formatter.format(ins)}`);
    k++;
  }
  ins.free();
  decoder.free();
  return lines;
}

/** Full report of a mismatching sequence. */
export function report(
  seq: Sequence,
  expected: SnippetOutput,
  actual: SnippetOutput,
  diffs: Diff[],
  firstBad: number | undefined,
): string {
  const out: string[] = [];
  out.push(`sequence seed=${seq.seed} index=${seq.index}` + (firstBad !== undefined ? `, first differing after instruction #${firstBad}` : ''));
  out.push(...disassemble(seq.code, firstBad ?? -1));
  out.push('inputs:');
  for (let i = 0; i < 16; i++) {
    if (i === RSP || i === SCRATCH_BASE_REG) continue;
    out.push(`  ${REG_NAMES[i]!.padEnd(4)} ${hex(seq.regs[i]!)}   host ${hex(expected.regs[i]!)}   vmrun ${hex(actual.regs[i]!)}`);
  }
  out.push(`  flags ${flagsString(seq.regs[RFLAGS]!)}   host ${flagsString(expected.regs[RFLAGS]!)}   vmrun ${flagsString(actual.regs[RFLAGS]!)}`);
  out.push(`  fault host ${expected.fault}@${expected.faultOffset}   vmrun ${actual.fault}@${actual.faultOffset}`);
  out.push('differences (host vs vmrun):');
  for (const d of diffs) out.push(`  ${d.what}: host ${d.expected}  vmrun ${d.actual}`);
  return out.join('\n');
}
