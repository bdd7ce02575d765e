import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemFile } from '../../src/disk/image-file.js';
import { writeNewVhd } from '../../src/disk/vhd/create.js';
import { readVhdStructure } from '../../src/disk/vhd/structure.js';
import { SparseVhd } from '../../src/disk/vhd/sparse-disk.js';
import { FixedVhd } from '../../src/disk/vhd/fixed-disk.js';
import type { BlockDevice } from '../../src/disk/block-device.js';
import { createImage, openImage, openSnapshot, checkImage, convertImage } from '../../src/disk/index.js';
import { checkVhdFile } from '../../src/disk/check.js';
import { Rng, tempDir } from './helpers.js';

/** Random sector-aligned writes against a flat model; every read must match the model. */
function exercise(dev: BlockDevice, model: Uint8Array, rng: Rng, ops: number): void {
  const sectors = dev.size / 512;
  for (let i = 0; i < ops; i++) {
    const len = (1 + rng.int(64)) * 512;
    const off = rng.int(sectors - len / 512 + 1) * 512;
    if (rng.int(3) > 0) {
      const data = rng.fill(new Uint8Array(len));
      dev.write(data, off);
      model.set(data, off);
    } else {
      const got = new Uint8Array(len);
      dev.read(got, off);
      expect(Buffer.compare(got, model.subarray(off, off + len))).toBe(0);
    }
  }
  const all = new Uint8Array(dev.size);
  dev.read(all, 0);
  expect(Buffer.compare(all, model)).toBe(0);
}

function memVhd(type: 'dynamic' | 'fixed', size: number, blockSize?: number): { file: MemFile; dev: BlockDevice } {
  const file = new MemFile();
  writeNewVhd(file, { type, size, blockSize });
  const s = readVhdStructure(file);
  return { file, dev: type === 'fixed' ? new FixedVhd(file, s) : new SparseVhd(file, s, null) };
}

