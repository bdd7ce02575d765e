import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskFormatError } from '../../src/disk/errors.js';
import { FatFs } from '../../src/disk/fs/fat.js';
import { openFileSystem } from '../../src/disk/fs/index.js';
import { MemDevice } from '../../src/disk/fs/mem-device.js';
import { Volume } from '../../src/disk/fs/volume.js';
import { hasTool, Rng, tempDir } from './helpers.js';

const HAS_TOOLS = hasTool('mkfs.vfat', ['--help']) && hasTool('mcopy', ['--version']);
if (!HAS_TOOLS) process.stderr.write('[fat tests] skipping: apt-get install dosfstools mtools\n');

const MiB = 1 << 20;

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

const openFat = (b: Uint8Array) => new FatFs(new Volume(new MemDevice(b), 0, b.length));

/** A FAT image made by mkfs.vfat and filled by mcopy, the way distribution ESPs and syslinux sticks are. */
function makeFat(bits: 12 | 16 | 32, sizeMiB: number, files: Record<string, Uint8Array | string>): Uint8Array {
  const dir = tempDir(`fat${bits}`);
  const img = path.join(dir, 'fat.img');
  sh('mkfs.vfat', ['-C', '-F', String(bits), '-n', `VMRUN${bits}`, ...(bits === 32 ? ['-s', '1'] : []), img, String(sizeMiB * 1024)]);
  const made = new Set<string>();
  for (const [p, data] of Object.entries(files)) {
    const parts = p.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!made.has(d)) {
        sh('mmd', ['-i', img, `::/${d}`]);
        made.add(d);
      }
    }
    const src = path.join(dir, 'src.bin');
    fs.writeFileSync(src, data);
    sh('mcopy', ['-i', img, src, `::/${parts.join('/')}`]);
  }
  return new Uint8Array(fs.readFileSync(img));
}

describe.skipIf(!HAS_TOOLS)('FAT12/16/32 from mkfs.vfat + mcopy', () => {
  const rng = new Rng(9);
  const files: Record<string, Uint8Array | string> = {
    'SYSLINUX.CFG': 'DEFAULT linux\n',
    'vmlinuz-6.1.0-amd64': rng.fill(new Uint8Array(300_000)),
    'EFI/BOOT/A Long Name With Spaces.conf': 'spaces\n',
    'boot/syslinux/syslinux.cfg': 'LABEL x\n',
    'boot/mixedCase.TXT': 'mixed\n',
    'empty.txt': '',
    'exact-cluster.bin': rng.fill(new Uint8Array(4096)),
  };
  for (const [bits, size] of [[12, 2], [16, 20], [32, 40]] as const) {
    it(`FAT${bits}`, () => {
      const b = makeFat(bits, size, files);
      const fat = openFat(b);
      expect(fat.type).toBe(`fat${bits}`);
      expect(fat.label).toBe(`VMRUN${bits}`);
      for (const [p, data] of Object.entries(files)) {
        const want = typeof data === 'string' ? new TextEncoder().encode(data) : data;
        expect(Buffer.compare(fat.readFile(`/${p}`), want), p).toBe(0);
      }
      // Case-insensitive lookup through long and short names alike.
      expect(new TextDecoder().decode(fat.readFile('/syslinux.cfg'))).toBe('DEFAULT linux\n');
      expect(new TextDecoder().decode(fat.readFile('/efi/boot/a long name with spaces.CONF'))).toBe('spaces\n');
      expect(new TextDecoder().decode(fat.readFile('/BOOT/SYSLINUX/SYSLINUX.CFG'))).toBe('LABEL x\n');
      expect(fat.readDir('/').map((e) => e.name).sort()).toEqual(['EFI', 'SYSLINUX.CFG', 'boot', 'empty.txt', 'exact-cluster.bin', 'vmlinuz-6.1.0-amd64']);
      expect(fat.readDir('/boot')).toEqual(expect.arrayContaining([{ name: 'mixedCase.TXT', kind: 'file' }, { name: 'syslinux', kind: 'dir' }]));
      expect(fat.stat('/boot/syslinux/../mixedcase.txt')).toEqual({ kind: 'file', size: 6 });
      expect(fat.stat('/nope')).toBeNull();
      expect(() => fat.readFile('/EFI')).toThrow(expect.objectContaining({ code: 'isdir' }));
      const dev = new MemDevice(b);
      expect(openFileSystem(dev, 0, dev.size)?.type).toBe(`fat${bits}`);
    });
  }

  it('a cluster chain that loops is an error, not a hang', () => {
    const b = makeFat(16, 20, { 'A.BIN': new Uint8Array(8192).fill(1) });
    const fat = openFat(b);
    expect(fat.readFile('/a.bin')).toEqual(new Uint8Array(8192).fill(1));
    // Point every FAT entry at cluster 3: the file's chain and the root never end.
    const reserved = b[14]! | (b[15]! << 8);
    const fatStart = reserved * 512;
    for (let c = 2; c < 40; c++) {
      b[fatStart + c * 2] = 3;
      b[fatStart + c * 2 + 1] = 0;
    }
    expect(() => openFat(b).readFile('/a.bin')).toThrow(/loops/);
  });

  it('mutated boot sectors and FATs fail only with DiskFormatError', () => {
    const base = makeFat(12, 2, { 'SYSLINUX.CFG': 'x', 'dir/file.txt': 'y'.repeat(5000) });
    const rng = new Rng(3);
    for (let i = 0; i < 1500; i++) {
      const b = base.slice();
      for (let k = 1 + rng.int(6); k > 0; k--) b[rng.int(i % 2 ? 64 : 8192)] = rng.next() & 0xff;
      try {
        const fat = openFat(b);
        fat.readDir('/');
        fat.readFile('/dir/file.txt');
      } catch (e) {
        if (!(e instanceof DiskFormatError)) throw e;
      }
    }
  });
});

describe('FAT probing', () => {
  it('does not take zeros or an MBR for a FAT boot sector', () => {
    const dev = new MemDevice(new Uint8Array(MiB));
    expect(openFileSystem(dev, 0, dev.size)).toBeNull();
  });
});
