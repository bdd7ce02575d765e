// Boots vmrun's own bare-metal test kernels (test/guest/src, docs/guest-tests.md) through the
// emulator and checks their serial output and isa-debug-exit status. The benchmark kernels'
// output must equal the same C code's output when compiled for and run on the host.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PhysMem } from '../../src/mmu/physmem.js';
import { loadKernel } from '../../src/loader/index.js';
import { GUESTS, buildGuest, buildNative, toolchainMissing } from './build.js';

const run = promisify(execFile);

/** isa-debug-exit status of a passing kernel: it writes 0x10 to port 0xF4 → (0x10 << 1) | 1. */
const GUEST_PASS_STATUS = 33;
const GUEST_FAIL_STATUS = 35;

interface RunGuestOptions { kernel: string; append?: string; modules?: string[]; memMiB?: number; timeoutSec?: number }
interface RunGuestResult { exitCode: number; serial: string; stats?: unknown }
type RunGuest = (o: RunGuestOptions) => Promise<RunGuestResult>;

const runTs = fileURLToPath(new URL('../../src/machine/run.ts', import.meta.url));
const runJs = fileURLToPath(new URL('../../src/machine/run.js', import.meta.url));
const haveEmulator = existsSync(runTs) || existsSync(runJs);
const missingTools = await toolchainMissing();

async function emulator(): Promise<RunGuest> {
  // A computed specifier: the module may not exist yet when this file is compiled.
  const spec = '../../src/machine/run.js';
  const mod = (await import(spec)) as { runGuest: RunGuest };
  return mod.runGuest;
}

const BENCHMARKS = Object.keys(GUESTS).filter((n) => GUESTS[n].native);
const CPU_TESTS = Object.keys(GUESTS).filter((n) => n.startsWith('cpu-'));

const describeTools = missingTools ? describe.skip : describe;
if (missingTools) console.warn(`guest tests skipped: ${missingTools}`);

describeTools('guest kernels load through src/loader (real toolchain output)', () => {
  for (const name of Object.keys(GUESTS)) {
    it(name, async () => {
      const path = await buildGuest(name);
      const mem = new PhysMem(64 << 20);
      const st = loadKernel(mem, new Uint8Array(readFileSync(path)), { cmdline: 'scale=1', kernelName: name });
      expect(st.format).toBe(GUESTS[name].entry === 'elf64' ? 'elf64' : 'multiboot1');
      expect(mem.read32(0x100000)).not.toBe(0);
    });
  }
});

const describeRun = !missingTools && haveEmulator ? describe : describe.skip;
if (!haveEmulator) console.warn('guest run tests skipped: src/machine/run.ts (runGuest) does not exist yet');

describeRun('guest kernels run under vmrun', () => {
  for (const name of BENCHMARKS) {
    it(`${name} prints what the same C code prints natively`, async () => {
      const [kernel, native] = await Promise.all([buildGuest(name), buildNative(name)]);
      const scale = '2';
      const { stdout } = await run(native, [scale]);
      const res = await (await emulator())({ kernel, append: `scale=${scale}`, memMiB: 64, timeoutSec: 120 });
      expect(res.serial).toContain(stdout);
      expect(res.exitCode).toBe(GUEST_PASS_STATUS);
    });
  }

  for (const name of ['hello', 'hello-elf64']) {
    it(`${name} sees the command line, modules and memory map`, async () => {
      const kernel = await buildGuest(name);
      const modPath = fileURLToPath(new URL('./src/guest.h', import.meta.url));
      const res = await (await emulator())({ kernel, append: 'a1 b2', modules: [modPath], memMiB: 64, timeoutSec: 30 });
      expect(res.serial).toMatch(/hello: magic=0x2badb002/);
      expect(res.serial).toMatch(/hello: mem_lower=639 mem_upper=64512/);
      expect(res.serial).toMatch(/hello: cmdline=\S+ a1 b2\n/);
      expect(res.serial).toMatch(new RegExp(`hello: module \\S*guest\\.h size=${readFileSync(modPath).length} aligned=yes`));
      expect(res.serial).toContain('hello: mmap 0x9fc00 0x400 2\n');
      expect(res.serial).toContain(`hello: mmap 0x100000 0x${(63 << 20).toString(16)} 1\n`);
      expect(res.exitCode).toBe(GUEST_PASS_STATUS);
    });
  }

  it('a failing kernel exits with the failure status', async () => {
    const res = await (await emulator())({ kernel: await buildGuest('hello'), append: 'fail=1', memMiB: 64, timeoutSec: 30 });
    expect(res.exitCode).toBe(GUEST_FAIL_STATUS);
  });

  for (const name of CPU_TESTS) {
    it(name, async () => {
      const res = await (await emulator())({ kernel: await buildGuest(name), memMiB: 64, timeoutSec: 60 });
      const failures = res.serial.split('\n').filter((l) => l.startsWith('FAIL') || l.startsWith('  '));
      expect(failures, res.serial).toEqual([]);
      expect(res.serial).toMatch(/RESULT PASS/);
      expect(res.exitCode).toBe(GUEST_PASS_STATUS);
    });
  }
});
