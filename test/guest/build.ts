// Builds vmrun's bare-metal test kernels (test/guest/src) with the host's GNU toolchain into
// build/guest/, rebuilding only when a source is newer than the product.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root: the nearest ancestor with package.json (works from test/ and from dist/test/). */
function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the vmrun repository root');
    d = up;
  }
  return d;
}

export const ROOT = findRoot();
export const SRC_DIR = join(ROOT, 'test/guest/src');
export const BUILD_DIR = join(ROOT, 'build/guest');

interface GuestSpec {
  /** Sources under test/guest/src besides the common ones (lib.c, gdt.S and the boot stub). */
  sources: string[];
  /** multiboot: ELF32 with a multiboot v1 header (QEMU -kernel can boot it); elf64: vmrun's plain-ELF64 convention. */
  entry?: 'multiboot' | 'elf64';
  /** The benchmark source that also builds natively for output comparison. */
  native?: string;
}

const CPU = ['cpu/cpulib.c', 'cpu/traps.S'];

export const GUESTS: Record<string, GuestSpec> = {
  crc32: { sources: ['crc32.c', 'bench_main.c'], native: 'crc32.c' },
  sort: { sources: ['sort.c', 'bench_main.c'], native: 'sort.c' },
  interp: { sources: ['interp.c', 'bench_main.c'], native: 'interp.c' },
  sha256: { sources: ['sha256.c', 'bench_main.c'], native: 'sha256.c' },
  hello: { sources: ['hello.c'] },
  'hello-elf64': { sources: ['hello.c'], entry: 'elf64' },
  'cpu-gates': { sources: ['cpu/gates.c', ...CPU] },
  'cpu-modes': { sources: ['cpu/modes.c', 'cpu/modes-asm.S', ...CPU] },
  'cpu-syscall': { sources: ['cpu/syscall.c', 'cpu/syscall-asm.S', ...CPU] },
  'cpu-paging': { sources: ['cpu/paging.c', 'cpu/exceptions-asm.S', ...CPU] },
  'cpu-exceptions': { sources: ['cpu/exceptions.c', 'cpu/exceptions-asm.S', ...CPU] },
};

const CFLAGS = [
  '-m64', '-O2', '-std=gnu11', '-Wall', '-ffreestanding', '-fno-pic', '-fno-pie', '-mno-red-zone', '-fno-stack-protector',
  '-mcmodel=small', '-fno-asynchronous-unwind-tables', '-fcf-protection=none', '-fno-tree-loop-distribute-patterns',
  '-nostdlib', `-I${SRC_DIR}`,
];

/** Null when gcc, ld and objcopy are all there; otherwise a message saying what is missing. */
export async function toolchainMissing(): Promise<string | null> {
  for (const tool of ['gcc', 'ld', 'objcopy']) {
    try {
      await run(tool, ['--version']);
    } catch {
      return `${tool} not found: install Debian's gcc and binutils to build the guest test kernels`;
    }
  }
  return null;
}

function newestSource(): number {
  let t = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else t = Math.max(t, statSync(p).mtimeMs);
    }
  };
  walk(SRC_DIR);
  return t;
}

const fresh = (out: string) => existsSync(out) && statSync(out).mtimeMs >= newestSource();

async function toolRun(cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args, { cwd: SRC_DIR, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} failed: ${err.stderr?.trim() || err.message}`);
  }
}

/** Builds (if needed) the named test kernel and returns the path of its ELF. */
export async function buildGuest(name: string): Promise<string> {
  const spec = GUESTS[name];
  if (!spec) throw new Error(`unknown guest kernel ${name}`);
  const elf64 = spec.entry === 'elf64';
  const out = join(BUILD_DIR, `${name}.elf`);
  if (fresh(out)) return out;
  const missing = await toolchainMissing();
  if (missing) throw new Error(missing);
  const objDir = join(BUILD_DIR, 'obj', name);
  mkdirSync(objDir, { recursive: true });
  const sources = ['lib.c', 'gdt.S', elf64 ? 'boot64.S' : 'boot32.S', ...spec.sources];
  const objs = await Promise.all(sources.map(async (s) => {
    const o = join(objDir, s.replace(/[/.]/g, '_') + '.o');
    await toolRun('gcc', [...CFLAGS, '-c', resolve(SRC_DIR, s), '-o', o]);
    return o;
  }));
  // Unique temporaries, then rename: parallel test workers may build the same kernel.
  const tmp = `${out}.${process.pid}.tmp`;
  const linked = elf64 ? tmp : `${tmp}64`;
  await toolRun('ld', ['-m', 'elf_x86_64', '-nostdlib', '-static', '-z', 'max-page-size=0x1000', '-z', 'noexecstack',
    '-T', join(SRC_DIR, 'link.ld'), '-e', elf64 ? '_start64' : '_start', '-o', linked, ...objs]);
  // QEMU and GRUB want multiboot kernels as ELF32: the 64-bit code inside is unaffected.
  if (!elf64) {
    await toolRun('objcopy', ['-O', 'elf32-i386', linked, tmp]);
    rmSync(linked, { force: true });
  }
  renameSync(tmp, out);
  return out;
}

/** Builds the host version of a benchmark kernel (same C source, stdout instead of COM1). */
export async function buildNative(name: string): Promise<string> {
  const spec = GUESTS[name];
  if (!spec?.native) throw new Error(`guest kernel ${name} has no native build`);
  const out = join(BUILD_DIR, `${name}-native`);
  if (fresh(out)) return out;
  mkdirSync(BUILD_DIR, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await toolRun('gcc', ['-O2', '-DNATIVE', `-I${SRC_DIR}`, join(SRC_DIR, spec.native), join(SRC_DIR, 'native_main.c'), '-o', tmp]);
  renameSync(tmp, out);
  return out;
}
