import { Register } from './iced.js';

/** What an iced-x86 Register names in our state: a GPR slice, a segment, an XMM/MMX/x87 register, a CR/DR. */
export const enum RegClass { None, Gpr, Seg, Xmm, Cr, Dr, St, Mm, Ip }

export interface RegInfo {
  cls: RegClass;
  /** GPR number 0-15 (encoding order), segment slot, xmm/cr/dr/st/mm number. */
  idx: number;
  /** Width in bytes for GPRs (1, 2, 4, 8). */
  width: number;
  /** AH, CH, DH, BH: bits 8-15 of GPR idx. */
  hi8: boolean;
}

const NONE: RegInfo = { cls: RegClass.None, idx: 0, width: 0, hi8: false };
export const REG: RegInfo[] = new Array(256).fill(NONE);

function set(r: number, cls: RegClass, idx: number, width = 0, hi8 = false): void {
  REG[r] = { cls, idx, width, hi8 };
}

// Byte registers: AL CL DL BL, then AH CH DH BH, then SPL BPL SIL DIL, R8L..R15L.
for (let i = 0; i < 4; i++) set(Register.AL + i, RegClass.Gpr, i, 1);
for (let i = 0; i < 4; i++) set(Register.AH + i, RegClass.Gpr, i, 1, true);
for (let i = 4; i < 16; i++) set(Register.SPL + (i - 4), RegClass.Gpr, i, 1);
for (let i = 0; i < 16; i++) {
  set(Register.AX + i, RegClass.Gpr, i, 2);
  set(Register.EAX + i, RegClass.Gpr, i, 4);
  set(Register.RAX + i, RegClass.Gpr, i, 8);
  set(Register.XMM0 + i, RegClass.Xmm, i);
  set(Register.CR0 + i, RegClass.Cr, i);
  set(Register.DR0 + i, RegClass.Dr, i);
}
for (let i = 0; i < 6; i++) set(Register.ES + i, RegClass.Seg, i);
for (let i = 0; i < 8; i++) {
  set(Register.ST0 + i, RegClass.St, i);
  set(Register.MM0 + i, RegClass.Mm, i);
}
set(Register.EIP, RegClass.Ip, 0, 4);
set(Register.RIP, RegClass.Ip, 0, 8);

export const GPR_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'];
