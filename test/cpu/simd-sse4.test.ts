// SSSE3, SSE4.1 and SSE4.2 against native execution.
import { describe, it, expect } from 'vitest';
import { diffAgainstNative, diffXmm, canNative, prng, hex, type DiffInput } from './harness.js';

const SPECIAL32 = [0, 0x80000000, 0x3fc00000, 0xbfc00000, 0x40200000, 0x7f800000, 0x7fa00000, 0xffc00001, 0x3f000000, 0xbf000000, 0x4b000001, 0x7fffffff, 0x8000, 0xffff8000, 0x00010000];

function regs(rnd: () => number, special: boolean): Uint8Array {
  const b = new Uint8Array(256);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 64; i++) dv.setUint32(i * 4, special && rnd() % 2 ? SPECIAL32[rnd() % SPECIAL32.length] : rnd(), true);
  return b;
}

const BIN = ['pshufb', 'pabsb', 'pabsw', 'pabsd', 'psignb', 'psignw', 'psignd', 'phaddw', 'phaddd', 'phaddsw', 'phsubw', 'phsubd', 'phsubsw',
  'pmaddubsw', 'pmulhrsw', 'pminsb', 'pmaxsb', 'pminuw', 'pmaxuw', 'pminsd', 'pmaxsd', 'pminud', 'pmaxud', 'pmulld', 'pmuldq', 'pcmpeqq', 'pcmpgtq',
  'packusdw', 'pmovsxbw', 'pmovzxbw', 'pmovsxwd', 'pmovzxwd', 'pmovsxdq', 'pmovzxdq', 'pmovsxbd', 'pmovzxbd', 'pmovsxwq', 'pmovzxwq', 'pmovsxbq', 'pmovzxbq',
  'phminposuw', 'pblendvb', 'blendvps', 'blendvpd'];
const IMM = ['palignr', 'blendps', 'blendpd', 'pblendw', 'roundps', 'roundpd', 'roundss', 'roundsd', 'dpps', 'dppd', 'mpsadbw', 'insertps'];

