import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertImage, createImage, openImage } from '../../src/disk/index.js';
import { DIST_READY, HAS_PYVHDI, HAS_QEMU, HAS_VHDIINFO, NO_DIST, PYTHON, ROOT, Rng, run, skipNote, tempDir, vmrun } from './helpers.js';

skipNote('qemu-utils oracle tests', HAS_QEMU);
skipNote('vhdiinfo oracle tests', HAS_VHDIINFO);
skipNote('pyvhdi oracle tests', HAS_PYVHDI);
if (!DIST_READY) process.stderr.write(`[disk tests] skipping CLI oracle tests: ${NO_DIST}\n`);

const dir = tempDir('oracle');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => path.join(dir, `${seq++}-${name}`);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Random writes through vmrun's block device, mirrored into a flat expected image. */
function scribble(file: string, expected: Uint8Array, seed: number, writes: number): void {
  const img = openImage(file);
  const rng = new Rng(seed);
  const sectors = img.device.size / 512;
  for (let i = 0; i < writes; i++) {
    const len = (1 + rng.int(300)) * 512;
    const off = rng.int(sectors - len / 512) * 512;
    const data = rng.fill(new Uint8Array(len));
    img.device.write(data, off);
    expected.set(data, off);
  }
  img.device.flush();
  img.device.close();
}

function sizeOf(file: string): number {
  const img = openImage(file, { readOnly: true });
  const n = img.device.size;
  img.device.close();
  return n;
}

describe.skipIf(!HAS_QEMU || !DIST_READY)('qemu-img/qemu-io write, vmrun reads', () => {
  const cases: Array<[string, string, number]> = [];
  for (const sub of ['dynamic', 'fixed']) for (const size of ['3M', '17M', '64M']) cases.push([sub, size, cases.length + 11]);
  it.each(cases)('%s %s written by qemu-io converts byte-exact', (sub, size, seed) => {
    const img = fresh(`q-${sub}.vhd`);
    expect(run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', `subformat=${sub}`, img, size]).status).toBe(0);
    const rng = new Rng(seed);
    const virt = Number(/virtual size: .*\((\d+) bytes\)/.exec(run('qemu-img', ['info', '-f', 'vpc', img]).stdout)![1]);
    const cmds: string[] = [];
    for (let i = 0; i < 12; i++) {
      const src = fresh('pat.bin');
      const len = (1 + rng.int(1024)) * 512;
      fs.writeFileSync(src, rng.fill(new Uint8Array(len)));
      cmds.push('-c', `write -q -s ${src} ${rng.int(virt / 512 - len / 512) * 512} ${len}`);
    }
    cmds.push('-c', `write -q -P 0x5a ${virt - 4096} 4096`);
    const w = run('qemu-io', ['-f', 'vpc', ...cmds, img]);
    expect(w.status, w.stderr).toBe(0);
    const ref = fresh('ref.raw');
    expect(run('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', img, ref]).status).toBe(0);
    const out = fresh('out.raw');
    const r = vmrun('disk', 'convert', '--format', 'vhd', img, out, '--to', 'raw');
    expect(r.status, r.stderr).toBe(0);
    expect(sha(fs.readFileSync(out))).toBe(sha(fs.readFileSync(ref)));
  });
});

describe.skipIf(!HAS_QEMU)('qemu-img creates and writes, vmrun writes more, both oracles read', () => {
  it.each(['dynamic', 'fixed'] as const)('%s', (sub) => {
    const img = fresh(`qv-${sub}.vhd`);
    expect(run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', `subformat=${sub}`, img, '20M']).status).toBe(0);
    const pat = fresh('pat.bin');
    fs.writeFileSync(pat, new Rng(77).fill(new Uint8Array(3 << 20)));
    expect(run('qemu-io', ['-f', 'vpc', '-c', `write -q -s ${pat} ${1 << 20} ${3 << 20}`, img]).status).toBe(0);
    const ref = fresh('ref.raw');
    expect(run('qemu-img', ['convert', '-f', 'vpc', '-O', 'raw', img, ref]).status).toBe(0);
    const expected = new Uint8Array(fs.readFileSync(ref));
    expect(sizeOf(img)).toBe(expected.length);
    scribble(img, expected, 78, 40);
    const raw = fresh('expected.raw');
    fs.writeFileSync(raw, expected);
    const c = run('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', img, raw]);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    if (HAS_PYVHDI) {
      const r = run(PYTHON, [path.join(ROOT, 'test', 'disk', 'pyvhdi-read.py'), img]);
      expect(r.stdout.trim()).toBe(`${expected.length} ${sha(expected)}`);
    }
    expect(vmrun('disk', 'check', img).status).toBe(0);
  });
});

