import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DiskFormatError } from '../../src/disk/errors.js';
import { ExtFs } from '../../src/disk/fs/ext.js';
import { FsError } from '../../src/disk/fs/errors.js';
import { MemDevice } from '../../src/disk/fs/mem-device.js';
import { Volume } from '../../src/disk/fs/volume.js';
import { buildExt2 } from '../../src/disk/build/ext2.js';
import { hasTool, Rng, tempDir } from './helpers.js';

const HAS_MKE2FS = hasTool('mke2fs', ['-V']) && hasTool('debugfs', ['-V']) && hasTool('e2fsck', ['-V']);
if (!HAS_MKE2FS) process.stderr.write('[ext tests] skipping mke2fs-built images: apt-get install e2fsprogs\n');

const MiB = 1 << 20;

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !(cmd === 'e2fsck' && r.status! <= 2)) throw new Error(`${cmd} ${args.join(' ')} (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function openExt(bytes: Uint8Array, maxFileSize?: number): ExtFs {
  const d = new MemDevice(bytes);
  return new ExtFs(new Volume(d, 0, d.size), { maxFileSize });
}

const LONG = `${'a-long-file-name-'.repeat(4)}target.txt`;

/** A host tree covering what a reader can get wrong: sizes around block edges, indirect levels, holes, links. */
function makeTree(): { dir: string; files: string[] } {
  const dir = path.join(tempDir('ext-src'), 'root');
  const rng = new Rng(42);
  const w = (p: string, data: Uint8Array | string) => {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), data);
  };
  w('small.txt', 'hello\n');
  w('empty', '');
  w('edge-1023', rng.fill(new Uint8Array(1023)));
  w('edge-4096', rng.fill(new Uint8Array(4096)));
  w('dir/sub/deep.bin', rng.fill(new Uint8Array(100_000)));
  w('big.bin', rng.fill(new Uint8Array(3 * MiB + 17)));
  w(`dir/sub/${LONG}`, 'slow symlink target\n');
  // 70 MiB sparse: with 1 KiB blocks the tail sits behind the triple-indirect block.
  const sp = path.join(dir, 'sparse.bin');
  const fd = fs.openSync(sp, 'w');
  fs.writeSync(fd, 'HEAD', 0);
  fs.writeSync(fd, rng.fill(new Uint8Array(5000)), 0, 5000, 40 * MiB);
  fs.writeSync(fd, 'TAIL', 70 * MiB - 4);
  fs.closeSync(fd);
  // Eight islands of data: more extents than fit in the inode, so ext4 needs an index node.
  const fr = fs.openSync(path.join(dir, 'frag.bin'), 'w');
  for (let i = 0; i < 8; i++) fs.writeSync(fr, rng.fill(new Uint8Array(4096)), 0, 4096, i * 65536);
  fs.closeSync(fr);
  fs.mkdirSync(path.join(dir, 'many'));
  for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(dir, 'many', `file-${String(i).padStart(4, '0')}`), `#${i}`);
  fs.symlinkSync('dir/sub/deep.bin', path.join(dir, 'link-rel'));
  fs.symlinkSync('../small.txt', path.join(dir, 'dir', 'link-up'));
  fs.symlinkSync('/dir/sub', path.join(dir, 'link-abs'));
  fs.symlinkSync(`sub/${LONG}`, path.join(dir, 'dir', 'slow-link'));
  fs.symlinkSync('loop2', path.join(dir, 'loop1'));
  fs.symlinkSync('loop1', path.join(dir, 'loop2'));
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) files.push(`/${r}`);
    }
  };
  walk('');
  return { dir, files };
}

const VARIANTS: Array<[string, string[]]> = [
  ['ext2, 1 KiB blocks (block maps up to triple indirect)', ['-t', 'ext2', '-b', '1024']],
  ['ext3, 1 KiB blocks', ['-t', 'ext3', '-b', '1024']],
  ['ext4 defaults (extents, 64bit, flex_bg, metadata_csum)', ['-t', 'ext4']],
  ['ext4, 1 KiB blocks', ['-t', 'ext4', '-b', '1024']],
  ['ext4 with inline_data', ['-t', 'ext4', '-O', 'inline_data']],
  ['ext4 with meta_bg', ['-t', 'ext4', '-O', 'meta_bg,^resize_inode']],
];

