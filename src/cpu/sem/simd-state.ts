// FXSAVE/FXRSTOR, XSAVE/XSAVEOPT/XRSTOR and XSETBV: whole-state images built by TypeScript helpers
// (src/cpu/system/fpu.ts).
import { Mnemonic } from '../iced.js';
import { def } from './table.js';
import type { Gen } from './gen.js';
import { CR0, CR4, HELPER_ARG0 } from '../state-layout.js';
import { CR0_EM, CR0_TS, CR4_OSXSAVE } from '../../mmu/paging.js';
import { fault, Vec } from '../exception.js';
import { fxsave, fxrstor, xsave, xrstor, xsetbv, XSAVE_SIZE } from '../system/fpu.js';
import type { Cpu } from '../cpu.js';

const M = Mnemonic;

/** FXSAVE family: CR0.EM or CR0.TS → #NM. XSAVE family: CR4.OSXSAVE=0 → #UD first. */
function stateOp(mn: number, bytes: number, write: boolean, xs: boolean, fn: (cpu: Cpu, a: bigint, rexW: boolean) => void): void {
  def(mn, (g: Gen) => {
    const cpu = g.cpu;
    const rexW = mn === M.Fxsave64 || mn === M.Fxrstor64 || mn === M.Xsave64 || mn === M.Xrstor64 || mn === M.Xsaveopt64;
    g.f.i32(0).i32Load(CR0).i32(CR0_EM | CR0_TS).i32And();
    if (xs) g.f.i32(0).i32Load(CR4).i32(CR4_OSXSAVE).i32And().i32Eqz().i32Or();
    g.f.if_();
    g.callHelper(() => {
      if (xs && !(cpu.st.cr4 & CR4_OSXSAVE)) throw fault(Vec.UD);
      // XSAVE checks only TS; FXSAVE faults on EM as well
      if (cpu.st.cr0 & CR0_TS || (!xs && cpu.st.cr0 & CR0_EM)) throw fault(Vec.NM);
    });
    g.f.end();
    g.argFromAddr(HELPER_ARG0, write, bytes);
    g.callHelper(() => fn(cpu, cpu.st.get64(HELPER_ARG0), rexW));
  });
}
stateOp(M.Fxsave, 512, true, false, fxsave);
stateOp(M.Fxsave64, 512, true, false, fxsave);
stateOp(M.Fxrstor, 512, false, false, fxrstor);
stateOp(M.Fxrstor64, 512, false, false, fxrstor);
stateOp(M.Xsave, XSAVE_SIZE, true, true, xsave);
stateOp(M.Xsave64, XSAVE_SIZE, true, true, xsave);
stateOp(M.Xsaveopt, XSAVE_SIZE, true, true, xsave);
stateOp(M.Xsaveopt64, XSAVE_SIZE, true, true, xsave);
stateOp(M.Xrstor, XSAVE_SIZE, false, true, xrstor);
stateOp(M.Xrstor64, XSAVE_SIZE, false, true, xrstor);

def(M.Xsetbv, (g) => {
  const cpu = g.cpu;
  g.callHelper(() => xsetbv(cpu));
});
