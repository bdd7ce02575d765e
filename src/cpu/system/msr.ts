// RDMSR/WRMSR (SDM vol. 4). Unknown MSRs raise #GP(0), as on hardware.
import type { Cpu } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import * as L from '../state-layout.js';
import { Seg } from '../state-layout.js';
import { writeEfer } from './control-regs.js';

const CANON = (v: bigint): boolean => {
  const top = BigInt.asIntN(64, v) >> 47n;
  return top === 0n || top === -1n;
};


/** MSRs stored as plain 64-bit fields in the state block. */
const STORED: Map<number, number> = new Map([
  [0xc0000081, L.STAR], [0xc0000082, L.LSTAR], [0xc0000083, L.CSTAR], [0xc0000084, L.FMASK],
  [0xc0000102, L.KERNEL_GS_BASE], [0xc0000103, L.TSC_AUX],
  [0x174, L.SYSENTER_CS], [0x175, L.SYSENTER_ESP], [0x176, L.SYSENTER_EIP],
  [0x277, L.PAT], [0x1a0, L.MISC_ENABLE], [0x2ff, L.MTRR_DEF_TYPE],
]);
const MTRR_FIXED_MSRS = [0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f];

export function tsc(cpu: Cpu): bigint {
  return BigInt(Math.floor(cpu.tscSource())) + cpu.st.get64(L.TSC_OFFSET);
}

/**
 * IA32_ARCH_CAPABILITIES: this CPU executes nothing speculatively, so it reports itself immune to
 * every speculative-execution and buffer-sampling issue the MSR has a "not affected" bit for (RDCL_NO,
 * SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO, PSDP_NO,
 * BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO). Guests then skip page-table isolation and buffer clearing.
 */
export const ARCH_CAPABILITIES = BigInt(
  (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 20) | (1 << 24) | (1 << 26) | (1 << 27),
);

export function rdmsr(cpu: Cpu, msr: number): bigint {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const st = cpu.st;
  const dev = cpu.msrDevice?.readMsr(msr);
  if (dev) return BigInt(dev[0] >>> 0) | (BigInt(dev[1] >>> 0) << 32n);
  const off = STORED.get(msr);
  if (off !== undefined) return st.get64(off);
  switch (msr) {
    case 0x10: return BigInt.asUintN(64, tsc(cpu));
    case 0xc0000080: return BigInt(st.efer);
    case 0xc0000100: return st.segBase(Seg.FS);
    case 0xc0000101: return st.segBase(Seg.GS);
    case 0x1b: return st.get64(L.APIC_BASE);
    case 0xfe: return 0x508n; // MTRRcap: 8 variable ranges, fixed ranges, write-combining
    case 0x17: case 0x8b: case 0x179: case 0x17a: return 0n; // platform id, microcode, MCG_CAP/STATUS
    case 0x3a: return 1n; // FEATURE_CONTROL: locked, VMX off
    case 0xce: return 0n;
    case 0x10a: return ARCH_CAPABILITIES;
  }
  if (msr >= 0x200 && msr < 0x210) return st.get64(L.MTRR_VAR + (msr - 0x200) * 8);
  const fi = MTRR_FIXED_MSRS.indexOf(msr);
  if (fi >= 0) return st.get64(L.MTRR_FIXED + fi * 8);
  throw fault(Vec.GP, 0);
}

export function wrmsr(cpu: Cpu, msr: number, v: bigint): void {
  if (cpu.cpl !== 0) throw fault(Vec.GP, 0);
  const st = cpu.st;
  const lo = Number(v & 0xffffffffn), hi = Number(v >> 32n);
  if (cpu.msrDevice?.writeMsr(msr, lo, hi)) {
    if (msr === 0x1b) st.set64(L.APIC_BASE, v);
    return;
  }
  switch (msr) {
    case 0x10:
      st.set64(L.TSC_OFFSET, v - BigInt(Math.floor(cpu.tscSource())));
      cpu.tscOffsetChanged?.(BigInt.asIntN(64, st.get64(L.TSC_OFFSET)));
      return;
    case 0xc0000080: writeEfer(cpu, lo, hi); return;
    case 0xc0000100: case 0xc0000101: case 0xc0000102: case 0xc0000082: case 0xc0000083:
      if (!CANON(v)) throw fault(Vec.GP, 0);
      if (msr === 0xc0000100) { st.setSeg(Seg.FS, st.segSel(Seg.FS), v, st.segLimit(Seg.FS), st.segAttr(Seg.FS)); return; }
      if (msr === 0xc0000101) { st.setSeg(Seg.GS, st.segSel(Seg.GS), v, st.segLimit(Seg.GS), st.segAttr(Seg.GS)); return; }
      break;
    case 0xc0000103: if (hi !== 0) throw fault(Vec.GP, 0); break;
    case 0x1b: st.set64(L.APIC_BASE, v); return;
    case 0x8b: case 0x179: case 0x17a: return;
    case 0x277:
      for (let i = 0; i < 8; i++) { const t = Number((v >> BigInt(i * 8)) & 0xffn); if (t === 2 || t === 3 || t > 7) throw fault(Vec.GP, 0); }
      break;
  }
  const off = STORED.get(msr);
  if (off !== undefined) { st.set64(off, v); return; }
  if (msr >= 0x200 && msr < 0x210) { st.set64(L.MTRR_VAR + (msr - 0x200) * 8, v); return; }
  const fi = MTRR_FIXED_MSRS.indexOf(msr);
  if (fi >= 0) { st.set64(L.MTRR_FIXED + fi * 8, v); return; }
  throw fault(Vec.GP, 0);
}