function cases(): DiffInput[] {
  const rnd = prng(7);
  const out: DiffInput[] = [];
  const data = (): Uint8Array => regs(rnd, true);
  for (const op of BIN) {
    for (let k = 0; k < 6; k++) out.push({ code: `${op} xmm${1 + k}, xmm${8 + k}`, xmm: regs(rnd, k % 2 === 0) });
    out.push({ code: `${op} xmm2, [r15+16]`, xmm: regs(rnd, true), data: data() });
  }
  for (const op of ['pshufb', 'palignr', 'psignw', 'phaddw', 'pabsd', 'pmaddubsw', 'pmulhrsw']) {
    const imm = op === 'palignr' ? ', 3' : '';
    out.push({ code: `movq mm0, [r15]\nmovq mm1, [r15+8]\n${op} mm0, mm1${imm}\nmovq [r15+64], mm0\nemms`, data: data() });
  }
  for (const op of IMM) {
    for (const imm of op.startsWith('round') ? [0, 1, 2, 3, 4, 8, 9, 12] : op === 'palignr' ? [0, 1, 5, 15, 16, 17, 31, 32] : [0, 0x31, 0xff, 0xa5, 0x5a, 0x0f, 0xf1, 0x7e]) {
      if (op === 'dpps' && (imm & 0xf0) === 0xf0) continue; // four-term sums may round differently in order
      const nan = !op.startsWith('dp'); // DPPS/DPPD NaN payloads are approximate
      out.push({ code: `${op} xmm1, xmm2, ${imm}\n${op} xmm3, [r15+32], ${imm}`, xmm: regs(rnd, nan), data: nan ? data() : regs(rnd, false) });
    }
  }
  for (const k of [0, 3, 7, 15]) {
    out.push({ code: `pextrb eax, xmm1, ${k}\npextrb [r15+100], xmm2, ${k}\npinsrb xmm3, ecx, ${k}\npinsrb xmm4, [r15+5], ${k}`, xmm: regs(rnd, false), data: data(), gpr: [0n, 0xabcdn] });
    out.push({ code: `pextrd eax, xmm1, ${k & 3}\npextrq rcx, xmm2, ${k & 1}\npinsrd xmm3, edx, ${k & 3}\npinsrq xmm4, [r15+8], ${k & 1}\nextractps ebx, xmm5, ${k & 3}\npextrw [r15+120], xmm6, ${k & 7}\nextractps [r15+128], xmm7, ${k & 3}`, xmm: regs(rnd, false), data: data(), gpr: [0n, 0n, 0x1234567n] });
  }
  for (let k = 0; k < 12; k++) out.push({ code: 'ptest xmm1, xmm2\npushfq\npop rax\nand eax, 0x8d5\nptest xmm3, xmm3\npushfq\npop rbx\nand ebx, 0x8d5', xmm: k < 4 ? new Uint8Array(256) : regs(rnd, false) });
  const strs = ['hello world\0', 'abcdefghijklmnop', 'lo\0', 'aeiou\0', 'az\0', 'AZaz09\0', 'world\0', 'xyz', '\0'];
  const put = (d: Uint8Array, off: number, s: string): void => { for (let i = 0; i < 16; i++) d[off + i] = i < s.length ? s.charCodeAt(i) : 0x41 + i; };
  for (const imm of [0x00, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1a, 0x30, 0x3a, 0x40, 0x44, 0x48, 0x4c, 0x01, 0x0d, 0x11]) {
    for (let k = 0; k < 6; k++) {
      const d = new Uint8Array(256);
      put(d, 0, strs[(k * 2 + imm) % strs.length]);
      put(d, 16, strs[(k + 1) % strs.length]);
      out.push({ code: `movdqu xmm1, [r15]\npcmpistri xmm1, [r15+16], ${imm}\npushfq\npop rbx\nand ebx, 0x8d5\nmov esi, ecx\npcmpistrm xmm1, [r15+16], ${imm}\nmov eax, ${k + 1}\nmov edx, ${12 - k}\npcmpestri xmm1, [r15+16], ${imm}\npushfq\npop rdi\nand edi, 0x8d5\nmovdqa xmm5, xmm0\npcmpestrm xmm1, [r15+16], ${imm}`, data: d, xmm: regs(rnd, false) });
    }
  }
  out.push({ code: 'mov rax, -3\nmov rdx, 0x100000005\nmovdqu xmm1, [r15]\npcmpestri xmm1, [r15+16], 0x08\nmov r8, rcx\nmov rax, -3\nmov rdx, 0x100000005\n.byte 0x66, 0x49, 0x0f, 0x3a, 0x61, 0x4f, 0x10, 0x08\nmov r9, rcx', data: new Uint8Array(64).map((_, i) => 0x61 + (i % 7)) });
  for (const v of [0n, 1n, 0xffffffffn, 0x123456789abcdefn]) {
    out.push({ code: 'mov eax, 0xffffffff\ncrc32 eax, cl\ncrc32 eax, cx\ncrc32 eax, ecx\nmov rbx, -1\ncrc32 rbx, rcx\nmov edx, 7\ncrc32 edx, byte ptr [r15]\ncrc32 rdx, qword ptr [r15+8]', gpr: [0n, v], data: data() });
  }
  return out;
}

describe('SSSE3 / SSE4.1 / SSE4.2', () => {
  it.skipIf(!canNative)('match native execution', () => {
    const bad = diffAgainstNative(cases(), (c, e, n, bad) => {
      diffXmm(c.code.split('\n')[0], e, n, bad);
      for (let i = 0; i < 15; i++) if (i !== 4 && e.gpr[i] !== n.gpr[i]) bad.push(`${c.code.split('\n').slice(0, 2).join(';')}: gpr${i} emu ${e.gpr[i].toString(16)} native ${n.gpr[i].toString(16)}`);
      if (hex(e.data.slice(0, 256)) !== hex(n.data.slice(0, 256))) bad.push(`${c.code}: data ${hex(e.data.slice(64, 72))} vs ${hex(n.data.slice(64, 72))}`);
    });
    expect(bad.slice(0, 30)).toEqual([]);
  });
});
