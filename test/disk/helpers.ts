import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root, whether running from test/disk (vitest) or dist/test/disk (compiled). */
export const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();

export const VMRUN = path.join(ROOT, 'bin', 'vmrun.js');
export const DIST_MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const DIST_READY = fs.existsSync(DIST_MAIN);
export const NO_DIST = 'dist/ missing: run `npx tsc -p .` first (npm test does)';

export function hasTool(cmd: string, args: string[] = ['--version']): boolean {
  try {
    return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
  } catch {
    return false;
  }
}

/** Debian's system Python, where python3-libvhdi installs pyvhdi. */
export const PYTHON = '/usr/bin/python3';
export const HAS_QEMU = hasTool('qemu-img') && hasTool('qemu-io');
export const HAS_VHDIINFO = hasTool('vhdiinfo', ['-V']);
export const HAS_PYVHDI = fs.existsSync(PYTHON) && hasTool(PYTHON, ['-c', 'import pyvhdi']);

export function skipNote(what: string, available: boolean): void {
  if (!available) process.stderr.write(`[disk tests] skipping ${what}: not installed (apt-get install qemu-utils libvhdi-utils python3-libvhdi)\n`);
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `vmrun-${tag}-`));
}

export function run(cmd: string, args: string[], opts: { input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function vmrun(...args: string[]): { status: number; stdout: string; stderr: string } {
  return run(process.execPath, [VMRUN, ...args]);
}

/** Deterministic bytes, so failures reproduce from the seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  fill(b: Uint8Array): Uint8Array {
    for (let i = 0; i < b.length; i++) b[i] = this.next() & 0xff;
    return b;
  }
}
