/**
 * CPU benchmark: the project's own long-mode guest kernels (test/guest/src: crc32, sort, interp)
 * under vmrun's cold tier and, when Debian's qemu-system-x86 is installed, under QEMU's TCG,
 * A/B interleaved for several rounds. Prints a table to stderr and JSON to stdout.
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
const KERNELS = ['crc32', 'sort', 'interp'];

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

async function main(): Promise<void> {
  const missing = await toolchainMissing();
  if (missing) { process.stderr.write(`bench: cannot build the guest kernels: ${missing}\n`); process.exit(2); }
  const qemu = qemuAvailable();
  const results: Record<string, unknown>[] = [];
  for (const name of KERNELS) {
    const kernel = await buildGuest(name);
    const append = `${name} scale=${SCALE}`;
    const cold: number[] = [], qemuMs: number[] = [], startup: number[] = [];
    let instructions = 0, compileMs = 0, blocks = 0, ok = true;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const res = await runGuest({ kernel, append, timeoutSec: 600 });
      cold.push(performance.now() - t0);
      startup.push(res.stats.wallMs > 0 ? performance.now() - t0 - res.stats.wallMs : 0);
      instructions = res.stats.instructions;
      compileMs = res.stats.compileMs;
      blocks = res.stats.blocksCompiled;
      if (res.exitCode !== 33) ok = false;
      if (qemu) {
        const q = runQemu(kernel, append);
        qemuMs.push(q.ms);
        if (q.serial.trim() !== res.serial.trim()) ok = false;
      }
    }
    const coldMs = median(cold);
    results.push({
      kernel: name, scale: SCALE, instructions, ok,
      cold: { ms: coldMs, mips: instructions / coldMs / 1000, compileUsPerBlock: (compileMs * 1000) / Math.max(1, blocks), blocks },
      qemu: qemu ? { ms: median(qemuMs), mips: instructions / median(qemuMs) / 1000, ratio: coldMs / median(qemuMs) } : null,
    });
  }
  const ratios = results.flatMap((r) => ((r.qemu as { ratio: number } | null) ? [(r.qemu as { ratio: number }).ratio] : []));
  const summary = { rounds: ROUNDS, scale: SCALE, qemu: qemu ? 'qemu-system-x86_64 -accel tcg (process start included)' : 'not installed', geomeanRatioVsQemu: ratios.length ? geomean(ratios) : null, results };
  process.stderr.write('kernel   instructions   cold ms   cold MIPS   QEMU ms   ratio\n');
  for (const r of results as any[]) {
    process.stderr.write(`${r.kernel.padEnd(8)} ${String(r.instructions).padStart(12)} ${r.cold.ms.toFixed(0).padStart(9)} ${r.cold.mips.toFixed(1).padStart(11)} ${r.qemu ? r.qemu.ms.toFixed(0).padStart(9) : '        -'} ${r.qemu ? r.qemu.ratio.toFixed(2).padStart(7) : '      -'}${r.ok ? '' : '  OUTPUT MISMATCH'}\n`);
  }
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

main().catch((e) => { process.stderr.write(`bench: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });
