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
// the runner's summary goes to stderr: stdout carries only this benchmark's JSON
const conf = spawnSync(process.execPath, [join(here, '../test/conformance/run.js')], { stdio: ['ignore', 2, 2] });
const results = JSON.parse(readFileSync(resolve('build/conformance/results.json'), 'utf8')) as { name: string; ok: boolean; seconds: number; toInitSeconds: number | null; instructions: number }[];
const qemuSeconds: Record<string, number | null> = { bzImage: qemu('vmlinuz'), pvh: qemu('vmlinux'), disk: null };
const out = results.map((r) => ({ ...r, qemuSeconds: qemuSeconds[r.name] ?? null, ratio: qemuSeconds[r.name] ? r.seconds / (qemuSeconds[r.name] as number) : null }));
process.stdout.write(JSON.stringify({ note: 'seconds: whole run (boot, checks, poweroff); QEMU runs the same kernel, initrd and disk (it cannot boot the VHD by itself)', results: out }, null, 2) + '\n');
process.exit(conf.status ?? 1);
