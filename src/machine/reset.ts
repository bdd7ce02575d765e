import type { Cpu } from '../cpu/cpu.js';
import { ATTR_P, ATTR_S, ATTR_G, ATTR_L, ATTR_DB, ATTR_UNUSABLE } from '../cpu/cpu.js';
import * as L from '../cpu/state-layout.js';
import { Seg } from '../cpu/state-layout.js';
import type { BootState } from '../loader/boot-state.js';

/** Power-on state (SDM vol. 3 §9.1): real mode at F000:FFF0. */
export function resetCpu(cpu: Cpu): void {
  const st = cpu.st;
  st.u8.fill(0);
  for (let s = 0; s < 6; s++) st.setSeg(s, 0, 0n, 0xffff, 0x93);
  st.setSeg(Seg.CS, 0xf000, 0xffff0000n, 0xffff, 0x9b);
  st.setSeg(Seg.LDTR, 0, 0n, 0xffff, 0x82);
  st.setSeg(Seg.TR, 0, 0n, 0xffff, 0x8b);
  st.set32(L.GDTR_LIMIT, 0xffff);
  st.set32(L.IDTR_LIMIT, 0xffff);
  st.rip = 0xfff0n;
  st.cr0 = 0x60000010;
  st.set64(L.RFLAGS, 2n);
  st.setGpr32(2, 0x000206a1); // EDX = CPUID signature
  st.set64(L.DR + 6 * 8, 0xffff0ff0n);
  st.set64(L.DR + 7 * 8, 0x400n);
  st.set64(L.PAT, 0x0007040600070406n);
  st.set64(L.APIC_BASE, 0xfee00900n);
  st.set32(L.FPU_CW, 0x37f);
  st.set32(L.MXCSR, 0x1f80);
  st.set64(L.XCR0, 1n);
  cpu.halted = false;
  cpu.intShadow = false;
  cpu.updateMode();
  cpu.flushTlb(true);
}

/** Apply a loader's hand-off state (flat segments from its GDT). */
export function applyBootState(cpu: Cpu, bs: BootState): void {
  resetCpu(cpu);
  const st = cpu.st;
  const long = bs.mode === 'long64';
  st.set64(L.GDTR_BASE, BigInt(bs.gdt.base));
  st.set32(L.GDTR_LIMIT, bs.gdt.limit);
  st.set64(L.IDTR_BASE, 0n);
  st.set32(L.IDTR_LIMIT, 0);
  st.cr0 = bs.cr0;
  st.cr4 = bs.cr4;
  st.efer = bs.efer;
  if (bs.cr3 !== undefined) st.setNum(L.CR3, bs.cr3);
  const code = 0x9b | ATTR_P | ATTR_S | ATTR_G | (long ? ATTR_L : ATTR_DB);
  const data = 0x93 | ATTR_G | ATTR_DB;
  st.setSeg(Seg.CS, bs.selectors.cs, 0n, 0xffffffff, code);
  for (const s of [Seg.DS, Seg.ES, Seg.SS, Seg.FS, Seg.GS]) st.setSeg(s, bs.selectors.ds, 0n, 0xffffffff, data);
  st.setSeg(Seg.LDTR, 0, 0n, 0, ATTR_UNUSABLE);
  st.setSeg(Seg.TR, 0, 0n, 0xffff, 0x8b);
  const names = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'] as const;
  for (let i = 0; i < 16; i++) st.setGpr(i, 0n);
  names.forEach((n, i) => { const v = bs.regs[n]; if (v !== undefined) st.setGpr(i, BigInt(v)); });
  st.rip = BigInt(bs.entry);
  st.set64(L.RFLAGS, 2n);
  cpu.updateMode();
  cpu.flushTlb(true);
}
