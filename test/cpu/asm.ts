// Assemble x86-64 snippets with GNU as (Debian binutils) for instruction-level tests.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let available: boolean | null = null;
export function haveAs(): boolean {
  if (available === null) {
    try { execFileSync('as', ['--version'], { stdio: 'ignore' }); available = true; } catch { available = false; }
  }
  return available;
}

/** Assemble Intel-syntax 64-bit code (no labels across calls) into raw bytes. */
export function asm(src: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'vmrun-asm-'));
  try {
    writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n.code64\n${src}\n`);
    execFileSync('as', ['--64', '-o', join(dir, 'a.o'), join(dir, 'a.s')]);
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
    return new Uint8Array(readFileSync(join(dir, 'a.bin')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
