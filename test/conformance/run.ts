/**
 * `npm run conformance`: boots Debian's kernel the three ways users do — bzImage (Linux boot
 * protocol), PVH (uncompressed vmlinux) and from a VHD's extlinux.conf — with the test initramfs in
 * `vmrun.test=1` mode: it loads the virtio and ext4 modules, mounts /dev/vda1, writes a file and reads
 * it back, then `poweroff -f` (ACPI S5). Prints a summary and writes JUnit XML to
 * build/conformance/junit.xml. Needs `npm run images` first (skips with a message otherwise).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runGuest, type RunGuestOptions } from '../../src/machine/run.js';
import type { EngineKind } from '../../src/machine/machine.js';

const IMAGES = resolve(process.env.VMRUN_IMAGES ?? '.cache/images');
const OUT = resolve('build/conformance');
const TIMEOUT = Number(process.env.VMRUN_CONFORMANCE_TIMEOUT ?? 900);
const APPEND = 'console=ttyS0 cryptomgr.notests=1 panic=-1 vmrun.test=1';
/** VMRUN_ENGINE=cold|jit picks the execution engine (default: the CLI's, jit). */
const ENGINE = (process.env.VMRUN_ENGINE || undefined) as EngineKind | undefined;
if (ENGINE && ENGINE !== 'cold' && ENGINE !== 'jit') throw new Error(`VMRUN_ENGINE must be cold or jit, not ${ENGINE}`);
/** VMRUN_CASES=pvh,disk runs only those boots (the benchmark starts one process per boot). */
const ONLY = process.env.VMRUN_CASES ? process.env.VMRUN_CASES.split(',') : null;

const EXPECT: RegExp[] = [
  /Linux version 6\.\d+/,
  /vmrun-init: reached \/init/,
  /vmrun-test: uname: Linux \S* 6\.\S+ .*x86_64/,
  /vmrun-test: read back: written by vmrun's conformance test/,
  /vmrun-test: root partition: Debian \S+ root filesystem written by vmrun's image builder/,
  /vmrun-test: done/,
  /reboot: Power down/,
];

interface Case { name: string; opts: RunGuestOptions }

function cases(): Case[] {
  const img = (f: string) => join(IMAGES, f);
  const common = { memMiB: 512, timeoutSec: TIMEOUT, snapshot: true, engine: ENGINE };
  return [
    { name: 'bzImage', opts: { ...common, kernel: img('vmlinuz'), initrd: img('initramfs.cpio.gz'), append: APPEND, disks: [img('debian.vhd')] } },
    { name: 'pvh', opts: { ...common, kernel: img('vmlinux'), initrd: img('initramfs.cpio.gz'), append: APPEND, disks: [img('debian.vhd')] } },
    { name: 'disk', opts: { ...common, append: 'vmrun.test=1', disks: [img('debian.vhd')] } },
  ];
}

const xml = (s: string) => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);

async function main(): Promise<void> {
  const missing = ['vmlinuz', 'vmlinux', 'initramfs.cpio.gz', 'debian.vhd'].filter((f) => !existsSync(join(IMAGES, f)));
  if (missing.length) {
    process.stdout.write(`conformance: skipped: ${missing.join(', ')} missing in ${IMAGES} (run npm run images)\n`);
    return;
  }
  const results: { name: string; ok: boolean; seconds: number; toInitSeconds: number | null; instructions: number; detail: string; log: string }[] = [];
  for (const c of cases().filter((x) => !ONLY || ONLY.includes(x.name))) {
    const t0 = performance.now();
    let toInit: number | null = null;
    let seen = '';
    const res = await runGuest({
      ...c.opts,
      serialOut: (s) => {
        if (toInit === null) { seen += s; if (seen.includes('vmrun-init: reached /init')) toInit = (performance.now() - t0) / 1000; if (seen.length > 4096) seen = seen.slice(-256); }
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    // patterns must appear in order
    let pos = 0;
    const unmet: string[] = [];
    for (const re of EXPECT) {
      const m = re.exec(res.serial.slice(pos));
      if (!m) { unmet.push(re.source); continue; }
      pos += m.index + m[0].length;
    }
    const ok = unmet.length === 0 && res.reason === 'poweroff' && res.exitCode === 0;
    const detail = ok ? 'powered off after every check' : `stop: ${res.reason} (status ${res.exitCode})${unmet.length ? `; unmet: ${unmet.join(' | ')}` : ''}${res.cpuState ? `\n${res.cpuState}` : ''}`;
    results.push({ name: c.name, ok, seconds, toInitSeconds: toInit, instructions: res.stats.instructions, detail, log: res.serial });
    process.stdout.write(`conformance: ${c.name.padEnd(8)} ${ok ? 'PASS' : 'FAIL'}  ${seconds.toFixed(1)} s (to /init ${toInit === null ? '-' : (toInit as number).toFixed(1) + ' s'}, ${(res.stats.instructions / 1e9).toFixed(2)} G instructions)${ok ? '' : `  ${detail}`}\n`);
  }
  mkdirSync(OUT, { recursive: true });
  const failures = results.filter((r) => !r.ok).length;
  const total = results.reduce((a, r) => a + r.seconds, 0);
  const body = results.map((r) => `  <testcase classname="vmrun.conformance" name="${xml(r.name)}" time="${r.seconds.toFixed(3)}">${r.ok ? '' : `\n    <failure message="${xml(r.detail.split('\n')[0])}">${xml(r.detail)}</failure>`}\n    <system-out>${xml(r.log.slice(-20000))}</system-out>\n  </testcase>`).join('\n');
  writeFileSync(join(OUT, 'junit.xml'), `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="vmrun-conformance" tests="${results.length}" failures="${failures}" time="${total.toFixed(3)}">\n${body}\n</testsuite>\n`);
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results.map(({ log: _log, ...r }) => r), null, 2) + '\n');
  process.stdout.write(`conformance: ${results.length - failures} passed, ${failures} failed (JUnit: ${join(OUT, 'junit.xml')})\n`);
  if (failures) process.exitCode = 1;
}

main().catch((e) => { process.stderr.write(`conformance: ${e instanceof Error ? e.message : e}\n`); process.exit(1); });
