import { describe, it, expect } from 'vitest';
import { buildRuntimeModule } from '../../src/jit/runtime-module.js';
import { FLAG_OP, FLAG_RES, FLAG_A, FLAG_B, RFLAGS, RET64 } from '../../src/cpu/state-layout.js';
import { flagOp, FK, CF, ZF, SF, OF, PF, AF } from '../../src/cpu/flags.js';

function instantiate() {
  const memory = new WebAssembly.Memory({ initial: 32, maximum: 32 });
  const bytes = buildRuntimeModule(32, 32);
  expect(WebAssembly.validate(bytes)).toBe(true);
  const raised: number[] = [];
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { mem: memory, tbl: new WebAssembly.Table({ element: 'anyfunc', initial: 1 }) },
    js: {
      tlb_miss_read: () => 0,
      tlb_miss_write: () => 0,
      raise: (v: number) => { raised.push(v); throw new Error(`#${v}`); },
      helper: () => {}, io_in: () => 0, io_out: () => {}, seg_check: () => {}, hot: () => {},
    },
  });
  return { memory, ex: inst.exports as any, raised, dv: new DataView(memory.buffer) };
}

const M64 = (1n << 64n) - 1n;
const s64 = (v: bigint) => BigInt.asIntN(64, v);

describe('runtime module', () => {
  it('mul128 matches BigInt for unsigned and signed products', () => {
    const { ex, dv } = instantiate();
    const vals = [0n, 1n, 2n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, 0x8000000000000000n, M64, 0x123456789abcdef0n, 0xfedcba9876543210n];
    for (const a of vals) for (const b of vals) {
      const lo = BigInt.asUintN(64, ex.mul128(s64(a), s64(b), 0));
      const hi = dv.getBigUint64(RET64, true);
      expect((hi << 64n) | lo).toBe(a * b);
      const slo = BigInt.asUintN(64, ex.mul128(s64(a), s64(b), 1));
      const shi = dv.getBigInt64(RET64, true);
      expect((shi << 64n) + slo).toBe(s64(a) * s64(b));
    }
  });

  it('div128 divides 128/64 and raises #DE on overflow or zero', () => {
    const { ex, dv } = instantiate();
    const q = ex.div128(1n, 0n, 3n, 0, 8); // 2^64 / 3
    expect(BigInt.asUintN(64, q)).toBe((1n << 64n) / 3n);
    expect(dv.getBigUint64(RET64, true)).toBe((1n << 64n) % 3n);
    expect(() => ex.div128(5n, 0n, 5n, 0, 8)).toThrow('#0');
    expect(() => ex.div128(0n, 5n, 0n, 0, 8)).toThrow('#0');
    // signed: -7 / 2 = -3 rem -1
    expect(ex.div128(-1n, -7n, 2n, 1, 8)).toBe(-3n);
    expect(dv.getBigInt64(RET64, true)).toBe(-1n);
    // 32-bit forms: 0x1_0000_0000 / 1 overflows
    expect(() => ex.div128(0n, 0x100000000n, 1n, 0, 4)).toThrow('#0');
    expect(ex.div128(0n, 100n, 7n, 0, 4)).toBe(14n);
    expect(() => ex.div128(0n, -0x8000000000000000n, -1n, 1, 4)).toThrow('#0');
    expect(ex.div128(0n, -100n, 7n, 1, 4)).toBe(-14n);
    expect(() => ex.div128(0n, 0x80n, 1n, 1, 1)).toThrow('#0');
  });

  it('flags_get materializes lazy flags', () => {
    const { ex, dv } = instantiate();
    const set = (kind: FK, bytes: number, res: bigint, a: bigint, b: bigint) => {
      dv.setInt32(FLAG_OP, flagOp(kind, bytes), true);
      dv.setBigUint64(FLAG_RES, res, true);
      dv.setBigUint64(FLAG_A, a, true);
      dv.setBigUint64(FLAG_B, b, true);
      dv.setUint32(RFLAGS, 0x202, true);
    };
    set(FK.SUB, 4, 0n, 5n, 5n);
    expect(ex.flags_get() & (CF | ZF | SF | OF | PF)).toBe(ZF | PF);
    expect(dv.getInt32(FLAG_OP, true)).toBe(0);
    expect(dv.getUint32(RFLAGS, true) & 0x200).toBe(0x200);
    set(FK.ADD, 1, 0x100n, 0xffn, 1n); // 0xff + 1 in 8 bits
    expect(ex.flags_get() & (CF | ZF | SF | OF | AF)).toBe(CF | ZF | AF);
    set(FK.SUB, 1, 0x7fn, 0x80n, 1n); // -128 - 1 overflows
    expect(ex.flags_get() & (CF | ZF | SF | OF)).toBe(OF);
    set(FK.LOGIC, 8, 0x8000000000000000n, 0n, 0n);
    expect(ex.flags_get() & (CF | ZF | SF | OF)).toBe(SF);
  });
});
