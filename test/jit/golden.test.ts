// Golden checks of emitted Wasm through an independent toolchain (wabt): modules validate, and
// the code for known guest instructions has the expected shape.
import { describe, it, expect, beforeAll } from 'vitest';
import wabtInit from 'wabt';
import { ModuleBuilder, FnBody } from '../../src/jit/wasm/encoder.js';
import { buildRuntimeModule, rtSlot } from '../../src/jit/runtime-module.js';
import { translateBlocks, translateRegion } from '../../src/jit/translate.js';
import { InsnDecoder, type Insn } from '../../src/cpu/decode.js';
import { Machine } from '../../src/machine/machine.js';
import { MODE_CS64, MODE_LMA, MODE_PE, MODE_NOLIMIT_ALL } from '../../src/cpu/mode.js';

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt;
beforeAll(async () => { wabt = await wabtInit(); });

function disassemble(bytes: Uint8Array): string {
  const features = { tail_call: true, simd: true, saturating_float_to_int: true, sign_extension: true, bulk_memory: true };
  const m = wabt.readWasm(bytes, { readDebugNames: false, ...features });
  try {
    m.validate();
    return m.toText({});
  } finally {
    m.destroy();
  }
}

function decode(bytes: number[], ip = 0x1000n): Insn[] {
  const out: Insn[] = [];
  const dec = new InsnDecoder();
  dec.decodeRun(new Uint8Array(bytes), ip, ip, 64, (d) => { out.push(d); return true; });
  dec.release();
  return out;
}

describe('emitted Wasm (validated by wabt)', () => {
  it('encoder: LEB128 constants round-trip through wabt', () => {
    const m = new ModuleBuilder(null);
    const f = new FnBody(0);
    f.i64(0, 0x80000000 | 0).drop().i64(-1, -1).drop().i64(0x12345678, 0x9abcdef0 | 0).drop().i32(-64).drop().i32(0x7fffffff).drop();
    m.addFunction([], [], f, 'k');
    const text = disassemble(m.emit());
    expect(text).toMatch(/i64\.const -9223372036854775808/);
    expect(text).toMatch(/i64\.const -1\b/);
    expect(text).toMatch(/i64\.const -7296712173568108936/); // 0x9abcdef012345678
    expect(text).toMatch(/i32\.const -64/);
    expect(text).toMatch(/i32\.const 2147483647/);
  });

  it('runtime module validates', () => {
    const text = disassemble(buildRuntimeModule(257, 257));
    expect(text).toMatch(/\(export "rd64"/);
    expect(text).toMatch(/return_call_indirect/);
  });

  it('a block: add with dead flags, then cmp/jne reading them statically', () => {
    const machine = new Machine({ memMiB: 16 });
    // add rax, rbx ; cmp rax, 10 ; jne -> (flags of add are dead: not stored)
    const insns = decode([0x48, 0x01, 0xd8, 0x48, 0x83, 0xf8, 0x0a, 0x75, 0x00]);
    const mode = MODE_PE | MODE_LMA | MODE_CS64 | MODE_NOLIMIT_ALL;
    const hooks = { cpu: machine.cpu, bindHelper: () => 0, undefinedInsn: () => { throw new Error('unexpected'); }, isHelperBased: () => false };
    const wasm = translateBlocks([{ ip: 0x1000n, insns }], mode, hooks, 257, 257);
    const text = disassemble(wasm);
    // exactly one lazy-flags record store (the CMP's), the ADD's was dead
    expect(text.match(/i32\.store offset=144/g)?.length).toBe(1);
    // block modules import no functions: the runtime is reached through the runtime table's slots
    expect(text).not.toMatch(/\(import "[^"]*" "[^"]*" \(func/);
    // the conditional branch compares the CMP operands directly: no flags_get call
    expect(text).not.toMatch(new RegExp(`i32\\.const ${rtSlot('flags_get')}\\s+call_indirect`));
    // and the block ends by tail-calling the runtime's dispatch
    expect(text).toMatch(new RegExp(`i32\\.const ${rtSlot('dispatch')}\\s+return_call_indirect`));

  });

  it('a hot region: one loop with registers in locals, the back edge stays inside', () => {
    const machine = new Machine({ memMiB: 16 });
    // loop: add rax, [rbx] ; add rbx, 8 ; dec rcx ; jnz loop
    const insns = decode([0x48, 0x03, 0x03, 0x48, 0x83, 0xc3, 0x08, 0x48, 0xff, 0xc9, 0x75, 0xf4]);
    const mode = MODE_PE | MODE_LMA | MODE_CS64 | MODE_NOLIMIT_ALL;
    const hooks = { cpu: machine.cpu, bindHelper: () => 0, undefinedInsn: () => { throw new Error('unexpected'); }, isHelperBased: () => false };
    const exits = [{ succ: [[0x1000n, 0]] as [bigint, number][], complete: false, indirect: false }];
    const text = disassemble(translateRegion([{ ip: 0x1000n, insns }], exits, mode, 0, 1, hooks, 257, 257));
    expect(text).toMatch(/\(export "e0"/);
    expect(text).toMatch(/\bloop\b/);
    expect(text).toMatch(/br_table/);
    // RCX and RBX (state offsets 8, 24) are loaded once on entry and live in locals: the loop never
    // loads them from the state block, it stores them only on the ways out
    const entry = text.slice(0, text.indexOf('loop'));
    const body = text.slice(text.indexOf('loop'));
    expect(entry).toMatch(/i64\.load offset=24/);
    expect(body).not.toMatch(/i64\.load offset=(8|24)\b/);
    expect(body).toMatch(/i64\.store offset=24/);
  });

  it('a hot region: an indirect jump finds the region\'s blocks through the loop head\'s br_table on RIP, not the jump cache', () => {
    const machine = new Machine({ memMiB: 16 });
    // 0x1000: add rbx, 1 ; jmp rax        0x1010: add rbx, 2 ; jmp rax
    const a = decode([0x48, 0x83, 0xc3, 0x01, 0xff, 0xe0], 0x1000n);
    const b = decode([0x48, 0x83, 0xc3, 0x02, 0xff, 0xe0], 0x1010n);
    const mode = MODE_PE | MODE_LMA | MODE_CS64 | MODE_NOLIMIT_ALL;
    const hooks = { cpu: machine.cpu, bindHelper: () => 0, undefinedInsn: () => { throw new Error('unexpected'); }, isHelperBased: () => false };
    const exits = [{ succ: [] as [bigint, number][], complete: false, indirect: true }, { succ: [] as [bigint, number][], complete: false, indirect: true }];
    const text = disassemble(translateRegion([{ ip: 0x1000n, insns: a }, { ip: 0x1010n, insns: b }], exits, mode, 0, 1, hooks, 257, 257));
    // one br_table, at the loop head: on the block index, or on RIP's low bits after an indirect jump …
    expect(text.match(/br_table/g)?.length).toBe(1);
    // … whose arms compare RIP with their block's address (0x1000, 0x1010)
    expect(text).toMatch(/i64\.const 4096\b/);
    expect(text).toMatch(/i64\.const 4112\b/);
    // and the jump cache (at 0x100000) is not probed
    expect(text).not.toMatch(/i32\.const 1048576\b/);
  });
});
