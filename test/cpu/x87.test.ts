// x87 FPU against native execution with values whose double-precision results are exact (the
// emulator computes in doubles), plus status/tag/control words, stack faults, integer stores under
// every rounding mode, and the FSTENV/FSAVE/FXSAVE/XSAVE images.
import { describe, it, expect } from 'vitest';
import { run, diffAgainstNative, diffXmm, canNative, hex, hasAs, readData, type DiffInput } from './harness.js';

function dataOf(vals: number[], ints: bigint[] = []): Uint8Array {
  const d = new Uint8Array(512);
  const dv = new DataView(d.buffer);
  vals.forEach((v, i) => dv.setFloat64(i * 8, v, true));
  ints.forEach((v, i) => dv.setBigUint64(128 + i * 8, BigInt.asUintN(64, v), true));
  dv.setFloat32(256, 2.5, true);
  dv.setFloat32(260, -0.75, true);
  dv.setInt16(264, -7, true);
  dv.setInt32(268, 123456, true);
  return d;
}

const V = [1.5, -2.25, 3, 0.5, 1e300, -0, Infinity, NaN, 1024, -3.75, 7, 2 ** -1070, 6.5, -6.5, 2.5, 0.1];
// every case stores its results at [r15+384...] and the status word into ax
const ST = 'fnstsw ax\n';

