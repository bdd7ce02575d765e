// All instruction semantics, and the per-instruction block-structure rules the translator needs.
import { Mnemonic, OpKind } from '../iced.js';
import type { Insn } from '../decode.js';
import { SEM, def } from './table.js';
import './alu.js';
import './control.js';
import './string.js';
import './simd-index.js';
import { ENDS_BLOCK, HELPER_BASED, isSystemMov, semMovSystem, isFar } from './system.js';
import { REG, RegClass } from '../regs.js';

const M = Mnemonic;

// MOV to/from segment, control and debug registers goes through the system helpers.
const plainMov = SEM[M.Mov]!;
def(M.Mov, (g) => {
  if (isSystemMov(g.insn) && semMovSystem(g)) return;
  plainMov(g);
});

function isSegPop(d: Insn): boolean {
  return d.opKind[0] === OpKind.Register && REG[d.opReg[0]].cls === RegClass.Seg;
}

/** True when the block must end after this instruction. */
export function endsBlock(d: Insn): boolean {
  const m = d.mnemonic;
  if (m === M.Mov) {
    if (!isSystemMov(d)) return false;
    const dst = d.opKind[0] === OpKind.Register ? REG[d.opReg[0]].cls : RegClass.None;
    return dst === RegClass.Seg || dst === RegClass.Cr;
  }
  if (m === M.Pop) return isSegPop(d);
  if (m === M.Jmp || m === M.Call) return true;
  if ((d.rep || d.repne) && isString(d)) return true;
  return ENDS_BLOCK.has(m);
}

/** True when the instruction is implemented by a TypeScript helper (which may read any flag). */
export function isHelperBased(d: Insn): boolean {
  const m = d.mnemonic;
  if (m === M.Mov) return isSystemMov(d);
  if (m === M.Pop) return isSegPop(d);
  if (m === M.Jmp || m === M.Call) return isFar(d.code);
  return HELPER_BASED.has(m);
}

function isString(d: Insn): boolean {
  for (const k of d.opKind) if (k >= OpKind.MemorySegSI && k <= OpKind.MemoryESRDI) return true;
  return false;
}

export { SEM };
