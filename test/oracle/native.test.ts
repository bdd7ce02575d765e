// The oracle on its own: the native addon against hand-computed results, the
// generator's invariants, the masking rules, and the comparison pipeline run
// host-against-host. None of it needs vmrun's CPU.
import { describe, expect, it } from 'vitest';
import { REG_COUNT, RFLAGS, Vector, type SnippetInput, type SnippetOutput } from './contract.js';
import { disassemble } from './compare.js';
import { runDifferential } from './differential.js';
import { Generator, assemble, type GenInstr } from './gen.js';
import { Decoder, DecoderOptions, Instruction, Register, reg, RflagsBits } from './iced.js';
import { definedness, shiftEffect } from './mask.js';
import { loadNativeOracle } from './native.js';

const loaded = loadNativeOracle();
if (!loaded.oracle) console.log(`[oracle] ${loaded.message}`);
const native = loaded.oracle;

const CF = 0x1n;
const PF = 0x4n;
const AF = 0x10n;
const ZF = 0x40n;
const SF = 0x80n;
const OF = 0x800n;
const STATUS = 0x8d5n;

function snippet(hex: string, regs: Partial<Record<number, bigint>> = {}, mem?: Uint8Array): SnippetInput {
  const code = Uint8Array.from(hex.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));
  const r = new BigUint64Array(REG_COUNT);
  for (const [k, v] of Object.entries(regs)) r[Number(k)] = v!;
  return { code, regs: r, mem: mem ?? new Uint8Array(4096) };
}

function run1(s: SnippetInput): SnippetOutput {
  return native!.run([s])[0]!;
}