function cases(): DiffInput[] {
  const out: DiffInput[] = [];
  const data = dataOf(V, [5n, -9n, 0x7fffffffffffffffn]);
  const pairs = [[0, 1], [2, 3], [4, 8], [1, 2], [5, 3], [6, 6], [7, 0], [9, 10], [12, 13], [14, 2], [3, 5], [11, 8]];
  for (const op of ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr']) {
    for (const [a, b] of pairs) {
      out.push({ code: `fld qword ptr [r15+${a * 8}]\n${op} qword ptr [r15+${b * 8}]\nfstp qword ptr [r15+384]\n${ST}`, data });
      out.push({ code: `fld qword ptr [r15+${a * 8}]\nfld qword ptr [r15+${b * 8}]\n${op} st(1), st\nfstp qword ptr [r15+384]\nfstp qword ptr [r15+392]\n${ST}`, data });
      out.push({ code: `fld qword ptr [r15+${a * 8}]\nfld qword ptr [r15+${b * 8}]\n${op}p st(1), st\nfstp qword ptr [r15+384]\n${ST}`, data });
    }
    out.push({ code: `fld qword ptr [r15+16]\n${op} dword ptr [r15+256]\nfstp qword ptr [r15+384]\nfld qword ptr [r15]\nfi${op.slice(1)} word ptr [r15+264]\nfstp qword ptr [r15+392]\nfld qword ptr [r15+8]\nfi${op.slice(1)} dword ptr [r15+268]\nfstp qword ptr [r15+400]\n${ST}`, data });
  }
  for (const [a, b] of [...pairs, [0, 0], [7, 7]]) {
    for (const op of ['fcom', 'fucom']) out.push({ code: `fld qword ptr [r15+${b * 8}]\nfld qword ptr [r15+${a * 8}]\n${op} st(1)\n${ST}mov ebx, eax\n${op}p\n${ST}mov ecx, eax\nfld qword ptr [r15+${a * 8}]\n${op === 'fcom' ? `fcom qword ptr [r15+${b * 8}]` : 'fucom st(0)'}\n${ST}fstp st(0)\nfstp st(0)`, data });
    for (const op of ['fcomi', 'fucomi', 'fcomip', 'fucomip']) out.push({ code: `fld qword ptr [r15+${b * 8}]\nfld qword ptr [r15+${a * 8}]\n${op} st, st(1)\npushfq\npop rbx\nand ebx, 0x8d5\n${ST}`, data });
    out.push({ code: `fld qword ptr [r15+${b * 8}]\nfld qword ptr [r15+${a * 8}]\nfcompp\n${ST}mov ebx, eax\nfld qword ptr [r15+${a * 8}]\nftst\n${ST}mov ecx, eax\nfxam\n${ST}`, data });
  }
  for (let i = 0; i < V.length; i++) {
    out.push({ code: `fld qword ptr [r15+${i * 8}]\nfxam\n${ST}mov ebx, eax\nfchs\nfst qword ptr [r15+384]\nfabs\nfst qword ptr [r15+392]\nfsqrt\nfstp qword ptr [r15+400]\n${ST}`, data });
    for (const rc of [0, 1, 2, 3]) {
      const cw = 0x37f | (rc << 10);
      out.push({ code: `mov word ptr [r15+500], ${cw}\nfldcw [r15+500]\nfld qword ptr [r15+${i * 8}]\nfld st(0)\nfld st(0)\nfld st(0)\nfrndint\nfstp qword ptr [r15+384]\nfistp word ptr [r15+392]\nfistp dword ptr [r15+396]\nfistp qword ptr [r15+400]\nfld qword ptr [r15+${i * 8}]\nfisttp qword ptr [r15+408]\n${ST}fnstcw [r15+416]`, data });
    }
  }
  out.push({ code: `fld1\nfldz\nfldpi\nfldl2e\nfldln2\nfldl2t\nfldlg2\nfstp qword ptr [r15+384]\nfstp qword ptr [r15+392]\nfstp qword ptr [r15+400]\nfstp qword ptr [r15+408]\nfstp qword ptr [r15+416]\nfstp qword ptr [r15+424]\nfstp qword ptr [r15+432]\n${ST}`, data });
  // stack overflow (9 pushes) and underflow (empty pop)
  out.push({ code: `${'fld1\n'.repeat(9)}${ST}mov ebx, eax\nfstp qword ptr [r15+384]\nfnclex\n${'fstp st(0)\n'.repeat(8)}fadd st, st(1)\n${ST}fstp qword ptr [r15+392]`, data });
  out.push({ code: `fld qword ptr [r15+16]\nfld qword ptr [r15]\nfxch st(1)\nfstp qword ptr [r15+384]\nfstp qword ptr [r15+392]\n${ST}`, data });
  out.push({ code: `fld qword ptr [r15+16]\nfld qword ptr [r15+8]\nfscale\nfstp qword ptr [r15+384]\nfld qword ptr [r15+8]\nfxtract\nfstp qword ptr [r15+392]\nfstp qword ptr [r15+400]\n${ST}fstp st(0)`, data });
  for (const [a, b] of [[12, 2], [13, 2], [8, 9], [10, 3], [9, 0]]) {
    out.push({ code: `fld qword ptr [r15+${b * 8}]\nfld qword ptr [r15+${a * 8}]\nfprem\n${ST}mov ebx, eax\nfstp qword ptr [r15+384]\nfld qword ptr [r15+${a * 8}]\nfprem1\n${ST}fstp qword ptr [r15+392]\nfstp st(0)`, data });
  }
  // 80-bit round trip and integer loads
  out.push({ code: `fld qword ptr [r15]\nfstp tbyte ptr [r15+384]\nfld qword ptr [r15+88]\nfstp tbyte ptr [r15+400]\nfld qword ptr [r15+56]\nfstp tbyte ptr [r15+416]\nfld tbyte ptr [r15+384]\nfstp qword ptr [r15+432]\nfild qword ptr [r15+136]\nfstp qword ptr [r15+440]\nfild word ptr [r15+264]\nfstp qword ptr [r15+448]\nfild dword ptr [r15+268]\nfstp qword ptr [r15+456]\n${ST}`, data });
  // fcmov
  for (const cc of ['b', 'e', 'be', 'u', 'nb', 'ne', 'nbe', 'nu']) out.push({ code: `fld qword ptr [r15+16]\nfld qword ptr [r15]\ncmp rax, 5\nfcmov${cc} st, st(1)\nfstp qword ptr [r15+384]\nfstp st(0)`, data, gpr: [3n] });
  // packed BCD
  for (const i of [0, 1, 2, 4, 5, 7, 9, 12, 13, 14]) {
    out.push({ code: `fld qword ptr [r15+${i * 8}]\nfbstp tbyte ptr [r15+384]\nfbld tbyte ptr [r15+384]\nfstp qword ptr [r15+400]\n${ST}`, data });
  }
  // environment images (instruction/data pointers masked below)
  out.push({ code: `fld qword ptr [r15]\nfld qword ptr [r15+8]\nmov word ptr [r15+500], 0x0c7f\nfldcw [r15+500]\nfnstenv [r15+384]\nfldcw [r15+500]\nfnsave [r15+1024]\nfrstor [r15+1024]\nfstp qword ptr [r15+416]\n${ST}`, data });
  out.push({ code: `fld qword ptr [r15]\nfld qword ptr [r15+56]\nfxsave [r15+2048]\nfninit\nfxrstor [r15+2048]\nfstp qword ptr [r15+384]\nfstp qword ptr [r15+392]\n${ST}`, data, xmm: new Uint8Array(256).map((_, i) => i) });
  return out;
}

/** Byte ranges that hold last-instruction/data pointers (not modelled) in the images above. */
function maskPointers(code: string, d: Uint8Array): Uint8Array {
  const c = d.slice();
  if (code.includes('fnstenv')) { c.fill(0, 384 + 12, 384 + 28); c.fill(0, 1024 + 12, 1024 + 28); c.fill(0, 1024 + 48, 1024 + 108); }
  if (code.includes('fxsave')) { c.fill(0, 2048 + 6, 2048 + 24); c.fill(0, 2048 + 28, 2048 + 32); c.fill(0, 2048 + 64, 2048 + 160); } // MXCSR_MASK is host-specific
  return c;
}

