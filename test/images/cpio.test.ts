import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, writeCpio, type CpioEntry } from './cpio.js';

const entries: CpioEntry[] = [
  { name: 'bin', mode: S_IFDIR | 0o755 },
  { name: 'bin/busybox', mode: S_IFREG | 0o755, data: new Uint8Array(1001).map((_, i) => i & 0xff) },
  { name: 'bin/sh', mode: S_IFLNK | 0o777, data: 'busybox' },
  { name: 'dev', mode: S_IFDIR | 0o755 },
  { name: 'dev/console', mode: S_IFCHR | 0o600, rdev: { major: 5, minor: 1 } },
  { name: '/init', mode: S_IFREG | 0o755, data: '#!/bin/sh\necho hi\n' },
];

/** An independent reading of the archive, field by field, checking the 4-byte alignment rules. */
function parse(a: Uint8Array) {
  const dec = new TextDecoder();
  const out: { name: string; mode: number; nlink: number; ino: number; rdev: [number, number]; data: Uint8Array }[] = [];
  let o = 0;
  for (;;) {
    expect(o % 4).toBe(0);
    expect(dec.decode(a.subarray(o, o + 6))).toBe('070701');
    const f = (i: number) => parseInt(dec.decode(a.subarray(o + 6 + i * 8, o + 14 + i * 8)), 16);
    const namesize = f(11), filesize = f(6);
    const name = dec.decode(a.subarray(o + 110, o + 110 + namesize - 1));
    expect(a[o + 110 + namesize - 1]).toBe(0);
    const dataAt = (o + 110 + namesize + 3) & ~3;
    if (name === 'TRAILER!!!') { expect(filesize).toBe(0); return { entries: out, end: dataAt }; }
    out.push({ name, mode: f(1), nlink: f(4), ino: f(0), rdev: [f(9), f(10)], data: a.subarray(dataAt, dataAt + filesize) });
    o = (dataAt + filesize + 3) & ~3;
  }
}

describe('cpio newc writer', () => {
  it('writes headers, names, data and the trailer with newc alignment', () => {
    const a = writeCpio(entries);
    const { entries: got, end } = parse(a);
    expect(end).toBe(a.length);
    expect(a.length % 4).toBe(0);
    expect(got.map((e) => e.name)).toEqual(['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'init']);
    expect(got[1].data).toEqual(entries[1].data);
    expect(new TextDecoder().decode(got[2].data)).toBe('busybox');
    expect(got[2].mode).toBe(S_IFLNK | 0o777);
    expect(got[4].rdev).toEqual([5, 1]);
    expect(got[0].nlink).toBe(2);
    expect(got[1].nlink).toBe(1);
    // Distinct inodes: the kernel treats equal inodes of multiply-linked files as hard links.
    expect(new Set(got.map((e) => e.ino)).size).toBe(got.length);
  });

  it('refuses values that do not fit a header field', () => {
    expect(() => writeCpio([{ name: 'x', mode: 2 ** 33 }])).toThrow(RangeError);
  });

  const cpio = spawnSync('cpio', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!cpio)("round-trips through GNU cpio's reader", () => {
    const r = spawnSync('cpio', ['-t', '-v', '--quiet'], { input: writeCpio(entries), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.replace(/^.* 1970 /, ''))).toEqual([
      'bin', 'bin/busybox', 'bin/sh -> busybox', 'dev', 'dev/console', 'init',
    ]);
    expect(lines[1]).toMatch(/^-rwxr-xr-x .* 1001 /);
    expect(lines[4]).toMatch(/^crw------- .* 5,\s+1 /);
  });
});
