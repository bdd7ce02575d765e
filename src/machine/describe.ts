import type { Cpu } from '../cpu/cpu.js';
import * as L from '../cpu/state-layout.js';
import { GPR_NAMES, SEG_NAMES } from '../cpu/regs.js';

const hex = (v: bigint | number, w = 16) => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(w, '0');

/** Register dump for triple faults and debugging, in the style of QEMU's `info registers`. */
export function describeCpu(cpu: Cpu): string {
  const st = cpu.st;
  const lines: string[] = [];
  for (let i = 0; i < 16; i += 4) lines.push([0, 1, 2, 3].map((j) => `${GPR_NAMES[i + j].toUpperCase().padEnd(3)}=${hex(st.gpr(i + j))}`).join(' '));
  lines.push(`RIP=${hex(st.rip)} RFL=${hex(cpu.getRflags(), 8)} CPL=${cpu.cpl} MODE=${hex(st.mode, 4)}`);
  for (let s = 0; s < 8; s++) lines.push(`${SEG_NAMES[s].toUpperCase().padEnd(4)}=${hex(st.segSel(s), 4)} ${hex(st.segBase(s))} ${hex(st.segLimit(s), 8)} ${hex(st.segAttr(s), 5)}`);
  lines.push(`GDT=${hex(st.get64(L.GDTR_BASE))} ${hex(st.get32(L.GDTR_LIMIT), 8)}  IDT=${hex(st.get64(L.IDTR_BASE))} ${hex(st.get32(L.IDTR_LIMIT), 8)}`);
  lines.push(`CR0=${hex(st.cr0, 8)} CR2=${hex(st.get64(L.CR2))} CR3=${hex(st.get64(L.CR3))} CR4=${hex(st.cr4, 8)} EFER=${hex(st.efer, 8)}`);
  return lines.join('\n');
}
