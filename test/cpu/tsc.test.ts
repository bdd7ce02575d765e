// RDTSC/RDTSCP: TSC = guest time (1 GHz) + IA32_TSC's offset, carried across the 32-bit halves.
import { describe, it, expect } from 'vitest';
import { run, hasAs } from './harness.js';
import { TSC_OFFSET } from '../../src/cpu/state-layout.js';

describe.skipIf(!hasAs)('time stamp counter', () => {
  it('RDTSC after WRMSR IA32_TSC continues from the value written, carrying into EDX', () => {
    const r = run(`
      mov ecx, 0x10
      mov edx, 0x12345678
      mov eax, 0xffffffff
      wrmsr
      rdtsc
      mov r8, rax
      mov r9, rdx
      mov ecx, 0xc0000103
      mov eax, 0xabcd
      xor edx, edx
      wrmsr
      rdtscp
      mov r10, rax
      mov r11, rdx
      mov r12, rcx
    `);
    expect(r.fault).toBe(-1);
    const t1 = (r.st.gpr(9) << 32n) | r.st.gpr(8);
    const t2 = (r.st.gpr(11) << 32n) | r.st.gpr(10);
    // a few instructions' worth of guest nanoseconds past 0x12345678_ffffffff: the low half wrapped
    expect(t1).toBeGreaterThan(0x12345678ffffffffn);
    expect(t1).toBeLessThan(0x12345679_00010000n);
    expect(r.st.gpr(9)).toBe(0x12345679n);
    expect(t2).toBeGreaterThan(t1);
    expect(r.st.gpr(12)).toBe(0xabcdn);
  });

  it('RDTSC counts the time skipped while halted, as the clock does', () => {
    // 5 s of guest time pass without instructions (what a HLT waiting for a timer does)
    const r = run(`
      rdtsc
      mov r8, rax
      mov r9, rdx
    `, { init: (_st, m) => m.clock.skipTo(m.clock.nowNs() + 5e9) });
    expect(r.fault).toBe(-1);
    const read = (r.st.gpr(9) << 32n) | r.st.gpr(8);
    const now = BigInt(Math.floor(r.m.cpu.tscSource())) + r.st.get64(TSC_OFFSET);
    // read a few instructions before the end: within them of the clock, and past the skip
    expect(read).toBeLessThanOrEqual(now);
    expect(read).toBeGreaterThan(now - 100n);
    expect(now).toBeGreaterThan(5_000_000_000n);
  });
});
