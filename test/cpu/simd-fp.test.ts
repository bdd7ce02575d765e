// SSE/SSE2/SSE3 floating point against native execution: NaN propagation, default NaN, signed
// zeros, infinities, denormals, integer indefinite, MXCSR rounding and the IE/ZE flags.
import { describe, it, expect } from 'vitest';
import { run, diffAgainstNative, diffXmm, canNative, prng, hex, hasAs, setXmmF64, setXmmU32, xmmU32, xmmU64, f32bits, type DiffInput } from './harness.js';

const S32 = [0, 0x80000000, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fa00001, 0xff812345,
  0x00000001, 0x807fffff, 0x3fc00000, 0x40200000, 0xc0200000, 0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000, 0x7f7fffff, 0x3eaaaaab];
const S64 = [0n, 0x8000000000000000n, 0x3ff0000000000000n, 0xbff0000000000000n, 0x7ff0000000000000n, 0xfff0000000000000n,
  0x7ff8000000000000n, 0xfff8000000000000n, 0x7ff4000000000001n, 0xfff0000000012345n, 1n, 0x800fffffffffffffn,
  0x3ff8000000000000n, 0x4004000000000000n, 0xc004000000000000n, 0x41e0000000000000n, 0xc1e0000000000000n, 0x41dfffffffc00000n,
  0x43e0000000000000n, 0xc3e0000000000000n, 0x7fefffffffffffffn, 0x3fd5555555555555n, 0x41dfffffffffffffn, 0xc1e0000000200000n];

function fill(rnd: () => number, dbl: boolean): Uint8Array {
  const b = new Uint8Array(256);
  const dv = new DataView(b.buffer);
  for (let r = 0; r < 16; r++) {
    if (dbl) for (let l = 0; l < 2; l++) {
      const v = rnd() % 4 === 0 ? BigInt(rnd()) << 32n | BigInt(rnd()) : S64[rnd() % S64.length];
      dv.setBigUint64(r * 16 + l * 8, v, true);
    } else for (let l = 0; l < 4; l++) dv.setUint32(r * 16 + l * 4, rnd() % 4 === 0 ? rnd() : S32[rnd() % S32.length], true);
  }
  return b;
}

const PS = ['addps', 'subps', 'mulps', 'divps', 'sqrtps', 'minps', 'maxps', 'haddps', 'hsubps', 'addsubps', 'cvtps2dq', 'cvttps2dq', 'cvtps2pd', 'cvtdq2ps'];
const PD = ['addpd', 'subpd', 'mulpd', 'divpd', 'sqrtpd', 'minpd', 'maxpd', 'haddpd', 'hsubpd', 'addsubpd', 'cvtpd2dq', 'cvttpd2dq', 'cvtpd2ps', 'cvtdq2pd'];
const SS = ['addss', 'subss', 'mulss', 'divss', 'sqrtss', 'minss', 'maxss', 'cvtss2sd'];
const SD = ['addsd', 'subsd', 'mulsd', 'divsd', 'sqrtsd', 'minsd', 'maxsd', 'cvtsd2ss'];

function cases(): DiffInput[] {
  const rnd = prng(99);
  const out: DiffInput[] = [];
  const data = (dbl: boolean): Uint8Array => fill(rnd, dbl).slice(0, 256);
  for (const [ops, dbl] of [[PS, false], [PD, true], [SS, false], [SD, true]] as [string[], boolean][]) {
    for (const op of ops) {
      for (let k = 0; k < 12; k++) {
        const d = k % 8, s = 8 + ((k * 3) % 8);
        out.push({ code: `${op} xmm${d}, xmm${s}`, xmm: fill(rnd, dbl) });
      }
      out.push({ code: `${op} xmm1, [r15+32]`, xmm: fill(rnd, dbl), data: data(dbl) });
    }
  }
  for (let p = 0; p < 8; p++) {
    for (const op of ['cmpps', 'cmppd', 'cmpss', 'cmpsd']) out.push({ code: `${op} xmm0, xmm1, ${p}\n${op} xmm2, xmm3, ${p}\n${op} xmm4, [r15+16], ${p}`, xmm: fill(rnd, op.endsWith('d')), data: data(op.endsWith('d')) });
  }
  for (const op of ['comiss', 'ucomiss', 'comisd', 'ucomisd']) {
    for (let k = 0; k < 16; k++) out.push({ code: `${op} xmm${k % 4}, xmm${4 + (k % 8)}\nsetc al\nsetz bl\nsetp cl\nseto dl\nsets sil\npushfq\npop rdi\nand edi, 0x8d5`, xmm: fill(rnd, op.endsWith('d')) });
  }
  for (const rc of [0, 1, 2, 3]) {
    const mx = 0x1f80 | (rc << 13);
    for (const op of ['cvtss2si eax, xmm1', 'cvttss2si eax, xmm2', 'cvtss2si rax, xmm3', 'cvttss2si rcx, xmm4', 'cvtsd2si eax, xmm1', 'cvttsd2si eax, xmm5',
      'cvtsd2si rax, xmm6', 'cvttsd2si rdx, xmm7', 'cvtps2dq xmm0, xmm1', 'cvtpd2dq xmm2, xmm3']) {
      for (let k = 0; k < 4; k++) {
        out.push({ code: `mov dword ptr [r15+512], ${mx}\nldmxcsr [r15+512]\n${op}`, xmm: fill(rnd, op.includes('sd') || op.includes('pd')) });
      }
    }
  }
  const g = [0n, 1n, 0xffffffffn, 0x7fffffffn, 0x80000000n, 0x8000000000000000n, 0x7fffffffffffffffn, 0x123456789abcdefn, 0xfffffffffffffffen, 0x20000001n, 0x20000000000001n];
  for (const v of g) {
    out.push({ code: 'cvtsi2ss xmm0, eax\ncvtsi2ss xmm1, rax\ncvtsi2sd xmm2, eax\ncvtsi2sd xmm3, rax\ncvtsi2sd xmm4, dword ptr [r15]\ncvtsi2ss xmm5, qword ptr [r15]', gpr: [v], data: new Uint8Array(new BigUint64Array([v]).buffer), xmm: fill(rnd, false) });
  }
  out.push({ code: 'movddup xmm0, xmm1\nmovsldup xmm2, xmm3\nmovshdup xmm4, [r15+16]\nmovddup xmm5, [r15+8]', xmm: fill(rnd, false), data: data(false) });
  out.push({ code: 'stmxcsr [r15]\nmov dword ptr [r15+4], 0x9fc0\nldmxcsr [r15+4]\nstmxcsr [r15+8]' });
  return out;
}