describe.skipIf(!HAS_QEMU)('vmrun writes, qemu-img compare reads', () => {
  it.each([
    ['dynamic', 5 << 20, 21],
    ['dynamic', 40 << 20, 22],
    ['fixed', 5 << 20, 23],
    ['fixed', 40 << 20, 24],
  ] as const)('%s VHD of %d bytes', (type, size, seed) => {
    const img = fresh(`v-${type}.vhd`);
    createImage(img, { size, type });
    const expected = new Uint8Array(sizeOf(img));
    scribble(img, expected, seed, 40);
    const raw = fresh('expected.raw');
    fs.writeFileSync(raw, expected);
    const c = run('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', img, raw]);
    expect(c.status, c.stdout + c.stderr).toBe(0);
  });

  it.each(['vhd-dynamic', 'vhd-fixed'] as const)('raw converted to %s', (to) => {
    const raw = fresh('src.raw');
    const data = new Uint8Array(24 << 20);
    const rng = new Rng(31);
    for (let i = 0; i < 20; i++) data.set(rng.fill(new Uint8Array(65536 + rng.int(8) * 512)), rng.int(60) * 65536);
    fs.writeFileSync(raw, data);
    const out = fresh(`${to}.vhd`);
    convertImage(raw, out, to);
    const c = run('qemu-img', ['compare', '-f', 'vpc', '-F', 'raw', out, raw]);
    expect(c.status, c.stdout + c.stderr).toBe(0);
    if (to === 'vhd-dynamic') expect(fs.statSync(out).size).toBeLessThan(8 << 20);
  });
});

describe.skipIf(!HAS_VHDIINFO && !HAS_PYVHDI)('libvhdi reads what vmrun writes', () => {
  const kinds = ['fixed', 'dynamic', 'differencing', 'differencing-2'] as const;
  it.each(kinds)('%s', (kind) => {
    const seed = 40 + kinds.indexOf(kind);
    const chain: string[] = [];
    let expected: Uint8Array;
    if (kind === 'fixed' || kind === 'dynamic') {
      const img = fresh(`l-${kind}.vhd`);
      createImage(img, { size: 9 << 20, type: kind });
      expected = new Uint8Array(sizeOf(img));
      scribble(img, expected, seed, 30);
      chain.push(img);
    } else {
      const base = fresh('l-base.vhd');
      createImage(base, { size: 9 << 20 });
      expected = new Uint8Array(sizeOf(base));
      scribble(base, expected, seed, 30);
      chain.unshift(base);
      for (let level = 0; level < (kind === 'differencing' ? 1 : 2); level++) {
        const child = fresh(`l-child${level}.vhd`);
        createImage(child, { parent: chain[0]! });
        scribble(child, expected, seed * 10 + level, 30);
        chain.unshift(child);
      }
    }
    if (HAS_VHDIINFO) {
      const info = run('vhdiinfo', [chain[0]!]);
      expect(info.status, info.stderr).toBe(0);
      expect(info.stdout).toMatch(kind.startsWith('differencing') ? /Disk type\s*:\s*Differential/ : new RegExp(`Disk type\\s*:\\s*${kind}`, 'i'));
      expect(info.stdout).toContain(`(${expected.length} bytes)`);
    }
    if (HAS_PYVHDI) {
      const r = run(PYTHON, [path.join(ROOT, 'test', 'disk', 'pyvhdi-read.py'), ...chain]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`${expected.length} ${sha(expected)}`);
    }
    if (HAS_QEMU && kind.startsWith('differencing')) {
      // QEMU's vpc driver has no differencing support; compare the chain flattened by vmrun.
      const flat = fresh('flat.raw');
      convertImage(chain[0]!, flat, 'raw');
      const raw = fresh('exp.raw');
      fs.writeFileSync(raw, expected);
      expect(run('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', flat, raw]).status).toBe(0);
    }
  });
});