describe('block devices', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('dynamic VHD matches a flat model under random I/O, across reopen', () => {
    const { file, dev } = memVhd('dynamic', 3 << 20, 64 * 1024);
    const model = new Uint8Array(dev.size);
    exercise(dev, model, new Rng(1), 400);
    const again = new SparseVhd(file, readVhdStructure(file), null);
    exercise(again, model, new Rng(2), 200);
    expect(checkVhdFile(file).problems).toEqual([]);
  });

  it('fixed VHD matches a flat model', () => {
    const { dev } = memVhd('fixed', 1 << 20);
    exercise(dev, new Uint8Array(dev.size), new Rng(3), 200);
  });

  it('differencing VHD shows the parent where it has not written', () => {
    const { dev: parent } = memVhd('dynamic', 2 << 20, 16 * 1024);
    const model = new Uint8Array(parent.size);
    exercise(parent, model, new Rng(4), 100);
    const cf = new MemFile();
    writeNewVhd(cf, {
      type: 'differencing',
      blockSize: 16 * 1024,
      parent: { footer: { ...fakeFooter(parent.size) }, timestamp: 0, name: 'p.vhd', locators: [] },
    });
    const child = new SparseVhd(cf, readVhdStructure(cf), parent);
    exercise(child, model, new Rng(5), 300);
    expect(checkVhdFile(cf).problems).toEqual([]);
  });

  it('moves the footer byte-for-byte, reserved bytes included, when blocks are added', () => {
    const file = new MemFile();
    writeNewVhd(file, { type: 'dynamic', size: 1 << 20, blockSize: 4096 });
    const b = file.bytes();
    // Another tool's footer may carry data in the reserved area; it must survive unchanged.
    const footer = b.slice(0, 512);
    footer[200] = 0x42;
    let sum = 0;
    footer.forEach((x, i) => (sum += i >= 64 && i < 68 ? 0 : x));
    new DataView(footer.buffer).setUint32(64, ~sum >>> 0);
    file.write(footer, 0);
    file.write(footer, file.size() - 512);
    const dev = new SparseVhd(file, readVhdStructure(file), null);
    dev.write(new Uint8Array(8192).fill(1), 65536);
    const out = file.bytes();
    expect(Buffer.compare(out.subarray(out.length - 512), footer)).toBe(0);
    expect(checkVhdFile(file).problems).toEqual([]);
  });

  it('discard unmaps whole dynamic blocks, which then read as zeros', () => {
    const { dev } = memVhd('dynamic', 1 << 20, 4096);
    dev.write(new Uint8Array(16384).fill(9), 0);
    dev.discard(4096, 8192);
    const got = new Uint8Array(16384);
    dev.read(got, 0);
    expect(got[0]).toBe(9);
    expect(got[4096]).toBe(0);
    expect(got[12288]).toBe(9);
    expect(dev.allocatedRanges()).toEqual([[0, 4096], [12288, 16384]]);
  });

  it('snapshot overlays never touch the base (VHD and raw)', () => {
    const dir = tempDir('snap');
    dirs.push(dir);
    const base = path.join(dir, 'base.vhd');
    createImage(base, { size: 4 << 20 });
    const img = openImage(base);
    img.device.write(new Uint8Array(4096).fill(1), 8192);
    img.device.close();
    const raw = path.join(dir, 'base.img');
    fs.writeFileSync(raw, new Uint8Array(1 << 20).fill(3));
    for (const file of [base, raw]) {
      const before = fs.readFileSync(file);
      const snap = openSnapshot(file);
      const buf = new Uint8Array(4096);
      snap.read(buf, 8192);
      expect(buf[0]).toBe(file === base ? 1 : 3);
      snap.write(new Uint8Array(4096).fill(7), 8192);
      snap.read(buf, 8192);
      expect(buf[0]).toBe(7);
      snap.flush();
      snap.close();
      expect(Buffer.compare(fs.readFileSync(file), before)).toBe(0);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['base.img', 'base.vhd']);
  });

  it('differencing chains resolve by locator, check the parent UUID, and convert', () => {
    const dir = tempDir('chain');
    dirs.push(dir);
    const a = path.join(dir, 'a.vhd');
    const b = path.join(dir, 'sub', 'b.vhd');
    fs.mkdirSync(path.dirname(b));
    createImage(a, { size: 4 << 20 });
    createImage(b, { parent: a });
    const model = new Uint8Array(openImage(a, { readOnly: true }).device.size);
    const ia = openImage(a);
    exercise(ia.device, model, new Rng(6), 50);
    ia.device.close();
    const ib = openImage(b);
    expect(ib.parent?.path).toBe(a);
    exercise(ib.device, model, new Rng(7), 50);
    ib.device.close();
    expect(checkImage(b).problems).toEqual([]);
    const out = path.join(dir, 'flat.img');
    convertImage(b, out, 'raw');
    expect(Buffer.compare(fs.readFileSync(out), model)).toBe(0);
    // Moving the tree keeps working through the relative locator.
    const moved = path.join(dir, 'moved');
    fs.mkdirSync(path.join(moved, 'sub'), { recursive: true });
    fs.renameSync(a, path.join(moved, 'a.vhd'));
    fs.renameSync(b, path.join(moved, 'sub', 'b.vhd'));
    expect(openImage(path.join(moved, 'sub', 'b.vhd'), { readOnly: true }).parent?.path).toBe(path.join(moved, 'a.vhd'));
    // A different parent with the same name is refused.
    fs.rmSync(path.join(moved, 'a.vhd'));
    createImage(path.join(moved, 'a.vhd'), { size: 4 << 20 });
    expect(() => openImage(path.join(moved, 'sub', 'b.vhd'), { readOnly: true })).toThrow(/UUID/);
  });
});

function fakeFooter(size: number) {
  const f = new MemFile();
  writeNewVhd(f, { type: 'fixed', size, exactSize: { size, geometry: { cylinders: 1, heads: 1, sectorsPerTrack: 1 } } });
  return readVhdStructure(f).footer;
}
