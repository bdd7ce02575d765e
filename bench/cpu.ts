/**
 * CPU benchmark: the project's own long-mode guest kernels (test/guest/src: crc32, sort, interp)
 * under vmrun's cold tier (--engine cold), its hot tier (--engine jit) and, when Debian's
 * qemu-system-x86 is installed, under QEMU's TCG, interleaved for several rounds; plus the start-up
 * time to the first guest instruction. Prints a table to stderr and JSON to stdout.
 * Run: npm run bench   (or: npx tsc -p . && node dist/bench/cpu.js [--rounds N] [--scale N])
 */
import { spawnSync } from 'node:child_process';
import { buildGuest, toolchainMissing } from '../test/guest/build.js';
import { runGuest } from '../src/machine/run.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ROUNDS = opt('--rounds', 3);
const SCALE = opt('--scale', 40);
const KERNELS = ['crc32', 'sort', 'interp', 'sha256'];

function qemuAvailable(): boolean {
  return spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status === 0;
}

function runQemu(kernel: string, append: string): { ms: number; serial: string } {
  const t0 = performance.now();
  const r = spawnSync('qemu-system-x86_64', ['-accel', 'tcg', '-m', '128', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-kernel', kernel, '-append', append], { encoding: 'utf8', timeout: 300_000 });
  return { ms: performance.now() - t0, serial: r.stdout };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** Process start to the first guest instruction, in a fresh `vmrun` process (median of 5). */
function startupMs(kernel: string): number {
  const bin = new URL('../../bin/vmrun.js', import.meta.url).pathname;
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, [bin, '--kernel', kernel, '--stats'], { encoding: 'utf8' });
    const m = /"startupMs": ([\d.]+)/.exec(r.stderr);
    if (m) xs.push(Number(m[1]));
  }
  return xs.length ? median(xs) : NaN;
}

interface TierRun { ms: number; mips: number; compileUsPerBlock: number; blocks: number; regions: number; hotShare: number }

async function main(): Promise<void> {
  const missing = await toolchainMissing();
  if (missing) { process.stderr.write(`bench: cannot build the guest kernels: ${missing}\n`); process.exit(2); }
  const qemu = qemuAvailable();
  const results: Record<string, unknown>[] = [];
  for (const name of KERNELS) {
    const kernel = await buildGuest(name);
    const append = `${name} scale=${SCALE}`;
    const runs: Record<'cold' | 'jit', TierRun[]> = { cold: [], jit: [] };
    const qemuMs: number[] = [];
    let instructions = 0, ok = true, serial = '';
    for (let r = 0; r < ROUNDS; r++) {
      // A/B interleaved: cold tier, hot tier, QEMU
      for (const engine of ['cold', 'jit'] as const) {
        const t0 = performance.now();
        const res = await runGuest({ kernel, append, timeoutSec: 600, engine });
        const ms = performance.now() - t0;
        const s = res.stats;
        instructions = s.instructions;
        runs[engine].push({ ms, mips: s.instructions / ms / 1000, compileUsPerBlock: (s.compileMs * 1000) / Math.max(1, s.blocksCompiled + s.regionBlocks), blocks: s.blocksCompiled, regions: s.regionsCompiled, hotShare: s.hotInstructions / Math.max(1, s.instructions) });
        if (res.exitCode !== 33 || (serial && res.serial !== serial)) ok = false;
        serial = res.serial;
      }
      if (qemu) {
        const q = runQemu(kernel, append);
        qemuMs.push(q.ms);
        if (q.serial.trim() !== serial.trim()) ok = false;
      }
    }
    const summarize = (xs: TierRun[]) => {
      const ms = median(xs.map((x) => x.ms));
      const mid = xs.find((x) => x.ms === ms)!;
      return { ...mid, ms };
    };
    const cold = summarize(runs.cold), jit = summarize(runs.jit);
    const q = qemu ? median(qemuMs) : 0;
    results.push({
      kernel: name, scale: SCALE, instructions, ok,
      cold, jit, hotOverCold: cold.ms / jit.ms,
      qemu: qemu ? { ms: q, mips: instructions / q / 1000, ratioJit: jit.ms / q, ratioCold: cold.ms / q } : null,
    });
  }
  const ratios = results.flatMap((r) => ((r.qemu as { ratioJit: number } | null) ? [(r.qemu as { ratioJit: number }).ratioJit] : []));
  const startup = startupMs(await buildGuest('hello'));
  const summary = {
    rounds: ROUNDS, scale: SCALE,
    qemu: qemu ? 'qemu-system-x86_64 -accel tcg (process start included)' : 'not installed',
    geomeanRatioVsQemu: ratios.length ? geomean(ratios) : null,
    startupMs: startup,
    results,
  };
  process.stderr.write('kernel   instructions   cold ms  cold MIPS    jit ms   jit MIPS  hot/cold   QEMU ms  jit/QEMU\n');
  for (const r of results as any[]) {
    process.stderr.write(`${r.kernel.padEnd(8)} ${String(r.instructions).padStart(12)} ${r.cold.ms.toFixed(0).padStart(9)} ${r.cold.mips.toFixed(0).padStart(10)} ${r.jit.ms.toFixed(0).padStart(9)} ${r.jit.mips.toFixed(0).padStart(10)} ${r.hotOverCold.toFixed(2).padStart(9)} ${r.qemu ? r.qemu.ms.toFixed(0).padStart(9) : '        -'} ${r.qemu ? r.qemu.ratioJit.toFixed(2).padStart(9) : '        -'}${r.ok ? '' : '  OUTPUT MISMATCH'}\n`);
  }
  process.stderr.write(`geomean jit/QEMU: ${summary.geomeanRatioVsQemu?.toFixed(2) ?? '-'}   start-up to first guest instruction: ${startup.toFixed(0)} ms\n`);
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

main().catch((e) => { process.stderr.write(`bench: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });
