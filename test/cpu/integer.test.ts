// Instruction-level tests through the real engine (src/cpu/snippet.ts), for what the random
// differential test does not generate: control flow, stack, strings, system-visible effects.
import { describe, it, expect } from 'vitest';
import { runSnippets, SNIPPET_SCRATCH } from '../../src/cpu/snippet.js';
import { asm, haveAs } from './asm.js';

const R = { rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7, r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15, rflags: 16 } as const;

function run(src: string, init: Partial<Record<keyof typeof R, bigint>> = {}, mem = new Uint8Array(4096)) {
  const regs = new BigUint64Array(17);
  for (const [k, v] of Object.entries(init)) regs[R[k as keyof typeof R]] = BigInt.asUintN(64, v);
  const [out] = runSnippets([{ code: asm(src), regs, mem }]);
  const get = (k: keyof typeof R) => out.regs[R[k]];
  return { ...out, get };
}

const S = BigInt(SNIPPET_SCRATCH);

describe.skipIf(!haveAs())('integer instructions (assembled with GNU as)', () => {
  it('loops, conditional branches and flags', () => {
    const r = run(`
      xor eax, eax
      mov ecx, 10
    1: add eax, ecx
      dec ecx
      jnz 1b
      cmp eax, 55
      sete bl
      mov edx, -1
      cmp edx, 1
      setl bh
      setb cl
    `);
    expect(r.get('rax')).toBe(55n);
    expect(r.get('rbx') & 0xffffn).toBe(0x0101n);
    expect(r.get('rcx') & 0xffn).toBe(0n);
  });

  it('flag updates found dead (rotate, bit test, CLC) leave the flags they do not write intact', () => {
    // each ROR/BT/CLC writes only flags that the next ADD/SUB overwrites: liveness drops the update,
    // and the SETcc/CMOVcc between them must still see the earlier CMP/TEST/OR
    const r = run(`
      cmp eax, eax
      ror ecx, 3
      sete bl
      add esi, 1
      test edx, edx
      bt ecx, 5
      cmovz edi, r8d
      sub r9d, 1
      or r10d, r10d
      clc
      setnz bh
      rol r11, 1
      seto r12b
      setc r13b
    `, { rcx: 0x18n, rdx: 0n, r8: 0x77n, r10: 2n, r11: 0x8000000000000000n });
    expect(r.get('rcx')).toBe(3n);
    expect(r.get('rbx') & 0xffffn).toBe(0x0101n);
    expect(r.get('rdi')).toBe(0x77n);
    expect(r.get('r11')).toBe(1n);
    // the last ROL is live (its CF and OF are read): CF = bit 0 of the result, OF = CF ^ msb
    expect(r.get('r12') & 0xffn).toBe(1n);
    expect(r.get('r13') & 0xffn).toBe(1n);
  });

  it('64-bit IMUL with dead flags keeps the low half of the product', () => {
    const r = run(`
      imul rax, rcx
      add rdx, 1
      imul rbx, rcx, -3
      sub rsi, 1
      imul rdi, rcx
      seto r8b
    `, { rax: 0x123456789abcdefn, rcx: 0xfedcba987654321n, rbx: 0n, rdi: 0x4000000000000000n });
    expect(r.get('rax')).toBe(BigInt.asUintN(64, 0x123456789abcdefn * 0xfedcba987654321n));
    expect(r.get('rbx')).toBe(BigInt.asUintN(64, 0xfedcba987654321n * -3n));
    expect(r.get('rdi')).toBe(BigInt.asUintN(64, 0x4000000000000000n * 0xfedcba987654321n));
    expect(r.get('r8') & 0xffn).toBe(1n); // that one's flags are live: it overflowed
  });

  it('call/ret, push/pop and the stack pointer', () => {
    const r = run(`
      lea rsp, [r15 + 0x800]
      mov rax, 7
      call 1f
      jmp 2f
    1: push rax
      pop rbx
      add rbx, 1
      ret
    2: mov rcx, rsp
      sub rcx, r15
    `, { rsp: 0n });
    expect(r.get('rbx')).toBe(8n);
    expect(r.get('rcx')).toBe(0x800n);
  });

  it('rep movsb / rep stosq / repne scasb honour RCX, DF and stop conditions', () => {
    const mem = new Uint8Array(4096);
    mem.set(new TextEncoder().encode('hello, world\0'), 0);
    const r = run(`
      lea rsi, [r15]
      lea rdi, [r15 + 0x100]
      mov ecx, 13
      cld
      rep movsb
      lea rdi, [r15 + 0x200]
      mov rax, 0x1122334455667788
      mov ecx, 4
      rep stosq
      lea rdi, [r15 + 0x100]
      mov al, ','
      mov ecx, 100
      repne scasb
      mov rdx, rdi
      sub rdx, r15
      std
      lea rsi, [r15 + 12]
      lea rdi, [r15 + 0x30c]
      mov ecx, 13
      rep movsb
      cld
    `, {}, mem);
    expect(new TextDecoder().decode(r.mem.subarray(0x100, 0x10c))).toBe('hello, world');
    expect(Array.from(r.mem.subarray(0x200, 0x208))).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    expect(r.mem[0x218]).toBe(0x88);
    expect(r.mem[0x220]).toBe(0);
    expect(r.get('rdx')).toBe(0x106n); // one past the comma
    expect(r.get('rcx')).toBe(0n);
    expect(new TextDecoder().decode(r.mem.subarray(0x300, 0x30c))).toBe('hello, world');
  });

  it('a long REP loop crosses chunk boundaries without losing state', () => {
    const r = run(`
      lea rdi, [r15]
      mov al, 0xab
      mov ecx, 4000
      rep stosb
      lea rsi, [r15]
      xor ebx, ebx
      mov ecx, 4000
    1: lodsb
      movzx edx, al
      add ebx, edx
      loop 1b
    `);
    expect(r.get('rbx')).toBe(4000n * 0xabn);
  });

  it('division by zero raises #DE at the faulting instruction with state intact', () => {
    const r = run(`
      mov eax, 5
      xor ecx, ecx
      div ecx
    `);
    expect(r.fault).toBe(0);
    expect(r.faultOffset).toBe(7);
    expect(r.get('rax')).toBe(5n);
  });

  it('ud2, int3 and privileged instructions at CPL 3', () => {
    expect(run('nop\nud2').fault).toBe(6);
    const bp = run('nop\nint3\nnop');
    expect([bp.fault, bp.faultOffset]).toEqual([3, 2]);
    expect(run('hlt').fault).toBe(13);
    expect(run('mov rax, cr0').fault).toBe(13);
    expect(run('cli').fault).toBe(13);
  });

  it('memory outside the mapped area faults with #PF before any state changes', () => {
    const r = run(`
      mov eax, 1
      mov rbx, 0x300000
      add [rbx], eax
    `);
    expect(r.fault).toBe(14);
    expect(r.faultOffset).toBe(12);
  });

  it('cmpxchg16b, bt with memory bit offsets, bswap, cqo/idiv', () => {
    const mem = new Uint8Array(4096);
    const r = run(`
      xor eax, eax
      xor edx, edx
      mov ebx, 0x11
      mov ecx, 0x22
      cmpxchg16b [r15 + 0x40]
      setz r8b
      mov r9, 100
      bts [r15 + 0x80], r9
      mov r10, 0x0102030405060708
      bswap r10
      mov rax, -7
      cqo
      mov r11, 2
      idiv r11
    `, {}, mem);
    expect(r.get('r8') & 0xffn).toBe(1n);
    expect(r.mem[0x40]).toBe(0x11);
    expect(r.mem[0x48]).toBe(0x22);
    expect(r.mem[0x80 + 12]).toBe(0x10);
    expect(r.get('r10')).toBe(0x0807060504030201n);
    expect(r.get('rax')).toBe(BigInt.asUintN(64, -3n));
    expect(r.get('rdx')).toBe(BigInt.asUintN(64, -1n));
    void S;
  });
});

