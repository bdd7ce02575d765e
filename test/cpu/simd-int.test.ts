// SSE2 integer, logic, shuffle and move instructions against native execution (and fixed vectors
// where no native CPU is available).
import { describe, it, expect } from 'vitest';
import { run, diffAgainstNative, diffXmm, canNative, prng, hex, hasAs, setXmmU64, xmmU64, xmmU32, DATA, type DiffInput } from './harness.js';

const OPS2 = [
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubw', 'psubd', 'psubq', 'paddsb', 'paddsw', 'paddusb', 'paddusw',
  'psubsb', 'psubsw', 'psubusb', 'psubusw', 'pmullw', 'pmulhw', 'pmulhuw', 'pmuludq', 'pmaddwd', 'psadbw', 'pavgb', 'pavgw',
  'pminub', 'pmaxub', 'pminsw', 'pmaxsw', 'pcmpeqb', 'pcmpeqw', 'pcmpeqd', 'pcmpgtb', 'pcmpgtw', 'pcmpgtd',
  'pand', 'pandn', 'por', 'pxor', 'andps', 'andnps', 'orps', 'xorps', 'andpd', 'andnpd', 'orpd', 'xorpd',
  'packsswb', 'packuswb', 'packssdw', 'punpcklbw', 'punpckhbw', 'punpcklwd', 'punpckhwd', 'punpckldq', 'punpckhdq',
  'punpcklqdq', 'punpckhqdq', 'unpcklps', 'unpckhps', 'unpcklpd', 'unpckhpd',
  'psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad',
];
const MMX2 = [
  'paddb', 'paddw', 'paddd', 'paddq', 'psubb', 'psubsw', 'paddusb', 'pmullw', 'pmulhw', 'pmuludq', 'pmaddwd', 'psadbw', 'pavgb',
  'pminub', 'pmaxsw', 'pcmpeqb', 'pcmpgtw', 'pand', 'pandn', 'por', 'pxor', 'packsswb', 'packuswb', 'packssdw',
  'punpcklbw', 'punpckhbw', 'punpcklwd', 'punpckhwd', 'punpckldq', 'punpckhdq', 'psllw', 'psrld', 'psraw', 'psrlq',
];

function randomXmm(rnd: () => number): Uint8Array {
  const b = new Uint8Array(256);
  for (let i = 0; i < 256; i++) b[i] = rnd() & 0xff;
  // some registers with structured values: small shift counts, sign patterns, saturating edges
  const dv = new DataView(b.buffer);
  dv.setBigUint64(5 * 16, BigInt(rnd() % 20), true); dv.setBigUint64(5 * 16 + 8, 0n, true);
  for (let k = 0; k < 8; k++) dv.setUint16(6 * 16 + 2 * k, [0x7fff, 0x8000, 0xffff, 0, 1, 0x7f, 0x80, 0xff][k], true);
  return b;
}

function randomData(rnd: () => number): Uint8Array {
  const d = new Uint8Array(256);
  for (let i = 0; i < 256; i++) d[i] = rnd() & 0xff;
  d.set([3, 0, 0, 0, 0, 0, 0, 0], 64);
  return d;
}