describe('SSE floating point', () => {
  it.skipIf(!canNative)('matches native execution (results, IE/ZE flags, RFLAGS)', () => {
    const bad = diffAgainstNative(cases(), (c, e, n, bad) => {
      diffXmm(c.code.split('\n').pop()!, e, n, bad, (i) => ` (inputs ${hex(c.xmm!.slice(i * 16, i * 16 + 16))})`);
      for (let i = 0; i < 15; i++) if (i !== 4 && e.gpr[i] !== n.gpr[i]) bad.push(`${c.code}: gpr${i} emu ${e.gpr[i].toString(16)} native ${n.gpr[i].toString(16)}`);
      const cvt = /cvtt?s[sd]2si/.test(c.code);
      const mask = cvt ? 0x25 : 0x5; // IE ZE (+PE for scalar float→int)
      if ((e.mxcsr & mask) !== (n.mxcsr & mask)) bad.push(`${c.code}: mxcsr emu ${e.mxcsr.toString(16)} native ${n.mxcsr.toString(16)}`);
      if (hex(e.data.slice(0, 64)) !== hex(n.data.slice(0, 64))) bad.push(`${c.code}: data`);
    });
    expect(bad.slice(0, 40)).toEqual([]);
  });

  it.skipIf(!hasAs)('x86 NaN rules on fixed values', () => {
    // MINSS returns the second operand when either is NaN; ADDSS of two NaNs returns the first, quieted
    const r = run('minss xmm0, xmm1\naddss xmm2, xmm3\ndivss xmm4, xmm5\ncvttsd2si rax, xmm6\ncvttsd2si ecx, xmm6', {
      init: (st) => {
        setXmmU32(st, 0, [0x7fc00001, 0, 0, 0]); setXmmU32(st, 1, [f32bits(2), 0, 0, 0]);
        setXmmU32(st, 2, [0x7f800001, 0, 0, 0]); setXmmU32(st, 3, [0xffc00002, 0, 0, 0]);
        setXmmU32(st, 4, [0, 7, 0, 0]); setXmmU32(st, 5, [0, 0, 0, 0]);
        setXmmF64(st, 6, [1e300, 0]);
      },
    });
    expect(r.fault).toBe(-1);
    expect(xmmU32(r.st, 0)[0]).toBe(f32bits(2));
    expect(xmmU32(r.st, 2)[0]).toBe(0x7fc00001);
    expect(xmmU32(r.st, 4)).toEqual([0xffc00000, 7, 0, 0]);
    expect(r.st.gpr(0)).toBe(0x8000000000000000n);
    expect(r.st.gpr(1)).toBe(0x80000000n);
    expect(r.st.get32(1792) & 1).toBe(1);
    void xmmU64;
  });

  it.skipIf(!hasAs)('unmasked exceptions raise #XM (or #UD without OSXMMEXCPT) and leave the destination', () => {
    const init = (cr4: number) => (st: import('../../src/cpu/state.js').CpuState): void => {
      st.set32(1792, 0x1f80 & ~0x200); // unmask ZE
      setXmmU32(st, 0, [f32bits(1), 0, 0, 0]);
      st.cr4 = cr4;
    };
    const a = run('divss xmm0, xmm1', { init: init(0x406a0) });
    expect(a.fault).toBe(19);
    expect(xmmU32(a.st, 0)[0]).toBe(f32bits(1));
    expect(run('divss xmm0, xmm1', { init: init(0x402a0) }).fault).toBe(6);
    expect(run('mov dword ptr [r15], 0x10000\nldmxcsr [r15]').fault).toBe(13);
  });
});