describe.skipIf(!haveAs())('self-modifying code', () => {
  it('a write to already-translated code takes effect at the next block', () => {
    const r = run(`
      xor ebx, ebx
    2: lea rax, [rip + 1f]
      mov ecx, 0
      jmp 1f
    1: mov edx, 7
      add ebx, edx
      cmp ebx, 7
      jne 3f
      mov byte ptr [rax + 1], 35
      jmp 2b
    3:
    `);
    // first pass runs "mov edx, 7"; the patched second pass runs "mov edx, 35"
    expect(r.get('rbx')).toBe(42n);
    expect(r.get('rdx')).toBe(35n);
  });
});

describe.skipIf(!haveAs())('single-step and alignment checks', () => {
  it('TF set by POPF traps (#DB) after the next instruction', () => {
    const r = run(`
      lea rsp, [r15 + 0x800]
      pushfq
      or qword ptr [rsp], 0x100
      popfq
      mov eax, 1
      mov ebx, 2
    `);
    expect(r.fault).toBe(1);
    expect(r.get('rax')).toBe(1n);
    expect(r.get('rbx')).toBe(0n);
  });

  it('alignment checking (CR0.AM, RFLAGS.AC, CPL 3) raises #AC(0) on a misaligned access', () => {
    const r = run(`
      lea rsp, [r15 + 0x800]
      pushfq
      or dword ptr [rsp], 0x40000
      popfq
      mov eax, [r15 + 4]
      mov ebx, [r15 + 6]
    `);
    expect(r.fault).toBe(17);
    expect(r.faultOffset).toBe(20); // the second load, [r15+6]
  });
});
