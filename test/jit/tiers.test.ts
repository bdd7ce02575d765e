// Differential tests between the execution tiers: the cold tier (every block its own function) and
// the hot tier (loops compiled into regions with registers in locals), forced here with a hot
// threshold of a few executions. Both must leave exactly the same guest state — registers, memory,
// faults and where they happened, instruction counts — on random programs run in loops, on random
// bytes run as code, on loops that rewrite their own code or whose code a device's DMA overwrites,
// on loops that fault mid-region, and on the guest kernels.
import { describe, it, expect } from 'vitest';
import { runSnippets, SNIPPET_SCRATCH, type SnippetInput } from '../../src/cpu/snippet.js';
import { Generator } from '../oracle/gen.js';
import { runGuest } from '../../src/machine/run.js';
import { GUESTS, buildGuest, toolchainMissing } from '../guest/build.js';
import { run, hasAs, DATA } from '../cpu/harness.js';

const COLD = { engine: 'cold' as const };
const bswap32 = (v: number): number => (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
const HOT = { engine: 'jit' as const, hotThreshold: 3 };
/** Loop counter in the scratch area, past the generator's data. */
const COUNTER = 0x1000;

/** `code` followed by `dec qword [r15 + COUNTER]; jnz start`: the body runs `iterations` times. */
function looped(code: Uint8Array, mem: Uint8Array, regs: BigUint64Array, iterations: number): SnippetInput {
  const tail = [0x49, 0xff, 0x8f, COUNTER & 0xff, COUNTER >> 8, 0, 0];
  const rel = -(code.length + tail.length + 6);
  const jnz = [0x0f, 0x85, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >> 24) & 0xff];
  const all = new Uint8Array([...code, ...tail, ...jnz]);
  const m = new Uint8Array(COUNTER + 8);
  m.set(mem.subarray(0, Math.min(mem.length, COUNTER)));
  new DataView(m.buffer).setUint32(COUNTER, iterations, true);
  return { code: all, regs, mem: m };
}

function expectSame(input: SnippetInput, what: string): ReturnType<typeof runSnippets>[number] {
  const [cold] = runSnippets([input], COLD);
  const [hot] = runSnippets([input], HOT);
  expect({ regs: [...hot.regs], fault: hot.fault, at: hot.faultOffset }, what).toEqual({ regs: [...cold.regs], fault: cold.fault, at: cold.faultOffset });
  expect(Buffer.from(hot.mem).equals(Buffer.from(cold.mem)), `${what}: memory`).toBe(true);
  return cold;
}