describe.skipIf(!HAS_MKE2FS)('ext2/3/4 images from mke2fs -d', () => {
  let tree: { dir: string; files: string[] };
  beforeAll(() => {
    tree = makeTree();
  });

  for (const [title, args] of VARIANTS) {
    it(title, () => {
      const img = path.join(tempDir('ext'), 'fs.img');
      sh('mke2fs', ['-q', '-F', ...args, '-L', 'vmrun-test', '-d', tree.dir, img, '80M']);
      sh('e2fsck', ['-fyD', img]); // -D rebuilds directories as htree: /many must still read linearly
      const ext = openExt(new Uint8Array(fs.readFileSync(img)));
      expect(ext.type).toBe(args[1]);
      expect(ext.label).toBe('vmrun-test');
      if (title.includes('meta_bg')) expect(sh('dumpe2fs', ['-h', img])).toMatch(/meta_bg/);
      expect(sh('debugfs', ['-R', 'stat /many', img])).toMatch(/Flags: 0x[0-9a-f]*1[0-9a-f]{3}\b/);
      for (const f of tree.files) {
        const want = fs.readFileSync(path.join(tree.dir, f));
        expect(Buffer.compare(ext.readFile(f), want), f).toBe(0);
      }
      expect(ext.readDir('/many').map((e) => e.name).sort()).toEqual(fs.readdirSync(path.join(tree.dir, 'many')).sort());
      expect(ext.readDir('/').map((e) => e.name).sort()).toEqual([...fs.readdirSync(tree.dir), 'lost+found'].sort());
      expect(ext.readDir('/dir').find((e) => e.name === 'link-up')?.kind).toBe('symlink');
      expect(new TextDecoder().decode(ext.readFile('/dir/link-up'))).toBe('hello\n');
      expect(ext.readFile('/link-rel')).toEqual(ext.readFile('/dir/sub/deep.bin'));
      expect(ext.readFile('/link-abs/deep.bin')).toEqual(ext.readFile('/dir/sub/deep.bin'));
      // '..' after a symlink leaves the target's parent, as in Linux: /dir/sub/.. is /dir.
      expect(ext.readFile('/link-abs/../link-up')).toEqual(ext.readFile('/small.txt'));
      expect(ext.readlinkPath('/dir/slow-link')).toBe(`sub/${LONG}`);
      expect(new TextDecoder().decode(ext.readFile('/dir/slow-link'))).toBe('slow symlink target\n');
      expect(ext.stat('/sparse.bin')).toEqual({ kind: 'file', size: 70 * MiB });
      expect(ext.stat('/nope')).toBeNull();
      expect(ext.stat('/small.txt/x')).toBeNull();
      expect(() => ext.readFile('/loop1')).toThrow(expect.objectContaining({ code: 'loop' }));
      expect(() => ext.readFile('/dir')).toThrow(expect.objectContaining({ code: 'isdir' }));
      expect(() => ext.readFile('/dir/missing')).toThrow(expect.objectContaining({ code: 'notfound' }));
    });
  }

  it('reads uninitialised extents as zeros', () => {
    const dir = tempDir('ext-uninit');
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'prealloc'), new Uint8Array(16384).fill(0x41));
    const img = path.join(dir, 'fs.img');
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', path.join(dir, 'src'), img, '8M']);
    const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(sh('debugfs', ['-R', 'imap /prealloc', img]))!;
    const bytes = new Uint8Array(fs.readFileSync(img));
    const at = Number(m[1]) * 4096 + parseInt(m[2]!, 16) + 40 + 12 + 4; // i_block, past the extent header: ee_len
    expect(bytes[at]! | (bytes[at + 1]! << 8)).toBe(4);
    expect(openExt(bytes).readFile('/prealloc')).toEqual(new Uint8Array(16384).fill(0x41));
    bytes[at + 1]! |= 0x80;
    expect(openExt(bytes).readFile('/prealloc')).toEqual(new Uint8Array(16384));
  });

  it('refuses unknown incompatible features by name', () => {
    const img = path.join(tempDir('ext-feat'), 'fs.img');
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', img, '4M']);
    const bytes = new Uint8Array(fs.readFileSync(img));
    bytes[1024 + 96] |= 0x01; // compression
    expect(() => openExt(bytes)).toThrow(/incompatible features vmrun cannot read: compression/);
  });
});

