// Non-canonical addresses in 64-bit mode: through SS (RSP/RBP-based operands, pushes and pops, an
// SS override) they raise #SS(0), elsewhere #GP(0) (SDM vol. 3 §6.14), before anything changes.
// The check happens on the TLB-miss path (such addresses never hit the TLB), in both tiers.
import { describe, it, expect } from 'vitest';
import { run, hasAs } from './harness.js';

const NONCANON = '0x8000000000000000';

describe.skipIf(!hasAs)('non-canonical addresses', () => {
  for (const engine of ['cold', 'jit'] as const) {
    const setup = { engine: { engine, hotThreshold: 2 } };

    it(`${engine}: a push with a non-canonical RSP is #SS(0), RSP unchanged`, () => {
      const r = run(`mov rbx, rsp\nmov rsp, ${NONCANON}\npush rax`, setup);
      expect([r.fault, r.errorCode]).toEqual([12, 0]);
      expect(r.st.gpr(4)).toBe(0x8000000000000000n);
    });

    it(`${engine}: [rbp] and [rsp + 8] are #SS(0); [rax] is #GP(0)`, () => {
      expect(run(`mov rbp, ${NONCANON}\nmov rax, [rbp]`, setup)).toMatchObject({ fault: 12, errorCode: 0 });
      expect(run(`mov rsp, ${NONCANON}\nmov qword ptr [rsp + 8], 1`, setup)).toMatchObject({ fault: 12, errorCode: 0 });
      expect(run(`mov rax, ${NONCANON}\nmov rbx, [rax]`, setup)).toMatchObject({ fault: 13, errorCode: 0 });
    });

    it(`${engine}: an SS-overridden string source and a stack read crossing out of the canonical range are #SS(0)`, () => {
      expect(run(`mov rsi, ${NONCANON}\nlea rdi, [r15]\n.byte 0x36, 0x48, 0xa5`, setup)).toMatchObject({ fault: 12, errorCode: 0 });
      expect(run('mov rsp, 0x00007ffffffffffc\npop rax', setup)).toMatchObject({ fault: 12, errorCode: 0 });
    });

    it(`${engine}: a loop pushing and popping (a region under jit) faults #SS(0) when its RSP turns non-canonical`, () => {
      const r = run(`
        mov rcx, 50
        mov r8, rsp
      1: cmp rcx, 1
        jne 2f
        mov rsp, ${NONCANON}
      2: push rcx
        pop rdx
        add rbx, rdx
        dec rcx
        jnz 1b`, setup);
      expect([r.fault, r.errorCode]).toEqual([12, 0]);
      expect(r.st.gpr(3)).toBe(1274n); // 50 + 49 + … + 2
      expect(r.st.gpr(1)).toBe(1n);
      if (engine === 'jit') expect(r.m.engine.stats.regionsCompiled).toBeGreaterThan(0);
    });
  }
});
