/**
 * Boot-time benchmark: the conformance boots (bzImage, PVH, VHD with extlinux.conf; each runs the
 * initramfs checks and powers off) under vmrun, and the same kernel/initrd/disk under
 * `qemu-system-x86_64 -accel tcg` when installed, interleaved over rounds. JSON on stdout.
 * Run: npm run images && npx tsc -p . && node dist/bench/boot.js [--rounds N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGES = resolve(process.env.VMRUN_IMAGES ?? '.cache/images');
const APPEND = 'console=ttyS0 cryptomgr.notests=1 panic=-1 vmrun.test=1';
const here = fileURLToPath(new URL('.', import.meta.url));

function qemu(kernel: string): number | null {
  if (spawnSync('qemu-system-x86_64', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  const t0 = performance.now();
  const r = spawnSync('qemu-system-x86_64', ['-accel', 'tcg', '-m', '512', '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', join(IMAGES, kernel), '-initrd', join(IMAGES, 'initramfs.cpio.gz'), '-append', APPEND,
    '-drive', `file=${join(IMAGES, 'debian.vhd')},if=virtio,format=vpc,snapshot=on`], { encoding: 'utf8', timeout: 600_000 });
  const ok = /vmrun-test: read back/.test(r.stdout);
  return ok ? (performance.now() - t0) / 1000 : null;
}

if (!existsSync(join(IMAGES, 'debian.vhd'))) {
  process.stderr.write('bench boot: skipped: run npm run images first\n');
  process.exit(0);
}
// Each round boots the matrix under the default engine, each boot followed at once by QEMU on the
// same kernel (the machine is shared: its speed drifts by 10–20 % within minutes, so a ratio is only
// meaningful between neighbouring runs); the cold engine runs in the first round. Medians are reported.
type Result = { name: string; ok: boolean; seconds: number; toInitSeconds: number | null; instructions: number };
const args = process.argv.slice(2);
const ROUNDS = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 3;
const QEMU_KERNEL: Record<string, string | undefined> = { bzImage: 'vmlinuz', pvh: 'vmlinux' };
let status = 0;
/** One process per boot: a process that already ran a boot carries its compiled code and heap. */
function boot(engine: string, name: string): Result {
  const conf = spawnSync(process.execPath, [join(here, '../test/conformance/run.js')], { stdio: ['ignore', 2, 2], env: { ...process.env, VMRUN_ENGINE: engine, VMRUN_CASES: name } });
  status ||= conf.status ?? 1;
  return (JSON.parse(readFileSync(resolve('build/conformance/results.json'), 'utf8')) as Result[])[0];
}
const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
const rounds: { name: string; engine: string; result: Result; qemuSeconds: number | null }[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const name of ['bzImage', 'pvh', 'disk']) {
    const result = boot('jit', name);
    const k = QEMU_KERNEL[name];
    rounds.push({ name, engine: 'jit', result, qemuSeconds: k ? qemu(k) : null });
    if (round === 0) rounds.push({ name, engine: 'cold', result: boot('cold', name), qemuSeconds: null });
  }
}
const out = ['jit', 'cold'].flatMap((engine) => ['bzImage', 'pvh', 'disk'].map((name) => {
  const rs = rounds.filter((r) => r.name === name && r.engine === engine);
  const q = rounds.filter((r) => r.name === name && r.engine === 'jit' && r.qemuSeconds !== null).map((r) => r.qemuSeconds as number);
  const seconds = median(rs.map((r) => r.result.seconds));
  const qemuSeconds = q.length ? median(q) : null;
  const pairRatios = engine === 'jit' ? rs.filter((r) => r.qemuSeconds).map((r) => r.result.seconds / (r.qemuSeconds as number)) : [];
  return {
    name, engine, ok: rs.every((r) => r.result.ok), runs: rs.length, seconds, toInitSeconds: median(rs.map((r) => r.result.toInitSeconds ?? NaN)),
    instructions: rs[0].result.instructions, qemuSeconds, ratio: qemuSeconds ? seconds / qemuSeconds : null,
    pairRatioMedian: pairRatios.length ? median(pairRatios) : null, allSeconds: rs.map((r) => r.result.seconds), allQemuSeconds: q,
  };
}));
process.stderr.write(`boot      engine  whole run  to /init   QEMU    ratio  (medians of ${ROUNDS} rounds for jit and QEMU; ratio of medians, median of paired ratios)\n`);
for (const r of out) process.stderr.write(`${r.name.padEnd(9)} ${r.engine.padEnd(6)} ${r.seconds.toFixed(1).padStart(9)} ${(r.toInitSeconds ?? NaN).toFixed(1).padStart(9)} ${r.qemuSeconds ? r.qemuSeconds.toFixed(1).padStart(6) : '     -'} ${r.ratio ? r.ratio.toFixed(1).padStart(8) : '       -'} ${r.pairRatioMedian ? r.pairRatioMedian.toFixed(1).padStart(5) : ''}\n`);
process.stdout.write(JSON.stringify({ note: 'seconds: whole run (boot, checks, poweroff), median over rounds; QEMU runs the same kernel, initrd and disk right after each vmrun boot (it cannot boot the VHD by itself)', rounds: ROUNDS, results: out }, null, 2) + '\n');
process.exit(status);