describe.skipIf(!native)('native oracle: hand-computed results', () => {
  it('add with carry-out sets CF/ZF/PF/AF as the SDM says', () => {
    // add rax, rcx: 0xffff_ffff_ffff_ffff + 2 = 1, carry out
    const out = run1(snippet('4801c8', { 0: 0xffff_ffff_ffff_ffffn, 1: 2n }));
    expect(out.fault).toBe(Vector.None);
    expect(out.faultOffset).toBe(-1);
    expect(out.regs[0]).toBe(1n);
    expect(out.regs[1]).toBe(2n);
    expect(out.regs[RFLAGS]! & STATUS).toBe(CF | AF);
  });

  it('status flags pass through untouched instructions; RSP comes back as given', () => {
    const out = run1(snippet('90', { 4: 0x1234n, 16: OF | SF | ZF | AF | PF | CF }));
    expect(out.regs[RFLAGS]! & STATUS).toBe(OF | SF | ZF | AF | PF | CF);
    expect(out.regs[4]).toBe(0x1234n);
  });

  it('reads and writes scratch memory through R15', () => {
    const mem = new Uint8Array(4096);
    mem.set([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88], 8);
    mem.set([0xff, 0xff, 0xff, 0xff], 16);
    // mov rax, [r15+8]; add [r15+16], eax; mov [r15+4088], rax
    const out = run1(snippet('498b4708 41014710 498987f80f0000', {}, mem));
    expect(out.fault).toBe(Vector.None);
    expect(out.regs[0]).toBe(0x8877_6655_4433_2211n);
    expect(Array.from(out.mem.subarray(16, 20))).toEqual([0x10, 0x22, 0x33, 0x44]);
    expect(out.regs[RFLAGS]! & CF).toBe(CF);
    expect(Array.from(out.mem.subarray(4088, 4096))).toEqual([0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    expect(out.mem[8]).toBe(0x11);
  });

  it('division by zero is #DE at the DIV, with the state before it', () => {
    // xor ecx, ecx; div rcx
    const out = run1(snippet('31c9 48f7f1', { 0: 7n, 1: 5n, 2: 0n }));
    expect(out.fault).toBe(Vector.DE);
    expect(out.faultOffset).toBe(2);
    expect(out.regs[0]).toBe(7n);
    expect(out.regs[1]).toBe(0n);
  });

  it('quotient overflow is #DE too', () => {
    // div rcx with rdx >= rcx
    const out = run1(snippet('48f7f1', { 0: 0n, 1: 3n, 2: 3n }));
    expect(out.fault).toBe(Vector.DE);
    expect(out.faultOffset).toBe(0);
  });

  it('ud2 is #UD, int3 is #BP reported after the int3', () => {
    expect(run1(snippet('90 0f0b'))).toMatchObject({ fault: Vector.UD, faultOffset: 1 });
    // inc eax; int3; inc eax
    const bp = run1(snippet('ffc0 cc ffc0', { 0: 41n }));
    expect(bp).toMatchObject({ fault: Vector.BP, faultOffset: 3 });
    expect(bp.regs[0]).toBe(42n);
  });

  it('an access past the scratch area is #PF; a non-canonical one is #GP', () => {
    // mov [r15+4096], rax
    expect(run1(snippet('49898700100000'))).toMatchObject({ fault: Vector.PF, faultOffset: 0 });
    // mov rbx, [rax] with rax non-canonical
    expect(run1(snippet('488b18', { 0: 0x8000_0000_0000_0000n }))).toMatchObject({ fault: Vector.GP, faultOffset: 0 });
  });

  it('survives a long batch mixing faults and normal exits, then leaves V8 trap handling intact', () => {
    const kinds = ['4801c8', '0f0b', '48f7f1', 'cc', '488b18'];
    const batch = Array.from({ length: 2000 }, (_, i) => snippet(kinds[i % kinds.length]!, { 0: BigInt(i) << 48n, 1: 0n }));
    const outs = native!.run(batch);
    // The last kind loads through rax = i << 48, never canonical for i > 0.
    const expected = [Vector.None, Vector.UD, Vector.DE, Vector.BP, Vector.GP];
    outs.forEach((o, i) => expect(o.fault, `snippet ${i}`).toBe(expected[i % kinds.length]));
    // WebAssembly out-of-bounds loads rely on V8's own SIGSEGV handler.
    const wasm = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 6, 1, 96, 1, 127, 1, 127, 3, 2, 1, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 108, 0, 0, 10, 9,
      1, 7, 0, 32, 0, 40, 2, 0, 11,
    ]);
    const inst = new WebAssembly.Instance(new WebAssembly.Module(wasm));
    const load = inst.exports['l'] as (a: number) => number;
    expect(load(0)).toBe(0);
    expect(() => load(1 << 20)).toThrow(WebAssembly.RuntimeError);
  });

  it('a snippet that moves RSP still returns (and faults) cleanly', () => {
    // mov rsp, rax; inc ecx
    const ok = run1(snippet('4889c4 ffc1', { 0: 0xdead_0000n, 4: 0x77n }));
    expect(ok).toMatchObject({ fault: Vector.None });
    expect(ok.regs[1]).toBe(1n);
    expect(ok.regs[4]).toBe(0x77n);
    // mov rsp, rax; ud2
    expect(run1(snippet('4889c4 0f0b', { 0: 0n }))).toMatchObject({ fault: Vector.UD, faultOffset: 3 });
  });

  it('reports host CPU features', () => {
    const f = native!.features;
    expect(typeof f.vendor).toBe('string');
    expect(f.vendor.length).toBe(12);
  });
});

describe.skipIf(!native)('generator', () => {
  const gen = native ? new Generator({ features: native.features }) : undefined;

  it('is deterministic per (seed, index)', () => {
    const a = gen!.sequence(1234, 17);
    const b = gen!.sequence(1234, 17);
    expect(Buffer.from(a.code).equals(Buffer.from(b.code))).toBe(true);
    expect(a.regs).toEqual(b.regs);
    expect(Buffer.from(a.mem).equals(Buffer.from(b.mem))).toBe(true);
    expect(Buffer.from(gen!.sequence(1234, 18).code).equals(Buffer.from(a.code))).toBe(false);
  });

  it('decodes back to the listed instructions and never touches RSP/R15 except as [r15+disp]', () => {
    const R15 = reg('R15');
    const rsp = new Set(['SPL', 'SP', 'ESP', 'RSP'].map(reg));
    const r15 = new Set(['R15L', 'R15W', 'R15D', 'R15'].map(reg));
    const ins = new Instruction();
    const mnemonics = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const seq = gen!.sequence(99, i);
      const dec = new Decoder(64, seq.code, DecoderOptions.None);
      let n = 0;
      while (dec.canDecode) {
        dec.decodeOut(ins);
        expect(ins.isInvalid).toBe(false);
        mnemonics.add(ins.mnemonic);
        for (let op = 0; op < ins.opCount; op++) {
          const r = ins.opRegister(op);
          expect(rsp.has(r) || r15.has(r), disassemble(seq.code).join('\n')).toBe(false);
        }
        if (ins.memoryBase !== Register.None && ins.mnemonic !== iced_LEA()) {
          expect(ins.memoryBase).toBe(R15);
          expect(ins.memoryIndex).toBe(Register.None);
          expect(Number(ins.memoryDisplacement) + 8).toBeLessThanOrEqual(4096);
        }
        if (ins.mnemonic === iced_LEA()) expect(ins.memoryBase === R15 || ins.memoryIndex === R15).toBe(false);
        n++;
      }
      dec.free();
      expect(n).toBe(seq.instrs.length);
    }
    ins.free();
    // Broad coverage: well over 50 distinct mnemonics in 300 sequences.
    expect(mnemonics.size).toBeGreaterThan(50);
  });
});

function iced_LEA(): number {
  const ins = new Instruction();
  const dec = new Decoder(64, new Uint8Array([0x48, 0x8d, 0x00]), DecoderOptions.None);
  dec.decodeOut(ins);
  const m = ins.mnemonic;
  ins.free();
  dec.free();
  return m;
}

describe('masking rules', () => {
  const { OF: oF, AF: aF, CF: cF } = RflagsBits;
  it('shift counts: 0 changes nothing, 1 defines OF, >1 leaves OF undefined, >= width leaves SHL/SHR CF undefined', () => {
    expect(shiftEffect('shl', 32, 0)).toEqual({ modified: 0, undefined: 0, destUndefined: false });
    expect(shiftEffect('shl', 32, 32).modified).toBe(0); // masked to 0
    expect(shiftEffect('shl', 64, 32).undefined).toBe(aF | oF);
    expect(shiftEffect('shl', 32, 1).undefined).toBe(aF);
    expect(shiftEffect('shr', 8, 9).undefined).toBe(aF | oF | cF);
    expect(shiftEffect('sar', 8, 9).undefined).toBe(aF | oF);
    expect(shiftEffect('rol', 8, 8).undefined).toBe(oF);
    expect(shiftEffect('rcr', 16, 1).undefined).toBe(0);
    expect(shiftEffect('shld', 16, 17).destUndefined).toBe(true);
    expect(shiftEffect('shrd', 16, 16).destUndefined).toBe(false);
  });
});

