// Translated code stays coherent with writes at byte granularity: a write drops only the blocks
// made from the bytes it hit (and what branches into them directly), so Linux's few-byte text
// patches don't cost a page's other blocks their translations; a code page that keeps being
// written outside its code goes back to being a data page.
import { describe, it, expect } from 'vitest';
import { run, hasAs, type Setup } from '../cpu/harness.js';

/** Run `src` on the cold tier and report the engine's invalidations and TLB misses during the run. */
function runCounting(src: string): { r: ReturnType<typeof run>; invalidations: number; tlbMisses: number } {
  let inv0 = 0, tlb0 = 0;
  const setup: Setup = {
    engine: { engine: 'cold' },
    init: (_st, m) => { inv0 = m.engine.stats.invalidations; tlb0 = m.cpu.stats.tlbMisses; },
  };
  const r = run(src, setup);
  return { r, invalidations: r.m.engine.stats.invalidations - inv0, tlbMisses: r.m.cpu.stats.tlbMisses - tlb0 };
}

describe.skipIf(!hasAs)('code coherence at byte granularity', () => {
  it('a write to a code page that misses its translated code keeps the translations and lands in memory', () => {
    const { r, invalidations } = runCounting(`
      xor ebx, ebx
      mov ecx, 3
    2: call 5f
      add byte ptr [rip + 9f], 1
      dec ecx
      jnz 2b
      movzx edx, byte ptr [rip + 9f]
      jmp 3f
    5: add ebx, 7
      ret
    9: .byte 0
    3:
    `);
    expect(r.fault).toBe(-1);
    expect(r.st.gpr(3)).toBe(21n);
    expect(r.st.gpr(2)).toBe(3n);
    // the byte written belongs to no block: nothing was dropped (a whole-page drop would be 1 per write)
    expect(invalidations).toBe(0);
  });

  it('a write into one block drops it and the blocks branching to it, not its neighbours', () => {
    // 1: is patched on the second pass ("mov edx, 7" becomes "mov edx, 35"); 5: is a neighbour on
    // the same page that nothing patches and that keeps running between the patches
    const { r, invalidations } = runCounting(`
      xor ebx, ebx
      xor esi, esi
      mov ecx, 4
    2: call 5f
      lea rax, [rip + 1f]
      jmp 1f
    1: mov edx, 7
      add ebx, edx
      mov byte ptr [rax + 1], 35
      dec ecx
      jnz 2b
      jmp 3f
    5: add esi, 1
      ret
    3:
    `);
    expect(r.fault).toBe(-1);
    expect(r.st.gpr(3)).toBe(7n + 3n * 35n);
    expect(r.st.gpr(6)).toBe(4n);
    // every pass writes the block at 1: (the last write finds no translation to drop)
    expect(invalidations).toBeGreaterThanOrEqual(3);
  });

  it('a page whose code stopped running becomes a data page again after 64 writes (they take the TLB fast path)', () => {
    // a function (inc rax ; ret) written to the data page and run there, then the data page written 1,000 times
    const { r, invalidations, tlbMisses } = runCounting(`
      mov dword ptr [r15], 0xc3c0ff48
      call r15
      mov ecx, 1000
    2: add qword ptr [r15 + 0x800], 1
      dec ecx
      jnz 2b
      mov rdx, qword ptr [r15 + 0x800]
    `);
    expect(r.fault).toBe(-1);
    expect(r.st.gpr(0)).toBe(1n);
    expect(r.st.gpr(2)).toBe(1000n);
    // dropped whole once, after 64 writes that missed its code; the other writes hit the TLB
    expect(invalidations).toBe(1);
    expect(tlbMisses).toBeLessThan(200);
  });

  it('a loop writing data on its own code page keeps running correctly', () => {
    const { r, invalidations } = runCounting(`
      mov ecx, 1000
    2: add qword ptr [rip + 9f], 1
      dec ecx
      jnz 2b
      mov rdx, qword ptr [rip + 9f]
      jmp 3f
      .balign 8
    9: .quad 0
    3:
    `);
    expect(r.fault).toBe(-1);
    expect(r.st.gpr(2)).toBe(1000n);
    // its page is dropped (and the loop translated again) once per 64 writes
    expect(invalidations).toBeGreaterThan(0);
    expect(invalidations).toBeLessThanOrEqual(Math.ceil(1000 / 64));
  });
});
