// Typed wrapper around the native oracle addon (see native/oracle.cc).
import { createRequire } from 'node:module';
import { buildNative } from './build-native.js';
import { REG_COUNT, type SnippetInput, type SnippetOutput } from './contract.js';

interface RawAddon {
  runBatch(
    code: Uint8Array,
    offsets: Uint32Array,
    regs: BigUint64Array,
    mem: Uint8Array,
    memSize: number,
    faults: Int32Array,
  ): void;
  cpuid(leaf: number, subleaf: number): Uint32Array;
  binding: string;
}

/** Host CPU features that decide which instructions the generator may emit. */
export interface HostFeatures {
  lahfLm: boolean;
  popcnt: boolean;
  lzcnt: boolean;
  bmi1: boolean;
  adx: boolean;
  vendor: string;
}

export interface NativeOracle {
  /** Runs a batch on the host CPU; same contract as vmrun's runSnippets. */
  run(batch: readonly SnippetInput[]): SnippetOutput[];
  cpuid(leaf: number, subleaf?: number): Uint32Array;
  features: HostFeatures;
}

export type LoadResult = { oracle: NativeOracle; message: string } | { oracle: null; message: string };

function readFeatures(cpuid: (leaf: number, sub: number) => Uint32Array): HostFeatures {
  const l0 = cpuid(0, 0);
  const vendor = [l0[1]!, l0[3]!, l0[2]!]
    .map((w) => String.fromCharCode(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24))
    .join('');
  const l1 = cpuid(1, 0);
  const l7 = l0[0]! >= 7 ? cpuid(7, 0) : new Uint32Array(4);
  const maxExt = cpuid(0x80000000, 0)[0]!;
  const e1 = maxExt >= 0x80000001 ? cpuid(0x80000001, 0) : new Uint32Array(4);
  return {
    vendor,
    popcnt: ((l1[2]! >>> 23) & 1) === 1,
    lahfLm: (e1[2]! & 1) === 1,
    lzcnt: ((e1[2]! >>> 5) & 1) === 1,
    bmi1: ((l7[1]! >>> 3) & 1) === 1,
    adx: ((l7[1]! >>> 19) & 1) === 1,
  };
}

function wrap(raw: RawAddon): NativeOracle {
  const run = (batch: readonly SnippetInput[]): SnippetOutput[] => {
    const n = batch.length;
    if (n === 0) return [];
    const memSize = batch[0]!.mem.length;
    let codeLen = 0;
    for (const s of batch) {
      if (s.mem.length !== memSize) throw new Error('native oracle: all snippets of a batch need the same mem size');
      if (s.regs.length !== REG_COUNT) throw new Error(`native oracle: regs must have ${REG_COUNT} entries`);
      codeLen += s.code.length;
    }
    const code = new Uint8Array(codeLen);
    const offsets = new Uint32Array(n + 1);
    const regs = new BigUint64Array(n * REG_COUNT);
    const mem = new Uint8Array(n * memSize);
    let pos = 0;
    batch.forEach((s, i) => {
      offsets[i] = pos;
      code.set(s.code, pos);
      pos += s.code.length;
      regs.set(s.regs, i * REG_COUNT);
      mem.set(s.mem, i * memSize);
    });
    offsets[n] = pos;
    const faults = new Int32Array(2 * n);
    raw.runBatch(code, offsets, regs, mem, memSize, faults);
    const out: SnippetOutput[] = [];
    for (let i = 0; i < n; i++) {
      out.push({
        regs: regs.slice(i * REG_COUNT, (i + 1) * REG_COUNT),
        mem: mem.slice(i * memSize, (i + 1) * memSize),
        fault: faults[2 * i]!,
        faultOffset: faults[2 * i + 1]!,
      });
    }
    return out;
  };
  const cpuid = (leaf: number, sub = 0): Uint32Array => raw.cpuid(leaf >>> 0, sub >>> 0);
  return { run, cpuid, features: readFeatures(cpuid) };
}

let loaded: LoadResult | undefined;

/** Builds (if needed) and loads the addon; null with a one-line reason when unavailable. */
export function loadNativeOracle(): LoadResult {
  if (loaded) return loaded;
  const built = buildNative();
  if (!built.path) {
    loaded = { oracle: null, message: built.message };
    return loaded;
  }
  try {
    const raw = createRequire(import.meta.url)(built.path) as RawAddon;
    const oracle = wrap(raw);
    // A host that forbids RWX mappings fails here rather than in the middle of a test.
    const probe = oracle.run([{ code: new Uint8Array([0x90]), regs: new BigUint64Array(REG_COUNT), mem: new Uint8Array(4096) }]);
    if (probe[0]!.fault !== -1) throw new Error(`smoke test faulted with vector ${probe[0]!.fault}`);
    loaded = { oracle, message: `native oracle ready (${built.message}; ${raw.binding}; ${oracle.features.vendor})` };
  } catch (e) {
    loaded = { oracle: null, message: `native oracle skipped: cannot load addon: ${(e as Error).message}` };
  }
  return loaded;
}
