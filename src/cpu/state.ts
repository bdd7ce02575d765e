import * as L from './state-layout.js';

/**
 * TypeScript access to the architectural state that lives in the shared Wasm memory.
 * System paths (exceptions, far transfers, MSRs) use BigInt here; hot paths never come through.
 */
export class CpuState {
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly big: BigUint64Array;

  constructor(readonly memory: WebAssembly.Memory) {
    const b = memory.buffer;
    this.u8 = new Uint8Array(b, 0, L.STATE_END);
    this.dv = new DataView(b, 0, L.STATE_END);
    this.u32 = new Uint32Array(b, 0, L.STATE_END / 4);
    this.i32 = new Int32Array(b, 0, L.STATE_END / 4);
    this.big = new BigUint64Array(b, 0, L.STATE_END / 8);
  }

  // 64-bit fields as BigInt
  get64(off: number): bigint { return this.big[off >> 3]; }
  set64(off: number, v: bigint): void { this.big[off >> 3] = BigInt.asUintN(64, v); }
  /** Low 32 bits of a 64-bit field. */
  lo(off: number): number { return this.u32[off >> 2]; }
  hi(off: number): number { return this.u32[(off >> 2) + 1]; }
  /** A 64-bit field as a double: exact below 2^53 (physical addresses, small values). */
  num(off: number): number { return this.u32[off >> 2] + this.u32[(off >> 2) + 1] * 0x1_0000_0000; }
  setNum(off: number, v: number): void {
    this.u32[off >> 2] = v >>> 0;
    this.u32[(off >> 2) + 1] = Math.floor(v / 0x1_0000_0000) >>> 0;
  }
  get32(off: number): number { return this.u32[off >> 2]; }
  set32(off: number, v: number): void { this.u32[off >> 2] = v >>> 0; }

  gpr(n: number): bigint { return this.big[(L.GPR >> 3) + n]; }
  setGpr(n: number, v: bigint): void { this.big[(L.GPR >> 3) + n] = BigInt.asUintN(64, v); }
  gpr32(n: number): number { return this.u32[(L.GPR >> 2) + n * 2]; }
  /** Write the low 32 bits, zero-extending (x86 32-bit register write). */
  setGpr32(n: number, v: number): void {
    this.u32[(L.GPR >> 2) + n * 2] = v >>> 0;
    this.u32[(L.GPR >> 2) + n * 2 + 1] = 0;
  }

  get rip(): bigint { return this.big[L.RIP >> 3]; }
  set rip(v: bigint) { this.big[L.RIP >> 3] = BigInt.asUintN(64, v); }

  segSel(s: number): number { return this.u32[L.segOff(s, L.SEG_SEL) >> 2] & 0xffff; }
  segBase(s: number): bigint { return this.big[L.segOff(s, L.SEG_BASE) >> 3]; }
  segLimit(s: number): number { return this.u32[L.segOff(s, L.SEG_LIMIT) >> 2]; }
  segAttr(s: number): number { return this.u32[L.segOff(s, L.SEG_ATTR) >> 2]; }
  setSeg(s: number, sel: number, base: bigint, limit: number, attr: number): void {
    this.u32[L.segOff(s, L.SEG_SEL) >> 2] = sel & 0xffff;
    this.big[L.segOff(s, L.SEG_BASE) >> 3] = BigInt.asUintN(64, base);
    this.u32[L.segOff(s, L.SEG_LIMIT) >> 2] = limit >>> 0;
    this.u32[L.segOff(s, L.SEG_ATTR) >> 2] = attr >>> 0;
  }

  get cr0(): number { return this.u32[L.CR0 >> 2]; }
  set cr0(v: number) { this.u32[L.CR0 >> 2] = v >>> 0; this.u32[(L.CR0 >> 2) + 1] = 0; }
  get cr4(): number { return this.u32[L.CR4 >> 2]; }
  set cr4(v: number) { this.u32[L.CR4 >> 2] = v >>> 0; this.u32[(L.CR4 >> 2) + 1] = 0; }
  get efer(): number { return this.u32[L.EFER >> 2]; }
  set efer(v: number) { this.u32[L.EFER >> 2] = v >>> 0; }
  get mode(): number { return this.u32[L.MODE >> 2]; }
  set mode(v: number) { this.u32[L.MODE >> 2] = v >>> 0; }
  get cpl(): number { return this.u32[L.MODE >> 2] & 3; }

  /** Instructions retired so far, as a double. */
  get icount(): number { return this.num(L.ICOUNT); }
}