function cases(): DiffInput[] {
  const out: DiffInput[] = [];
  const rnd = prng(1234);
  for (const op of OPS2) {
    for (const [d, s] of [['xmm0', 'xmm1'], ['xmm2', 'xmm6'], ['xmm3', 'xmm5'], ['xmm9', 'xmm14'], ['xmm4', '[r15+16]'], ['xmm7', '[r15+64]']]) {
      out.push({ code: `${op} ${d}, ${s}`, xmm: randomXmm(rnd), data: randomData(rnd) });
    }
  }
  for (const op of ['psllw', 'pslld', 'psllq', 'psrlw', 'psrld', 'psrlq', 'psraw', 'psrad', 'pslldq', 'psrldq']) {
    for (const n of [0, 1, 7, 15, 16, 31, 33, 63, 64, 200]) out.push({ code: `${op} xmm1, ${n}`, xmm: randomXmm(rnd) });
  }
  for (const n of [0, 0x1b, 0xe4, 0x4e, 0xff, 0x93]) {
    for (const op of ['pshufd', 'pshuflw', 'pshufhw', 'shufps', 'shufpd']) out.push({ code: `${op} xmm1, xmm2, ${n}\n${op} xmm3, [r15+32], ${n}`, xmm: randomXmm(rnd), data: randomData(rnd) });
  }
  // moves
  const moves = [
    'movaps xmm0, xmm1\nmovaps [r15+32], xmm2\nmovaps xmm3, [r15+48]',
    'movups xmm0, [r15+3]\nmovups [r15+71], xmm1\nmovupd xmm9, xmm10',
    'movdqa xmm0, [r15+16]\nmovdqu xmm1, [r15+9]\nmovdqu [r15+100], xmm8\nmovdqa [r15+128], xmm2',
    'movd xmm0, eax\nmovd ecx, xmm1\nmovd xmm2, [r15+4]\nmovd [r15+8], xmm3',
    'movq xmm0, rax\nmovq rcx, xmm1\nmovq xmm2, [r15+4]\nmovq [r15+8], xmm3\nmovq xmm4, xmm5',
    'movss xmm0, xmm1\nmovss xmm2, [r15+4]\nmovss [r15+20], xmm3',
    'movsd xmm0, xmm1\nmovsd xmm2, [r15+4]\nmovsd [r15+20], xmm3',
    'movlps xmm0, [r15+8]\nmovhps xmm1, [r15+16]\nmovlps [r15+40], xmm2\nmovhps [r15+48], xmm3',
    'movlpd xmm0, [r15+8]\nmovhpd xmm1, [r15+16]\nmovlpd [r15+40], xmm2\nmovhpd [r15+48], xmm3',
    'movhlps xmm0, xmm1\nmovlhps xmm2, xmm3',
    'movmskps eax, xmm1\nmovmskpd ecx, xmm2\npmovmskb edx, xmm3\npmovmskb r8, xmm4',
    'pextrw eax, xmm1, 3\npextrw ecx, xmm2, 7\npinsrw xmm3, eax, 0\npinsrw xmm4, [r15+6], 5',
    'movntdq [r15+32], xmm1\nmovntps [r15+48], xmm2\nmovnti [r15+64], rax\nmovnti [r15+72], ecx',
    'lea rdi, [r15+16]\nmaskmovdqu xmm1, xmm2',
    'movq2dq xmm1, mm0\nmovdq2q mm1, xmm2\nmovq [r15], mm1\nemms',
    'movd mm0, eax\nmovq mm1, [r15+8]\npaddd mm0, mm1\npshufw mm2, mm1, 0x1b\nmovq [r15+32], mm0\nmovq [r15+40], mm2\nmovd ecx, mm2\nmovq rdx, mm1\npextrw esi, mm1, 2\npinsrw mm1, eax, 3\npmovmskb edi, mm1\nmovq [r15+48], mm1\nemms',
  ];
  for (const code of moves) out.push({ code, xmm: randomXmm(rnd), data: randomData(rnd), gpr: [0x1234567890abcdefn, 0xfedcba9876543210n, 7n, 8n] });
  for (const op of MMX2) {
    out.push({ code: `movq mm0, [r15]\nmovq mm1, [r15+8]\n${op} mm0, mm1\n${op} mm1, [r15+16]\nmovq [r15+32], mm0\nmovq [r15+40], mm1\nemms`, data: randomData(rnd) });
  }
  for (const op of ['psllw', 'pslld', 'psrlq', 'psraw']) {
    out.push({ code: `movq mm0, [r15]\n${op} mm0, 3\nmovq mm1, [r15+8]\n${op} mm1, [r15+64]\nmovq [r15+32], mm0\nmovq [r15+40], mm1\nemms`, data: randomData(rnd) });
  }
  return out;
}

describe('SSE2 integer and move instructions', () => {
  it.skipIf(!canNative)('match native execution', () => {
    const bad = diffAgainstNative(cases(), (c, e, n, bad) => {
      diffXmm(c.code, e, n, bad);
      for (let i = 0; i < 16; i++) if (i !== 4 && i !== 15 && !(i === 7 && c.code.includes('lea rdi')) && e.gpr[i] !== n.gpr[i]) bad.push(`${c.code}: gpr${i} emu ${e.gpr[i].toString(16)} native ${n.gpr[i].toString(16)}`);
      if (hex(e.data.slice(0, 512)) !== hex(n.data.slice(0, 512))) bad.push(`${c.code}: data emu ${hex(e.data.slice(0, 160))}\n native ${hex(n.data.slice(0, 160))}`);
    });
    expect(bad.slice(0, 30)).toEqual([]);
  });

  it.skipIf(!hasAs)('computes fixed vectors', () => {
    const r = run('movq xmm0, rax\nmovq rbx, xmm0\npaddq xmm0, xmm0\npunpcklqdq xmm0, xmm0', { init: (st) => st.setGpr(0, 0x8000000000000001n) });
    expect(r.fault).toBe(-1);
    expect(r.st.gpr(3)).toBe(0x8000000000000001n);
    expect(xmmU64(r.st, 0)).toEqual([2n, 2n]);
    const s = run('paddusb xmm1, xmm2', { init: (st) => { setXmmU64(st, 1, [0xff80_7f01n, 0n]); setXmmU64(st, 2, [0x0190_0101n, 0n]); } });
    expect(xmmU32(s.st, 1)[0]).toBe(0xffff8002);
  });

  it.skipIf(!hasAs)('enforces alignment and CR0/CR4 availability', () => {
    expect(run('movaps xmm0, [r15+8]').fault).toBe(13);
    expect(run('paddb xmm0, [r15+8]').fault).toBe(13);
    expect(run('movups xmm0, [r15+8]').fault).toBe(-1);
    expect(run('paddb xmm0, xmm1', { init: (st) => { st.cr0 |= 8; } }).fault).toBe(7);
    expect(run('paddb xmm0, xmm1', { init: (st) => { st.cr0 |= 4; } }).fault).toBe(6);
    expect(run('paddb xmm0, xmm1', { init: (st) => { st.cr4 &= ~0x200; } }).fault).toBe(6);
    expect(run('paddb mm0, mm1', { init: (st) => { st.cr0 |= 4; } }).fault).toBe(6);
    expect(run('paddb mm0, mm1', { init: (st) => { st.cr0 |= 8; } }).fault).toBe(7);
    void DATA;
  });
});
