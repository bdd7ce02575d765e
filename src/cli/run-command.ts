import type { Command } from 'commander';
import { UsageError } from './errors.js';
import { runGuest } from '../machine/run.js';
import type { EngineKind } from '../machine/machine.js';

interface RunOptions {
  kernel?: string;
  append?: string;
  module: string[];
  initrd?: string;
  mem: string;
  timeout?: string;
  expect: string[];
  stats?: boolean;
  engine: string;
  disk: string[];
  snapshot?: boolean;
}

const collect = (v: string, prev: string[]) => [...prev, v];

function parsePositive(name: string, v: string, max: number): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n <= 0 || n > max) throw new UsageError(`${name} must be a number between 1 and ${max}, got '${v}'`);
  return n;
}

/** Options and action of the default command: boot a kernel (disk images come with issue 5). */
export function registerRunCommand(program: Command): void {
  program
    .argument('[image]', 'disk image to boot (VHD or raw): its extlinux/syslinux/grub configuration names the kernel; attached as /dev/vda')
    .option('--kernel <file>', 'kernel to boot: Linux bzImage, PVH vmlinux, multiboot v1/v2 ELF or a.out kludge, or a plain ELF64')
    .option('--initrd <file>', 'initial RAM disk for a Linux kernel (an initramfs cpio archive)')
    .option('--append <cmdline>', 'kernel command line')
    .option('--module <file>', 'multiboot module (repeatable; "file args…" passes a string)', collect, [])
    .option('-m, --mem <MiB>', 'guest RAM in MiB', '128')
    .option('--timeout <sec>', 'stop with exit status 124 after this many seconds of host time')
    .option('--expect <regex>', 'serial output must match, in order (repeatable); exit 0 once all match', collect, [])
    .option('--disk <file>', 'disk image (VHD or raw) attached as virtio-blk: /dev/vda, /dev/vdb, … (repeatable)', collect, [])
    .option('--snapshot', 'write disk changes to a temporary overlay: the images stay untouched')
    .option('--stats', 'print execution statistics to stderr at the end')
    .option('--engine <kind>', "execution engine: 'jit' (cold blocks, hot regions) or 'cold' (cold tier only)", 'jit')
    .action(async (image: string | undefined, o: RunOptions) => {
      if (!o.kernel && !image) throw new UsageError('nothing to boot: give a disk image or --kernel FILE (see vmrun --help)');
      const disks = image ? [image, ...o.disk] : o.disk;
      const memMiB = parsePositive('--mem', o.mem, 3072);
      if (o.engine !== 'jit' && o.engine !== 'cold') throw new UsageError(`--engine: expected 'jit' or 'cold', got '${o.engine}'`);
      const timeoutSec = o.timeout !== undefined ? parsePositive('--timeout', o.timeout, 1e7) : undefined;
      const expect = o.expect.map((e) => {
        try { return new RegExp(e, 'm'); } catch { throw new UsageError(`--expect: invalid regular expression '${e}'`); }
      });
      const out = process.stdout;
      let pending = '';
      const flush = () => { if (pending) { out.write(pending); pending = ''; } };
      const timer = setInterval(flush, 20);
      const stdin = process.stdin;
      let rawTty = false;
      let ctrlA = false;
      let stopMachine: (() => void) | null = null;
      async function* input(): AsyncIterable<Buffer> {
        if (stdin.isTTY) { stdin.setRawMode(true); rawTty = true; }
        for await (const chunk of stdin as AsyncIterable<Buffer>) {
          if (rawTty) {
            // QEMU-style escape: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A
            const outb: number[] = [];
            for (const b of chunk) {
              if (ctrlA) { ctrlA = false; if (b === 0x78) { stopMachine?.(); return; } outb.push(b); continue; }
              if (b === 1) { ctrlA = true; continue; }
              outb.push(b);
            }
            yield Buffer.from(outb);
          } else yield chunk;
        }
      }
      try {
        const res = await runGuest({
          kernel: o.kernel, append: o.append, modules: o.module, initrd: o.initrd, memMiB, timeoutSec, expect, disks, snapshot: o.snapshot, engine: o.engine as EngineKind, warn: (w) => process.stderr.write(`vmrun: ${w}\n`),
          serialOut: (s) => { pending += s; if (pending.length > 65536) flush(); },
          input: stdin.isTTY || !stdin.readableEnded ? input() : null,
          onMachine: (m) => { stopMachine = () => m.stop('timeout'); },
        });
        flush();
        if (res.reason === 'internal-error') process.stderr.write(`vmrun: internal error (please report): ${res.internalError}\n${res.cpuState}\n`);
        if (res.reason === 'triple-fault') process.stderr.write(`vmrun: triple fault (the CPU would reset); state:\n${res.cpuState}\n`);
        if (res.reason === 'timeout' && timeoutSec !== undefined) process.stderr.write(`vmrun: timed out after ${timeoutSec} s\n`);
        if (res.reason === 'halted') process.stderr.write('vmrun: the guest halted with interrupts disabled\n');
        if (res.reason === 'reset') process.stderr.write('vmrun: the guest reset the machine\n');
        if (expect.length && res.exitCode !== 0 && res.reason !== 'exit') process.stderr.write('vmrun: not every --expect matched\n');
        if (o.stats) process.stderr.write(JSON.stringify(res.stats, null, 2) + '\n');
        process.exitCode = res.exitCode;
      } finally {
        clearInterval(timer);
        if (rawTty) stdin.setRawMode(false);
        stdin.pause();
        stdin.unref?.();
      }
      process.exit(process.exitCode ?? 0);
    });
}
