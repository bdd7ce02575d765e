import { describe, expect, it } from 'vitest';
import { MemFile } from '../../src/disk/image-file.js';
import { decodeFooter, encodeFooter, DiskType } from '../../src/disk/vhd/footer.js';
import { decodeDynamicHeader, encodeDynamicHeader, PlatformCode } from '../../src/disk/vhd/dynamic-header.js';
import { geometryForSectors, geometrySectors, vhdSizeFor } from '../../src/disk/vhd/geometry.js';
import { writeNewVhd } from '../../src/disk/vhd/create.js';
import { readVhdStructure } from '../../src/disk/vhd/structure.js';
import { DiskFormatError } from '../../src/disk/errors.js';
import { parseSize } from '../../src/disk/size.js';
import { candidatePaths } from '../../src/disk/vhd/parent-locator.js';

describe('VHD structures', () => {
  it('round-trips the footer and rejects a broken checksum', () => {
    const mem = new MemFile();
    const f = writeNewVhd(mem, { type: 'dynamic', size: 10 << 20 });
    const bytes = mem.bytes().slice(0, 512);
    const back = decodeFooter(bytes);
    expect(back.currentSize).toBe(f.currentSize);
    expect(back.diskType).toBe(DiskType.Dynamic);
    expect(back.creatorApp).toBe('vmrn');
    expect(encodeFooter(back)).toEqual(bytes);
    bytes[100] ^= 1;
    expect(() => decodeFooter(bytes)).toThrow(/checksum/);
  });

  it('round-trips the dynamic header with parent locators', () => {
    const h = {
      tableOffset: 1536,
      headerVersion: 0x10000,
      maxTableEntries: 7,
      blockSize: 1 << 21,
      checksum: 0,
      parentUuid: new Uint8Array(16).fill(7),
      parentTimestamp: 1234,
      parentName: 'C:\\images\\base.vhd',
      locators: [{ code: PlatformCode.W2ru, dataSpace: 512, dataLength: 30, dataOffset: 2048 }],
    };
    const back = decodeDynamicHeader(encodeDynamicHeader(h));
    expect(back).toEqual({ ...h, checksum: back.checksum });
  });

  it('computes CHS geometry per the spec and rounds sizes up to it', () => {
    expect(geometryForSectors(131072)).toEqual({ cylinders: 963, heads: 8, sectorsPerTrack: 17 });
    const { size, geometry } = vhdSizeFor(64 << 20);
    expect(size).toBeGreaterThanOrEqual(64 << 20);
    expect(geometrySectors(geometry) * 512).toBe(size);
    for (const mib of [1, 3, 100, 1000, 5000, 40000]) {
      const r = vhdSizeFor(mib << 20);
      expect(geometrySectors(r.geometry) * 512).toBe(r.size);
      expect(r.size - (mib << 20)).toBeLessThan(4 << 20);
    }
    const huge = vhdSizeFor(200 * 2 ** 30);
    expect(huge.size).toBe(200 * 2 ** 30);
    expect(huge.geometry).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
  });

  it('recovers from a damaged end footer using the copy at offset 0', () => {
    const mem = new MemFile();
    writeNewVhd(mem, { type: 'dynamic', size: 4 << 20 });
    const b = mem.bytes();
    b[b.length - 512] = 0;
    const s = readVhdStructure(new MemFile(b));
    expect(s.recoveredFrom).toMatch(/recovered from the copy at offset 0/);
    b[0] = 0;
    expect(() => readVhdStructure(new MemFile(b))).toThrow(DiskFormatError);
  });

  it('parses sizes and maps Windows locators to host paths', () => {
    expect(parseSize('64M')).toBe(64 << 20);
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30);
    expect(parseSize('4096')).toBe(4096);
    expect(() => parseSize('lots')).toThrow(DiskFormatError);
    expect(candidatePaths({ kind: 'relative', platform: 'W2ru', path: '.\\base.vhd' }, '/x/y/child.vhd')).toEqual(['/x/y/base.vhd']);
    expect(candidatePaths({ kind: 'absolute', platform: 'W2ku', path: 'C:\\vms\\base.vhd' }, '/x/child.vhd')).toEqual(['/x/base.vhd']);
  });
});