describe('the ext2 writer', () => {
  const rng = new Rng(7);
  const big = rng.fill(new Uint8Array(2 * MiB + 333));
  const files = [
    { path: '/boot/vmlinuz', data: big },
    { path: '/boot/extlinux/extlinux.conf', data: 'DEFAULT a\n' },
    { path: '/etc/hostname', data: 'vm\n', mode: 0o600 },
    { path: '/vmlinuz', symlink: 'boot/vmlinuz' },
    { path: `/${'l'.repeat(70)}`, symlink: '/etc/hostname' },
    { path: '/var/empty', dir: true },
    ...Array.from({ length: 300 }, (_, i) => ({ path: `/many/f${i}`, data: `${i}` })),
  ];

  for (const [size, bs] of [[8 * MiB, 1024], [40 * MiB, 1024], [300 * MiB, 4096]] as const) {
    it(`${size / MiB} MiB with ${bs}-byte blocks reads back${HAS_MKE2FS ? ' and passes e2fsck' : ''}`, () => {
      const img = buildExt2(files, size, { blockSize: bs, label: 'w', time: 1_700_000_000 });
      const bytes = new Uint8Array(img.blocksCount * bs);
      for (const [b, d] of img.blocks) bytes.set(d, b * bs);
      const ext = openExt(bytes);
      expect(ext.type).toBe('ext2');
      expect(Buffer.compare(ext.readFile('/vmlinuz'), big)).toBe(0);
      expect(new TextDecoder().decode(ext.readFile(`/${'l'.repeat(70)}`))).toBe('vm\n');
      expect(ext.readDir('/many')).toHaveLength(300);
      expect(ext.readDir('/var')).toEqual([{ name: 'empty', kind: 'dir' }]);
      if (HAS_MKE2FS) {
        const f = path.join(tempDir('ext-w'), 'fs.img');
        fs.writeFileSync(f, bytes);
        const r = spawnSync('e2fsck', ['-fn', f], { encoding: 'utf8' });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(spawnSync('debugfs', ['-R', 'cat /boot/vmlinuz', f], { maxBuffer: 64 * MiB }).stdout.equals(Buffer.from(big))).toBe(true);
      }
    });
  }
});

describe('corrupt ext images', () => {
  /** Anything but a clear disk-format error (or a hang, caught by the test timeout) is a bug. */
  function poke(bytes: Uint8Array, paths: string[]): string {
    try {
      const ext = openExt(bytes, 4 * MiB);
      ext.readDir('/');
      for (const p of paths) {
        try {
          ext.readFile(p);
        } catch (e) {
          if (!(e instanceof DiskFormatError)) throw e;
        }
      }
      return 'ok';
    } catch (e) {
      if (e instanceof DiskFormatError) return e.name;
      throw e;
    }
  }

  const images: Array<[string, () => Uint8Array]> = [
    ['writer ext2', () => {
      const img = buildExt2([{ path: '/a/b', data: new Uint8Array(300_000).fill(7) }, { path: '/c', symlink: 'a/b' }, { path: '/d', data: 'x' }], 2 * MiB, { blockSize: 1024 });
      const b = new Uint8Array(img.blocksCount * 1024);
      for (const [n, d] of img.blocks) b.set(d, n * 1024);
      return b;
    }],
  ];
  if (HAS_MKE2FS) {
    images.push(['mke2fs ext4', () => {
      const dir = tempDir('ext-fz');
      fs.mkdirSync(path.join(dir, 'src', 'a'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'src', 'a', 'b'), new Uint8Array(300_000).fill(7));
      fs.writeFileSync(path.join(dir, 'src', 'd'), 'x');
      fs.symlinkSync('a/b', path.join(dir, 'src', 'c'));
      const f = path.join(dir, 'fs.img');
      sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '1024', '-N', '64', '-d', path.join(dir, 'src'), f, '2M']);
      return new Uint8Array(fs.readFileSync(f));
    }]);
  }

  for (const [name, make] of images) {
    it(`${name}: 1500 mutated images only ever fail with DiskFormatError`, () => {
      const base = make();
      expect(poke(base.slice(), ['/a/b', '/c', '/d'])).toBe('ok');
      const rng = new Rng(0xe4f5);
      const outcomes = new Map<string, number>();
      const t0 = Date.now();
      for (let i = 0; i < 1500; i++) {
        const b = base.slice();
        // Superblock, group descriptors, then the start of the inode table and the first data blocks.
        const region = [[1024, 2048], [2048, 3072], [3072, 64 * 1024]][rng.int(3)]!;
        for (let k = 1 + rng.int(8); k > 0; k--) {
          const at = region[0]! + rng.int(region[1]! - region[0]!);
          b[at] = rng.int(4) === 0 ? 0xff : rng.next() & 0xff;
        }
        const r = poke(b, ['/a/b', '/c', '/d', '/a']);
        outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
      }
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
    });
  }

  it('a directory whose entries have rec_len 0 ends instead of spinning', () => {
    const img = buildExt2([{ path: '/x', data: 'y' }], 2 * MiB, { blockSize: 1024 });
    const b = new Uint8Array(img.blocksCount * 1024);
    for (const [n, d] of img.blocks) b.set(d, n * 1024);
    const ext = openExt(b);
    // Find the root directory block by its '.' entry (inode 2, rec_len 12, name '.').
    for (let o = 0; o < b.length; o += 1024) {
      if (b[o] === 2 && b[o + 4] === 12 && b[o + 6] === 1 && b[o + 8] === 0x2e) {
        b[o + 16] = 0; // '..' rec_len
        b[o + 17] = 0;
      }
    }
    expect(openExt(b).readDir('/')).toEqual([]);
    expect(() => openExt(b).readFile('/x')).toThrow(FsError);
    void ext;
  });
});