describe('cold tier vs hot tier', () => {
  it('random integer programs, each run 40 times in a loop: same registers, flags, memory and faults', () => {
    const gen = new Generator({ features: { lahfLm: true, popcnt: true, lzcnt: true, bmi1: false, adx: true }, length: 12 });
    const seed = 0x7e15;
    let faults = 0;
    for (let i = 0; i < 600; i++) {
      const seq = gen.sequence(seed, i);
      const out = expectSame(looped(seq.code, seq.mem, seq.regs, 40), `sequence ${i} (seed ${seed})`);
      if (out.fault >= 0) faults++;
    }
    // some programs fault (#DE, #GP…) part-way: both tiers must stop at the same instruction
    expect(faults).toBeLessThan(600);
  });

  it('random bytes as code (2,000 snippets of 40 bytes at CPL 3): no host error, the same faults and registers in both tiers', () => {
    // garbage decodes to anything: invalid opcodes, privileged and I/O instructions, wild memory
    // operands, prefixes in odd places; every outcome must be a guest event, identical in both tiers
    let seed = (0x5eed ^ Math.floor(Date.now() / 86_400_000)) >>> 0;
    const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed >>> 8; };
    const faults = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const input: SnippetInput = {
        code: new Uint8Array(40).map(() => rnd() & 0xff),
        regs: new BigUint64Array(17).map(() => BigInt((rnd() & 0xff) * 4096)),
        mem: new Uint8Array(256).map(() => rnd() & 0xff),
      };
      const cold = expectSame(input, `snippet ${i} (seed-derived; bytes ${Buffer.from(input.code).toString('hex')})`);
      faults.add(cold.fault);
    }
    // the snippets reached the usual outcomes: #UD, #GP, #PF and some ran to the end
    for (const v of [6, 13, 14, -1]) expect(faults.has(v)).toBe(true);
  });

  it('a loop rewriting its own code while running as a region sees the new code on the next iteration', () => {
    // start: mov eax, 1 ; add rbx, rax ; cmp qword [r15+COUNTER], 50 ; jne tail ;
    //        mov dword [rip - 27], 2 (the mov's immediate) ; tail: dec qword [r15+COUNTER] ; jnz start
    const code = new Uint8Array([0xb8, 1, 0, 0, 0, 0x48, 0x01, 0xc3, 0x49, 0x83, 0xbf, COUNTER & 0xff, COUNTER >> 8, 0, 0, 50, 0x75, 0x0a,
      0xc7, 0x05, 0xe5, 0xff, 0xff, 0xff, 2, 0, 0, 0]);
    const out = expectSame(looped(code, new Uint8Array(0), new BigUint64Array(17), 100), 'self-modifying loop');
    expect(out.fault).toBe(-1);
    // 51 iterations (counter 100…50) add 1, the patch lands in the 51st; the other 49 add 2
    expect(out.regs[3]).toBe(51n + 49n * 2n);
  });

  it('a loop entered over and over from cold code of its page runs as its region, not through the cold blocks linked to it', () => {
    // outer: call f ; dec qword [r15+COUNTER] ; jnz outer ; jmp end
    // f: mov ecx, 5 ; L: dec ecx ; jnz L ; ret ; end:
    // L is hot on its own (a cycle of one block); f's cold block branches to it directly.
    const code = new Uint8Array([0xe8, 15, 0, 0, 0, 0x49, 0xff, 0x8f, COUNTER & 0xff, COUNTER >> 8, 0, 0, 0x0f, 0x85, 0xee, 0xff, 0xff, 0xff, 0xeb, 10,
      0xb9, 5, 0, 0, 0, 0xff, 0xc9, 0x75, 0xfc, 0xc3]);
    const mem = new Uint8Array(COUNTER + 8);
    new DataView(mem.buffer).setUint32(COUNTER, 200, true);
    const regs = new BigUint64Array(17);
    regs[4] = BigInt(SNIPPET_SCRATCH + 0x800);
    const input = { code, regs, mem };
    const out = expectSame(input, 'called loop');
    expect(out.fault).toBe(-1);
    const [hot] = runSnippets([input], HOT);
    // 200 calls × 4 passes through L (2 instructions each) after f's first one: nearly all in the region
    expect(hot.hotInstructions).toBeGreaterThan(1500);
    expect(hot.hotInstructions).toBeLessThanOrEqual(1600);
  });

  it('a loop faulting in the middle of a region stops at the same instruction with the same registers', () => {
    // start: add rdi, 0x1000 ; mov rax, [rdi] ; inc rbx ; jmp start — until rdi reaches unmapped memory
    const code = new Uint8Array([0x48, 0x81, 0xc7, 0x00, 0x10, 0x00, 0x00, 0x48, 0x8b, 0x07, 0x48, 0xff, 0xc3, 0xeb, 0xf1]);
    const regs = new BigUint64Array(17);
    regs[7] = BigInt(SNIPPET_SCRATCH);
    const out = expectSame({ code, regs, mem: new Uint8Array(16) }, 'faulting loop');
    expect(out.fault).toBe(14);
    expect(out.faultOffset).toBe(7); // the load
    expect(out.regs[7]).toBe(0x200000n);
    expect(out.regs[3]).toBe(BigInt((0x200000 - SNIPPET_SCRATCH) / 0x1000 - 1));
  });
});

const missing = await toolchainMissing();
describe.skipIf(!!missing)('cold tier vs hot tier on the guest kernels', () => {
  for (const name of Object.keys(GUESTS)) {
    it(`${name}: same serial output and instruction count`, async () => {
      const kernel = await buildGuest(name);
      const opts = { kernel, append: 'scale=2', memMiB: 64, timeoutSec: 120 };
      const cold = await runGuest({ ...opts, engine: 'cold' });
      const hot = await runGuest({ ...opts, engine: 'jit', hotThreshold: 50 });
      expect(hot.serial).toBe(cold.serial);
      expect(hot.exitCode).toBe(cold.exitCode);
      expect(hot.stats.instructions).toBe(cold.stats.instructions);
      if (['crc32', 'sort', 'interp'].includes(name)) expect(hot.stats.hotInstructions).toBeGreaterThan(hot.stats.instructions / 2);
    }, 120_000);
  }
});

/**
 * A loop adding its `mov eax, 5`'s immediate to RBX 200 times (a region under a low hot threshold),
 * run twice: `patch` runs in between (it must leave RDX non-zero).
 */