describe('x87', () => {
  it.skipIf(!canNative)('matches native execution on exactly representable values', () => {
    const bad = diffAgainstNative(cases(), (c, e, n, bad) => {
      // status words: PE, UE, OE, DE and C1 (rounded up) depend on 80-bit precision and are not modelled
      const sw = (v: bigint): bigint => v & ~0x23an;
      for (const i of [0, 1, 3]) if (sw(e.gpr[i]) !== sw(n.gpr[i])) bad.push(`${c.code}: gpr${i} emu ${e.gpr[i].toString(16)} native ${n.gpr[i].toString(16)}`);
      const ed = maskPointers(c.code, e.data), nd = maskPointers(c.code, n.data);
      for (let o = 384; o < 4096; o += 8) {
        const a = hex(ed.slice(o, o + 8)), b = hex(nd.slice(o, o + 8));
        if (a !== b) bad.push(`${c.code}: data+${o} emu ${a} native ${b}`);
      }
      if (hex(e.xmm) !== hex(n.xmm)) bad.push(`${c.code}: xmm`);
    });
    expect(bad.slice(0, 30)).toEqual([]);
  });

  it.skipIf(!hasAs)('CR0.TS/EM raise #NM; unmasked exceptions raise #MF at the next waiting instruction', () => {
    expect(run('fld1', { init: (st) => { st.cr0 |= 8; } }).fault).toBe(7);
    expect(run('fld1', { init: (st) => { st.cr0 |= 4; } }).fault).toBe(7);
    expect(run('fxsave [r15]', { init: (st) => { st.cr0 |= 8; } }).fault).toBe(7);
    expect(run('fwait', { init: (st) => { st.cr0 |= 8; } }).fault).toBe(7);
    const r = run('mov word ptr [r15+8], 0x37b\nfldcw [r15+8]\nfldz\nfld1\nfdivrp st(1), st\nfnstsw ax\nfwait');
    expect(r.fault).toBe(16);
    expect(Number(r.st.gpr(0)) & 0x84).toBe(0x84);
    expect(run('fxsave [r15+8]').fault).toBe(13);
  });

  it.skipIf(!hasAs)('FXSAVE/XSAVE images and XSETBV/XRSTOR rules', () => {
    const r = run('mov rax, 0x3ff8000000000000\nmov [r15+8], rax\nfld qword ptr [r15+8]\nmovq xmm3, rax\nfxsave [r15+512]\nxor eax, eax\nmov edx, 0\nmov eax, 3\nxsave [r15+1024]\nfninit\npxor xmm3, xmm3\nmov eax, 3\nxrstor [r15+1024]\nmovq rbx, xmm3');
    expect(r.fault).toBe(-1);
    const img = readData(r.m, 512, 512);
    const dv = new DataView(img.buffer);
    expect(dv.getUint16(0, true)).toBe(0x37f);
    expect(dv.getUint16(2, true)).toBe(7 << 11);
    expect(img[4]).toBe(0x80);
    expect(dv.getUint32(24, true)).toBe(0x1f80);
    expect(dv.getUint32(28, true)).toBe(0xffff);
    expect(dv.getBigUint64(32, true)).toBe(0xc000000000000000n);
    expect(dv.getUint16(40, true)).toBe(0x3fff);
    expect(dv.getBigUint64(160 + 48, true)).toBe(0x3ff8000000000000n);
    const xs = readData(r.m, 1024 + 512, 16);
    expect(new DataView(xs.buffer).getBigUint64(0, true)).toBe(3n);
    expect(r.st.gpr(3)).toBe(0x3ff8000000000000n);
    expect(run('mov ecx, 0\nmov eax, 7\nxor edx, edx\nxsetbv').fault).toBe(13);
    const ok = run('mov ecx, 0\nmov eax, 1\nxor edx, edx\nxsetbv\nxgetbv');
    expect(ok.fault).toBe(-1);
    expect(ok.st.gpr(0)).toBe(1n);
    expect(run('xsave [r15+16]').fault).toBe(13);
    expect(run('mov dword ptr [r15+24], 0x10000\nfxrstor [r15]').fault).toBe(13);
    expect(run('mov eax, 3\nxor edx, edx\nmov byte ptr [r15+512], 4\nxrstor [r15]').fault).toBe(13);
    expect(run('xsave [r15]', { init: (st) => { st.cr4 &= ~0x40000; } }).fault).toBe(6);
  });
});
