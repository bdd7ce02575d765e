import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImage, openImage } from '../../src/disk/index.js';
import { putU32 } from '../../src/disk/vhd/be.js';
import { DIST_READY, NO_DIST, tempDir, vmrun } from './helpers.js';

if (!DIST_READY) process.stderr.write(`[disk tests] skipping CLI tests: ${NO_DIST}\n`);

/** One line on stderr, naming the file, exit status 2, nothing on stdout, no stack trace. */
function expectOneLineFailure(r: { status: number; stdout: string; stderr: string }, file: string): void {
  expect(r.status).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^vmrun: /);
  expect(lines[0]).toContain(path.basename(file));
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe.skipIf(!DIST_READY)('vmrun disk CLI', () => {
  const dir = tempDir('cli');
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = (n: string) => path.join(dir, n);

  it('creates, describes and checks a chain', () => {
    for (const args of [['base.vhd', '--size', '32M'], ['fixed.vhd', '--size', '1M', '--type', 'fixed']]) {
      const r = vmrun('disk', 'create', p(args[0]!), ...args.slice(1));
      expect(r.status, r.stderr).toBe(0);
    }
    const c = vmrun('disk', 'create', p('child.vhd'), '--parent', p('base.vhd'));
    expect(c.status, c.stderr).toBe(0);
    const info = vmrun('disk', 'info', p('child.vhd'), '--json');
    expect(info.status, info.stderr).toBe(0);
    const j = JSON.parse(info.stdout);
    expect(j).toMatchObject({ format: 'vhd', subformat: 'differencing', blockSize: 2 << 20, allocatedBytes: 0 });
    expect(j.parent.path).toBe(p('base.vhd'));
    expect(j.parent.subformat).toBe('dynamic');
    expect(j.virtualSize).toBeGreaterThanOrEqual(32 << 20);
    const text = vmrun('disk', 'info', p('fixed.vhd'));
    expect(text.stdout, text.stderr).toMatch(/format: vhd \(fixed\)/);
    for (const f of ['child.vhd', 'fixed.vhd']) {
      const r = vmrun('disk', 'check', p(f));
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
  });

  it('converts, keeping zero blocks unallocated', () => {
    const src = p('sparse.img');
    const data = new Uint8Array(16 << 20);
    data.fill(0xab, 5 << 20, (5 << 20) + 4096);
    fs.writeFileSync(src, data);
    const r = vmrun('disk', 'convert', src, p('sparse.vhd'), '--to', 'vhd-dynamic');
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(vmrun('disk', 'info', p('sparse.vhd'), '--json').stdout);
    expect(j.allocatedBytes).toBe(2 << 20);
    expect(vmrun('disk', 'convert', p('sparse.vhd'), p('back.img'), '--to', 'raw').status).toBe(0);
    expect(Buffer.compare(fs.readFileSync(p('back.img')).subarray(0, data.length), data)).toBe(0);
    expectOneLineFailure(vmrun('disk', 'convert', src, p('back.img'), '--to', 'raw'), 'sparse.img');
  });

  it('gives commander usage errors exit status 2 and help exit 0', () => {
    expect(vmrun('disk', 'frobnicate').status).toBe(2);
    expect(vmrun('disk').status).toBe(2);
    expect(vmrun('disk', 'help', 'convert').status).toBe(0);
    expect(vmrun('disk', 'create').status).toBe(2);
    expect(vmrun('disk', 'create', p('x.vhd'), '--size', '1M', '--type', 'sparse').status).toBe(2);
    expect(vmrun('disk', 'info', p('base.vhd'), '--bogus').status).toBe(2);
    expect(vmrun('disk', 'convert', p('base.vhd'), p('y.img')).status).toBe(2);
    expect(vmrun('disk', 'create', p('x.vhd')).status).toBe(2);
    expect(vmrun('disk', 'create', p('x.vhd'), '--size', 'huge').status).toBe(2);
    expect(vmrun('disk', '--help').status).toBe(0);
    expect(vmrun('disk', 'convert', '--help').status).toBe(0);
    expect(fs.existsSync(p('x.vhd'))).toBe(false);
  });

  it('rejects truncated, random and checksum-broken files with one line and no output file', () => {
    const good = p('good.vhd');
    createImage(good, { size: 8 << 20 });
    const img = openImage(good);
    img.device.write(new Uint8Array(1 << 20).fill(1), 3 << 20);
    img.device.close();
    const bytes = fs.readFileSync(good);
    const bad: Record<string, Uint8Array> = {
      'truncated.vhd': bytes.subarray(0, bytes.length - 300_000),
      'tiny.vhd': bytes.subarray(0, 100),
      'random.vhd': new Uint8Array(200_000).map((_, i) => (i * 2654435761) >>> 24),
      'checksum.vhd': (() => {
        const b = Uint8Array.from(bytes);
        b[70] ^= 0xff;
        b[b.length - 512 + 70] ^= 0xff;
        return b;
      })(),
      'empty.vhd': new Uint8Array(0),
    };
    for (const [name, content] of Object.entries(bad)) {
      fs.writeFileSync(p(name), content);
      expectOneLineFailure(vmrun('disk', 'info', p(name)), name);
      expectOneLineFailure(vmrun('disk', 'check', p(name)), name);
      const before = fs.readdirSync(dir).sort();
      expectOneLineFailure(vmrun('disk', 'convert', p(name), p(`${name}.out`), '--to', 'raw'), name);
      expect(fs.readdirSync(dir).sort()).toEqual(before);
    }
    expectOneLineFailure(vmrun('disk', 'info', p('missing.vhd')), 'missing.vhd');
  });

  it('check reports inconsistencies with exit 1', () => {
    const f = p('overlap.vhd');
    createImage(f, { size: 8 << 20 });
    const img = openImage(f);
    img.device.write(new Uint8Array(4096).fill(1), 0);
    img.device.close();
    const b = fs.readFileSync(f);
    const entry0 = b.readUInt32BE(1536);
    putU32(b, 1540, entry0);
    fs.writeFileSync(f, b);
    const r = vmrun('disk', 'check', f);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/overlaps/);

    const g = p('lostfooter.vhd');
    createImage(g, { size: 8 << 20 });
    const gb = fs.readFileSync(g);
    gb.fill(0, gb.length - 512);
    fs.writeFileSync(g, gb);
    const c = vmrun('disk', 'check', g);
    expect(c.status).toBe(1);
    expect(c.stdout).toMatch(/recovered from the copy at offset 0/);
    const i = vmrun('disk', 'info', g);
    expect(i.status).toBe(0);
    expect(i.stderr).toMatch(/warning: .*recovered from the copy/);
    // A writable open repairs the end footer.
    openImage(g).device.close();
    expect(vmrun('disk', 'check', g).status).toBe(0);
  });
});
