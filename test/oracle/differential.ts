// The differential driver: generate, run on the host CPU and in the runner under
// test, mask, compare, and shrink mismatches to the first differing instruction.
import { Vector, type RunSnippets, type SnippetOutput } from './contract.js';
import { compareOutputs, report, type Diff } from './compare.js';
import { Generator, prefix, toInput, type Sequence } from './gen.js';
import { definedness, needsProbe, type ProbeState } from './mask.js';
import type { NativeOracle } from './native.js';

export interface DifferentialOptions {
  native: NativeOracle;
  /** The runner under test (vmrun's runSnippets, or a stand-in). */
  runner: RunSnippets;
  seed: number;
  sequences: number;
  /** Random instructions per sequence (setup instructions come on top). */
  length?: number;
  /** Sequences per batch, bounding memory use. */
  chunk?: number;
  /** Stop collecting reports after this many mismatches. */
  maxReports?: number;
  /**
   * Known, documented divergences (see explained.ts): returns the reason when
   * a mismatch is explained, undefined otherwise.
   */
  explain?: (seq: Sequence, diffs: Diff[]) => string | undefined;
}

export interface DifferentialResult {
  sequences: number;
  /** Instructions that actually executed on the host (up to a fault). */
  instructions: number;
  faults: Map<number, number>;
  /** Unexplained mismatches: the number that must be 0. */
  mismatches: number;
  /** Explained mismatches by reason. */
  explained: Map<string, number>;
  reports: string[];
  /** Sequences compared only up to a DIV/IDIV of undefined data. */
  cutAtUndefinedDivision: number;
  /** How much was compared, to notice when masking hides too much. */
  comparedFlagBits: number;
  possibleFlagBits: number;
}

/** Index of the instruction a fault stopped at (or the count, without a fault). */
export function stopIndex(seq: Sequence, out: SnippetOutput): number {
  if (out.fault === Vector.None) return seq.instrs.length;
  let k = 0;
  // Traps report the next instruction; faults the instruction itself.
  while (k < seq.instrs.length && seq.offsets[k + 1]! <= out.faultOffset && seq.offsets[k]! < out.faultOffset) k++;
  return k;
}

/** Native states in front of every value-dependent instruction, keyed by sequence then index. */
export function collectProbes(native: NativeOracle, seqs: readonly Sequence[]): Array<Map<number, ProbeState>> {
  const jobs: Array<{ s: number; k: number }> = [];
  seqs.forEach((seq, s) => seq.instrs.forEach((g, k) => needsProbe(g) && jobs.push({ s, k })));
  const outs = native.run(jobs.map(({ s, k }) => toInput(prefix(seqs[s]!, k))));
  const maps = seqs.map(() => new Map<number, ProbeState>());
  jobs.forEach(({ s, k }, i) => {
    // A prefix that faults never reaches instruction k, so nothing needs its state.
    if (outs[i]!.fault === Vector.None) maps[s]!.set(k, outs[i]!);
  });
  return maps;
}

/** Compares one sequence; returns the differences (empty when equal). */
export function check(seq: Sequence, host: SnippetOutput, other: SnippetOutput, probes: Map<number, ProbeState>): Diff[] {
  const d = definedness(seq, stopIndex(seq, host), (k) => probes.get(k));
  return compareOutputs(host, other, d);
}

/** Shortest prefix that already differs; cheap because sequences are short. */
async function firstDiffering(
  seq: Sequence,
  native: NativeOracle,
  runner: RunSnippets,
  probes: Map<number, ProbeState>,
): Promise<number | undefined> {
  const prefixes = seq.instrs.map((_, i) => prefix(seq, i + 1));
  const hosts = native.run(prefixes.map(toInput));
  const others = await runner(prefixes.map(toInput));
  for (let i = 0; i < prefixes.length; i++) {
    if (check(prefixes[i]!, hosts[i]!, others[i]!, probes).length > 0) return i;
  }
  return undefined;
}

export async function runDifferential(opts: DifferentialOptions): Promise<DifferentialResult> {
  const gen = new Generator({ features: opts.native.features, length: opts.length ?? 10 });
  const chunk = opts.chunk ?? 1000;
  const maxReports = opts.maxReports ?? 5;
  const result: DifferentialResult = {
    sequences: 0,
    instructions: 0,
    faults: new Map(),
    mismatches: 0,
    explained: new Map(),
    cutAtUndefinedDivision: 0,
    reports: [],
    comparedFlagBits: 0,
    possibleFlagBits: 0,
  };
  const account = async (seq: Sequence, host: SnippetOutput, other: SnippetOutput, probes: Map<number, ProbeState>): Promise<void> => {
    const stop = stopIndex(seq, host);
    result.sequences++;
    result.instructions += stop;
    if (host.fault !== Vector.None) result.faults.set(host.fault, (result.faults.get(host.fault) ?? 0) + 1);
    const d = definedness(seq, stop, (k) => probes.get(k));
    let bits = 0;
    for (let f = d.flags; f; f &= f - 1) bits++;
    result.comparedFlagBits += bits;
    result.possibleFlagBits += 6;
    const diffs = compareOutputs(host, other, d);
    if (diffs.length === 0) return;
    const why = opts.explain?.(seq, diffs);
    if (why !== undefined) {
      result.explained.set(why, (result.explained.get(why) ?? 0) + 1);
      return;
    }
    result.mismatches++;
    if (result.reports.length < maxReports) {
      const first = await firstDiffering(seq, opts.native, opts.runner, probes);
      result.reports.push(report(seq, host, other, diffs, first));
    }
  };

  for (let start = 0; start < opts.sequences; start += chunk) {
    const n = Math.min(chunk, opts.sequences - start);
    const seqs: Sequence[] = [];
    for (let i = 0; i < n; i++) seqs.push(gen.sequence(opts.seed, start + i));
    const inputs = seqs.map(toInput);
    const hosts = opts.native.run(inputs);
    const others = await opts.runner(inputs);
    if (others.length !== seqs.length) throw new Error(`runner returned ${others.length} outputs for ${seqs.length} snippets`);
    const probes = collectProbes(opts.native, seqs);
    const cut: Array<{ i: number; seq: Sequence }> = [];
    for (let i = 0; i < n; i++) {
      const seq = seqs[i]!;
      const poison = definedness(seq, stopIndex(seq, hosts[i]!), (k) => probes[i]!.get(k)).poison;
      // Past a DIV of undefined data the runs may part ways (one faults): compare up to it.
      if (poison !== undefined) cut.push({ i, seq: prefix(seq, poison) });
      else await account(seq, hosts[i]!, others[i]!, probes[i]!);
    }
    if (cut.length > 0) {
      result.cutAtUndefinedDivision += cut.length;
      const cutInputs = cut.map((c) => toInput(c.seq));
      const cutHosts = opts.native.run(cutInputs);
      const cutOthers = await opts.runner(cutInputs);
      for (let j = 0; j < cut.length; j++) await account(cut[j]!.seq, cutHosts[j]!, cutOthers[j]!, probes[cut[j]!.i]!);
    }
  }
  return result;
}
