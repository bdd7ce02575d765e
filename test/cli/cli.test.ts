import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildGuest, toolchainMissing } from '../guest/build.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = `${root}bin/vmrun.js`;
const built = existsSync(`${root}dist/src/cli/main.js`);

function vmrun(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', input: '', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!built)('vmrun CLI (needs dist/: npm test builds it first)', () => {
  let hello = '';
  beforeAll(async () => {
    if (!(await toolchainMissing())) hello = await buildGuest('hello');
  });

  it('bad input: one line naming the problem, status 2, no stack trace', () => {
    for (const args of [['--kernel', '/etc/passwd'], ['--kernel', '/no/such/file'], ['--bogus'], ['--kernel', 'x', '-m', 'lots'], []]) {
      const r = vmrun(...args);
      expect(r.status, args.join(' ')).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines.length, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    }
    expect(vmrun('--kernel', '/etc/passwd').stderr).toMatch(/\/etc\/passwd/);
  });

  it('boots a kernel: serial on stdout, isa-debug-exit status', () => {
    if (!hello) return;
    const r = vmrun('--kernel', hello, '--append', 'one two');
    expect(r.stdout).toMatch(/cmdline=.*hello\.elf one two/);
    expect(r.status).toBe(33);
  });

  it('--expect: status 0 once every pattern matched in order', () => {
    if (!hello) return;
    expect(vmrun('--kernel', hello, '--expect', 'mem_lower=\\d+', '--expect', 'mmap 0x100000').status).toBe(0);
    // out of order: the kernel exits before the second pattern can match
    expect(vmrun('--kernel', hello, '--expect', 'mmap 0x100000', '--expect', 'mem_lower').status).toBe(33);
  });

  it('--stats prints JSON statistics', () => {
    if (!hello) return;
    const r = vmrun('--kernel', hello, '--stats');
    const stats = JSON.parse(r.stderr.slice(r.stderr.indexOf('{')));
    expect(stats.instructions).toBeGreaterThan(1000);
    expect(stats.undefinedInstructions).toEqual({});
  });
});