describe.skipIf(!native)('masking of sequences', () => {
  const gen = native ? new Generator({ features: native.features }) : undefined;
  const R = (n: string) => ({ k: 'reg' as const, r: reg(n) });
  const seqOf = (instrs: GenInstr[]) => assemble(0, 0, instrs, new BigUint64Array(REG_COUNT), new Uint8Array(4096));
  const noProbe = () => undefined;

  it('MUL leaves SF/ZF/AF/PF undefined and taints what reads them', () => {
    const s = seqOf([gen!.fixed('Mul_rm64', [R('RBX')]), gen!.fixed('Sete_rm8', [R('CL')])]);
    const d = definedness(s, 2, noProbe);
    expect(d.flags).toBe(RflagsBits.CF | RflagsBits.OF);
    expect(d.regs[1]).toBe(0xfe); // CL undefined, rest of RCX intact
    expect(d.regs[0]).toBe(0xff);
  });

  it('DIV leaves all flags undefined; XOR then defines all but AF', () => {
    const s = seqOf([gen!.fixed('Div_rm32', [R('EBX')]), gen!.fixed('Xor_r32_rm32', [R('ESI'), R('EDI')])]);
    expect(definedness(s, 1, noProbe).flags).toBe(0);
    expect(definedness(s, 2, noProbe).flags).toBe(RflagsBits.CF | RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.PF);
  });

  it('RCR by a multiple of width+1 keeps CF, so an undefined CF stays undefined', () => {
    const s = seqOf([gen!.fixed('Bsr_r32_rm32', [R('ECX'), R('EBX')]), gen!.fixed('Rcr_rm16_imm8', [R('AX'), { k: 'imm', v: 17 }])]);
    const probe = () => ({ regs: new BigUint64Array(REG_COUNT).fill(1n), mem: new Uint8Array(4096) });
    expect(definedness(s, 2, probe).flags & RflagsBits.CF).toBe(0);
  });

  it('a DIV of undefined data marks where the runs may part ways', () => {
    const s = seqOf([
      gen!.fixed('Mul_rm64', [R('RBX')]),
      gen!.fixed('Setne_rm8', [R('BL')]),
      gen!.fixed('Div_rm8', [R('BL')]),
      gen!.fixed('Inc_rm32', [R('ESI')]),
    ]);
    expect(definedness(s, 4, noProbe).poison).toBe(2);
    expect(definedness(s, 2, noProbe).poison).toBe(2); // the host stopped (faulted) at the DIV
    expect(definedness(s, 1, noProbe).poison).toBeUndefined();
  });

  it('shift by CL uses the probed count; BSF of zero leaves the destination undefined', () => {
    const s = seqOf([
      gen!.fixed('Shl_rm32_CL', [R('EAX'), R('CL')]),
      gen!.fixed('Bsf_r64_rm64', [R('RDX'), R('RBX')]),
    ]);
    const before = (cl: bigint, rbx: bigint) => {
      const regs = new BigUint64Array(REG_COUNT);
      regs[1] = cl;
      regs[3] = rbx;
      return { regs, mem: new Uint8Array(4096) };
    };
    const count0 = definedness(s, 1, () => before(0x20n, 1n)); // masked to 0
    expect(count0.flags).toBe(RflagsBits.CF | RflagsBits.OF | RflagsBits.SF | RflagsBits.ZF | RflagsBits.PF | RflagsBits.AF);
    const count3 = definedness(s, 1, () => before(3n, 1n));
    expect(count3.flags & (RflagsBits.OF | RflagsBits.AF)).toBe(0);
    expect(definedness(s, 2, () => before(1n, 0n)).regs[2]).toBe(0);
    expect(definedness(s, 2, () => before(1n, 8n)).regs[2]).toBe(0xff);
  });
});

describe.skipIf(!native)('comparison pipeline, host against host', () => {
  it('finds no mismatch when the runner is the host CPU itself', async () => {
    const r = await runDifferential({ native: native!, runner: (b) => native!.run(b), seed: 7, sequences: 1500, chunk: 500 });
    expect(r.reports).toEqual([]);
    expect(r.mismatches).toBe(0);
    expect(r.instructions).toBeGreaterThan(10_000);
    // Masking must not hide most of the flags.
    expect(r.comparedFlagBits / r.possibleFlagBits).toBeGreaterThan(0.3);
  });

  it('reports a corrupted register, flag or memory byte with a minimised disassembly', async () => {
    const corrupt = (b: readonly SnippetInput[]) =>
      native!.run(b).map((o) => {
        const regs = o.regs.slice();
        regs[RFLAGS] = regs[RFLAGS]! ^ ZF;
        regs[6] = regs[6]! ^ 0x100n;
        const mem = o.mem.slice();
        mem[3] = mem[3]! ^ 1;
        return { ...o, regs, mem };
      });
    const r = await runDifferential({ native: native!, runner: corrupt, seed: 8, sequences: 200, maxReports: 1 });
    expect(r.mismatches).toBeGreaterThan(150);
    expect(r.reports[0]).toMatch(/first differing after instruction #0/);
    expect(r.reports[0]).toMatch(/>> +0:/);
    expect(r.reports[0]).toMatch(/rsi|rflags|mem\[3\.\.3\]/);
  });
});