const loopTwice = (patch: string): string => `
      mov rcx, 200
    1: mov eax, 5
      add rbx, rax
      dec rcx
      jnz 1b
      test rdx, rdx
      jnz 2f
      inc rdx
${patch}
      mov rcx, 200
      jmp 1b
    2:`;

describe.skipIf(!hasAs)('cold tier vs hot tier: aliases and interrupts', () => {
  it('code run as a region and rewritten through another virtual mapping of its page', () => {
    // linear 2-4 MiB maps the same physical 2 MiB as 0-2 MiB: patch the loop's immediate through it
    const src = loopTwice(`
      lea rsi, [rip + 1b + 1]
      mov dword ptr [rsi + 0x200000], 7`);
    const alias = (_st: unknown, m: { phys: { write64(a: number, v: number): void } }) => m.phys.write64(0x3000 + 8, 0x0 | 0x83);
    const cold = run(src, { init: alias, engine: { engine: 'cold' } });
    const hot = run(src, { init: alias, engine: { engine: 'jit', hotThreshold: 20 } });
    expect(hot.fault).toBe(-1);
    expect([hot.st.gpr(3), hot.st.icount > 0]).toEqual([cold.st.gpr(3), true]);
    expect(cold.st.gpr(3)).toBe(200n * 5n + 200n * 7n);
  });

  it('an indirect jump inside a region: to its own block, and to an address of another page with the same low bits', () => {
    // odd iterations jump to 5: (a block of the region), even ones to the same offset one page down,
    // where the snippet wrote "add rbx, 100 ; jmp r10": a region that found its block by RIP's low
    // bits alone would add 1 there
    const src = `
      lea r8, [rip + 5f]
      lea r9, [r8 - 0x1000]
      mov dword ptr [r9], 0x64c38348
      mov dword ptr [r9 + 4], 0x00e2ff41
      lea r10, [rip + 6f]
      mov rcx, 400
    1: mov rax, r8
      test cl, 1
      jnz 2f
      mov rax, r9
    2: jmp rax
    5: add rbx, 1
    6: dec rcx
      jnz 1b`;
    const cold = run(src, { engine: { engine: 'cold' } });
    const hot = run(src, { engine: { engine: 'jit', hotThreshold: 20 } });
    expect([cold.fault, hot.fault]).toEqual([-1, -1]);
    expect(hot.m.engine.stats.regionsCompiled).toBeGreaterThan(0);
    expect(cold.st.gpr(3)).toBe(200n * 1n + 200n * 100n);
    expect(hot.st.gpr(3)).toBe(cold.st.gpr(3));
  });

  it('code run as a region and overwritten by a device\'s DMA (fw_cfg, programmed by the guest)', () => {
    // The loop at 1: runs as a region; then the guest has the fw_cfg device DMA an item holding
    // "mov eax, 9" over the loop's "mov eax, 5" (a big-endian FWCfgDmaAccess at DATA+0x800, its
    // address written to ports 0x514/0x518), and runs the loop again: 200 × 5 + 200 × 9.
    const KEY = 0x20;
    const src = loopTwice(`
      lea rax, [rip + 1b]
      bswap eax
      mov dword ptr [r15 + 0x800], ${'0x' + bswap32((KEY << 16) | 0x0a).toString(16)}
      mov dword ptr [r15 + 0x804], 0x05000000
      mov dword ptr [r15 + 0x808], 0
      mov dword ptr [r15 + 0x80c], eax
      xor eax, eax
      mov dx, 0x514
      out dx, eax
      lea rax, [r15 + 0x800]
      bswap eax
      mov dx, 0x518
      out dx, eax
      mov edx, 1`);
    const item = (_st: unknown, m: { platform: { fwcfg: { setItem(k: number, d: Uint8Array): void } } }) =>
      m.platform.fwcfg.setItem(KEY, new Uint8Array([0xb8, 9, 0, 0, 0]));
    const cold = run(src, { init: item, engine: { engine: 'cold' } });
    const hot = run(src, { init: item, engine: { engine: 'jit', hotThreshold: 20 } });
    expect([cold.fault, hot.fault]).toEqual([-1, -1]);
    expect(hot.m.engine.stats.regionsCompiled).toBeGreaterThan(0);
    expect(cold.st.gpr(3)).toBe(200n * 5n + 200n * 9n);
    expect(hot.st.gpr(3)).toBe(cold.st.gpr(3));
  });

  /**
   * Interrupt set-up shared by the tests below: a GDT at DATA+0x3000 with the selectors the harness's
   * CS (0x08) and SS (0x10) hold (the gate and IRETQ load them), an IDT at DATA+0x1000 whose vector
   * 0x20 (IRQ 0 through the PIC) enters the code at local label 3, the PIC with mask `imr`, the PIT
   * ticking every 0x1000 counts, and STI.
   */
  const irqSetup = (imr: number) => `
      mov rdi, ${DATA + 0x3000}
      mov qword ptr [rdi], 0
      mov rax, 0x00af9b000000ffff
      mov qword ptr [rdi + 8], rax
      mov rax, 0x00cf93000000ffff
      mov qword ptr [rdi + 16], rax
      mov word ptr [r15 + 0x2010], 23
      mov qword ptr [r15 + 0x2012], rdi
      lgdt [r15 + 0x2010]
      lea rax, [rip + 3f]
      mov rdi, ${DATA + 0x1000 + 0x20 * 16}
      mov word ptr [rdi], ax
      mov word ptr [rdi + 2], 0x08
      mov word ptr [rdi + 4], 0x8e00
      shr rax, 16
      mov word ptr [rdi + 6], ax
      shr rax, 16
      mov dword ptr [rdi + 8], eax
      mov word ptr [r15 + 0x2000], 0xfff
      mov qword ptr [r15 + 0x2002], ${DATA + 0x1000}
      lidt [r15 + 0x2000]
      mov al, 0x11
      out 0x20, al
      mov al, 0x20
      out 0x21, al
      mov al, 4
      out 0x21, al
      mov al, 1
      out 0x21, al
      mov al, ${imr}
      out 0x21, al
      mov al, 0x34
      out 0x43, al
      mov al, 0x00
      out 0x40, al
      mov al, 0x10
      out 0x40, al
      sti
`;

  /** End of the IRQ 0 handler: EOI to the PIC, return. */
  const EOI_IRETQ = `      push rax
      mov al, 0x20
      out 0x20, al
      pop rax
      iretq`;

  it('timer interrupts arriving while a loop runs as a region are taken, at the same instruction as in the cold tier', () => {
    // IDT at DATA+0x1000 (vector 0x20: the PIT through the PIC); the handler counts ticks in [DATA]
    const src = `${irqSetup(0xfe)}    1: inc rbx
      cmp qword ptr [r15], 5
      jb 1b
      cli
      jmp 2f
    3: inc qword ptr [r15]
${EOI_IRETQ}
    2:`;
    const opts = { withDevices: true, maxInstructions: 50_000_000 };
    const cold = run(src, { ...opts, engine: { engine: 'cold' } });
    const hot = run(src, { ...opts, engine: { engine: 'jit', hotThreshold: 20 } });
    expect(cold.fault).toBe(-1);
    expect(hot.fault).toBe(-1);
    expect(hot.m.engine.stats.regionsCompiled).toBeGreaterThan(0);
    expect([cold.m.phys.read64(DATA), hot.m.phys.read64(DATA)]).toEqual([5, 5]);
    // five ticks counted, and the loop ran the same number of times in both tiers
    expect(hot.st.gpr(3)).toBe(cold.st.gpr(3));
    expect(cold.st.gpr(3)).toBeGreaterThan(1000n);
  });

  it('an interrupt made deliverable by a port write is taken right after it, not at the end of the slice', () => {
    // The PIT ticks with IRQ 0 masked at the PIC; once its request shows in the IRR, unmasking it
    // (OUT 0x21) makes it deliverable: the handler records how far the loop after the OUT had got.
    const src = `${irqSetup(0xff)}      mov al, 0x0a
      out 0x20, al
    4: in al, 0x20
      test al, 1
      jz 4b
      xor ebx, ebx
      mov al, 0xfe
      out 0x21, al
    1: inc rbx
      cmp qword ptr [r15], 0
      je 1b
      cli
      jmp 2f
    3: mov qword ptr [r15 + 8], rbx
      inc qword ptr [r15]
${EOI_IRETQ}
    2:`;
    for (const engine of ['cold', 'jit'] as const) {
      const r = run(src, { withDevices: true, maxInstructions: 50_000_000, engine: { engine, hotThreshold: 20 } });
      expect(r.fault).toBe(-1);
      expect(r.m.phys.read64(DATA)).toBe(1);
      const loopsBeforeIrq = r.m.phys.read64(DATA + 8);
      // a real CPU takes it before the first INC; vmrun at the end of the block holding the OUT
      expect(loopsBeforeIrq).toBeLessThan(4);
    }
  });
});
