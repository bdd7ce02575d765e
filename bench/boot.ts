/**
 * Boot-time benchmark: the conformance boots (bzImage, PVH, VHD with extlinux.conf; each runs the
 * initramfs checks and powers off) under vmrun, and the same kernel/initrd/disk under
 * `qemu-system-x86_64 -accel tcg` when installed. JSON on stdout.
 * Run: npm run images && npx tsc -p . && node dist/bench/boot.js
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
// each engine boots the conformance matrix; the runner's summary goes to stderr (stdout: this JSON)
type Result = { name: string; ok: boolean; seconds: number; toInitSeconds: number | null; instructions: number };
const byEngine: Record<string, Result[]> = {};
let status = 0;
for (const engine of ['jit', 'cold']) {
  byEngine[engine] = [];
  // one process per boot: a process that already ran a boot carries its compiled code and heap
  for (const name of ['bzImage', 'pvh', 'disk']) {
    const conf = spawnSync(process.execPath, [join(here, '../test/conformance/run.js')], { stdio: ['ignore', 2, 2], env: { ...process.env, VMRUN_ENGINE: engine, VMRUN_CASES: name } });
    status ||= conf.status ?? 1;
    byEngine[engine].push(...(JSON.parse(readFileSync(resolve('build/conformance/results.json'), 'utf8')) as Result[]));
  }
}
const qemuSeconds: Record<string, number | null> = { bzImage: qemu('vmlinuz'), pvh: qemu('vmlinux'), disk: null };
const out = Object.entries(byEngine).flatMap(([engine, results]) => results.map((r) => ({ engine, ...r, qemuSeconds: qemuSeconds[r.name] ?? null, ratio: qemuSeconds[r.name] ? r.seconds / (qemuSeconds[r.name] as number) : null })));
process.stderr.write('boot      engine  whole run  to /init   QEMU    ratio\n');
for (const r of out) process.stderr.write(`${r.name.padEnd(9)} ${r.engine.padEnd(6)} ${r.seconds.toFixed(1).padStart(9)} ${(r.toInitSeconds ?? NaN).toFixed(1).padStart(9)} ${r.qemuSeconds ? r.qemuSeconds.toFixed(1).padStart(6) : '     -'} ${r.ratio ? r.ratio.toFixed(1).padStart(8) : '       -'}\n`);
process.stdout.write(JSON.stringify({ note: 'seconds: whole run (boot, checks, poweroff); QEMU runs the same kernel, initrd and disk (it cannot boot the VHD by itself)', results: out }, null, 2) + '\n');
process.exit(status);
