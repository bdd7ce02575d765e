/**
 * A minimal ext2 writer: enough to lay out a boot partition (kernel, initrd, extlinux.conf)
 * and a small root without mke2fs. Revision 1, 256-byte inodes, filetype and sparse_super,
 * classic block maps with indirect blocks; no journal, no htree, no extents, so every ext2,
 * ext3 and ext4 reader (Linux, GRUB, SYSLINUX, e2fsck) accepts it.
 */
import { randomBytes } from 'node:crypto';

export interface FsFile {
  /** Absolute path; missing parent directories are created. */
  path: string;
  /** Regular file contents (a string is UTF-8). */
  data?: Uint8Array | string;
  /** Makes a symbolic link to this target. */
  symlink?: string;
  /** Makes an (empty) directory. */
  dir?: boolean;
  /** Permission bits; default 0644 for files, 0755 for directories, 0777 for symlinks. */
  mode?: number;
}

export interface Ext2Options {
  label?: string;
  /** 4096 unless the filesystem is under 32 MiB, where 1024 wastes less. */
  blockSize?: 1024 | 2048 | 4096;
  /** Seconds since the epoch for every timestamp; fixing it makes the output reproducible. */
  time?: number;
  uuid?: Uint8Array;
}

/** The filesystem as its non-zero blocks: whatever is absent reads as zeros. */
export interface Ext2Image {
  blockSize: number;
  blocksCount: number;
  blocks: Map<number, Uint8Array>;
}

const INODE_SIZE = 256;
const FIRST_INO = 11;
const ROOT_INO = 2;

interface Node {
  name: string;
  ino: number;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  data: Uint8Array;
  children: Node[];
  parent: Node | null;
}

const enc = new TextEncoder();

function hasSuper(g: number): boolean {
  if (g <= 1) return true;
  for (const p of [3, 5, 7]) {
    let x = p;
    while (x < g) x *= p;
    if (x === g) return true;
  }
  return false;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}
function put32(b: Uint8Array, o: number, v: number): void {
  put16(b, o, v & 0xffff);
  put16(b, o + 2, (v >>> 16) & 0xffff);
}

/** Lays out FILES in an ext2 filesystem of SIZE bytes (rounded down to whole blocks). */
export function buildExt2(files: FsFile[], size: number, opts: Ext2Options = {}): Ext2Image {
  const bs = opts.blockSize ?? (size < 32 << 20 ? 1024 : 4096);
  const time = opts.time ?? Math.floor(Date.now() / 1000);
  const firstData = bs === 1024 ? 1 : 0;
  const bpg = 8 * bs;
  let blocksCount = Math.floor(size / bs);
  if (blocksCount < 64) throw new RangeError(`ext2: ${size} bytes is too small for a filesystem`);

  // The tree, with inode numbers in creation order after the reserved ones.
  let nextIno = FIRST_INO;
  const mk = (name: string, kind: Node['kind'], parent: Node | null, mode: number, data: Uint8Array = new Uint8Array(0)): Node => ({
    name, ino: 0, kind, mode, data, children: [], parent,
  });
  const root = mk('', 'dir', null, 0o755);
  root.ino = ROOT_INO;
  root.parent = root;
  const lostFound = mk('lost+found', 'dir', root, 0o700);
  lostFound.ino = nextIno++;
  root.children.push(lostFound);
  const lookupDir = (path: string): Node => {
    let cur = root;
    for (const part of path.split('/').filter(Boolean)) {
      let next = cur.children.find((c) => c.name === part);
      if (!next) {
        next = mk(part, 'dir', cur, 0o755);
        next.ino = nextIno++;
        cur.children.push(next);
      }
      if (next.kind !== 'dir') throw new RangeError(`ext2: ${path}: a parent is not a directory`);
      cur = next;
    }
    return cur;
  };
  for (const f of files) {
    const parts = f.path.split('/').filter(Boolean);
    const name = parts.pop();
    if (!name) throw new RangeError(`ext2: bad path '${f.path}'`);
    if (enc.encode(name).length > 255) throw new RangeError(`ext2: name too long in '${f.path}'`);
    const dir = lookupDir(parts.join('/'));
    if (dir.children.some((c) => c.name === name)) {
      if (f.dir && dir.children.find((c) => c.name === name)!.kind === 'dir') continue;
      throw new RangeError(`ext2: '${f.path}' given twice`);
    }
    let n: Node;
    if (f.dir) n = mk(name, 'dir', dir, f.mode ?? 0o755);
    else if (f.symlink !== undefined) n = mk(name, 'symlink', dir, f.mode ?? 0o777, enc.encode(f.symlink));
    else n = mk(name, 'file', dir, f.mode ?? 0o644, typeof f.data === 'string' ? enc.encode(f.data) : (f.data ?? new Uint8Array(0)));
    n.ino = nextIno++;
    dir.children.push(n);
  }
  const all: Node[] = [];
  const walk = (n: Node): void => {
    all.push(n);
    for (const c of n.children) walk(c);
  };
  walk(root);

  // Geometry. A last group too small for its own metadata is dropped, as mke2fs does.
  let groups = Math.ceil((blocksCount - firstData) / bpg);
  const inodesWanted = Math.max(nextIno + 16, Math.ceil((blocksCount * bs) / 16384));
  // Whole inode-table blocks and whole bitmap bytes: e2fsprogs reads ipg/8 bytes of bitmap.
  const unit = Math.max(8, bs / INODE_SIZE);
  const ipgFor = (g: number) => Math.min(bpg, Math.ceil(Math.ceil(inodesWanted / g) / unit) * unit);
  let ipg = ipgFor(groups);
  const overhead = (g: number, gcount: number) => (hasSuper(g) ? 1 + Math.ceil((gcount * 32) / bs) : 0) + 2 + (ipg * INODE_SIZE) / bs;
  const lastSize = blocksCount - firstData - (groups - 1) * bpg;
  if (groups > 1 && lastSize < overhead(groups - 1, groups) + 16) {
    groups--;
    blocksCount = firstData + groups * bpg;
    ipg = ipgFor(groups);
  }
  if (groups * ipg < nextIno) throw new RangeError('ext2: too many files for this size');
  const gdtBlocks = Math.ceil((groups * 32) / bs);
  const itBlocks = (ipg * INODE_SIZE) / bs;

  const used = new Uint8Array(blocksCount);
  for (let b = 0; b < firstData; b++) used[b] = 1;
  const layout: Array<{ start: number; end: number; bbitmap: number; ibitmap: number; itable: number }> = [];
  for (let g = 0; g < groups; g++) {
    const start = firstData + g * bpg;
    const end = Math.min(blocksCount, start + bpg);
    let b = start;
    if (hasSuper(g)) b += 1 + gdtBlocks;
    const l = { start, end, bbitmap: b, ibitmap: b + 1, itable: b + 2 };
    if (l.itable + itBlocks > end) throw new RangeError(`ext2: ${size} bytes is too small for a filesystem`);
    for (let x = start; x < l.itable + itBlocks; x++) used[x] = 1;
    layout.push(l);
  }

  const blocks = new Map<number, Uint8Array>();
  let cursor = firstData;
  const alloc = (): number => {
    while (cursor < blocksCount && used[cursor]) cursor++;
    if (cursor >= blocksCount) throw new RangeError(`ext2: the files do not fit in ${size} bytes`);
    used[cursor] = 1;
    return cursor++;
  };

  // Directory contents need only names and inode numbers, all known now.
  const ftype = { file: 1, dir: 2, symlink: 7 } as const;
  for (const d of all) {
    if (d.kind !== 'dir') continue;
    const ents: Array<[string, number, number]> = [['.', d.ino, 2], ['..', d.parent!.ino, 2], ...d.children.map((c) => [c.name, c.ino, ftype[c.kind]] as [string, number, number])];
    const out: Uint8Array[] = [];
    let blk = new Uint8Array(bs);
    let off = 0;
    let lastAt = -1;
    for (const [name, ino, ft] of ents) {
      const nb = enc.encode(name);
      const len = (8 + nb.length + 3) & ~3;
      if (off + len > bs) {
        put16(blk, lastAt + 4, bs - lastAt);
        out.push(blk);
        blk = new Uint8Array(bs);
        off = 0;
      }
      put32(blk, off, ino);
      put16(blk, off + 4, len);
      blk[off + 6] = nb.length;
      blk[off + 7] = ft;
      blk.set(nb, off + 8);
      lastAt = off;
      off += len;
    }
    put16(blk, lastAt + 4, bs - lastAt);
    out.push(blk);
    d.data = new Uint8Array(out.length * bs);
    out.forEach((b, i) => d.data.set(b, i * bs));
  }

  const inodeTable = new Map<number, Uint8Array>();
  for (const n of all) {
    const ino = new Uint8Array(INODE_SIZE);
    const type = n.kind === 'dir' ? 0x4000 : n.kind === 'symlink' ? 0xa000 : 0x8000;
    put16(ino, 0, type | (n.mode & 0o7777));
    const sizeLo = n.data.length % 0x1_0000_0000;
    put32(ino, 4, sizeLo);
    put32(ino, 108, Math.floor(n.data.length / 0x1_0000_0000));
    put32(ino, 8, time);
    put32(ino, 12, time);
    put32(ino, 16, time);
    put16(ino, 26, n.kind === 'dir' ? 2 + n.children.filter((c) => c.kind === 'dir').length : 1);
    put16(ino, 128, 32);
    let count = 0;
    if (n.kind === 'symlink' && n.data.length < 60) {
      ino.set(n.data, 40);
    } else {
      count = writeData(n.data, ino, bs, alloc, blocks);
    }
    put32(ino, 28, count * (bs / 512));
    inodeTable.set(n.ino, ino);
  }

  // Inode tables and bitmaps, group by group.
  const usedDirs = new Array<number>(groups).fill(0);
  const freeInodes = new Array<number>(groups).fill(0);
  for (const n of all) if (n.kind === 'dir') usedDirs[Math.floor((n.ino - 1) / ipg)]!++;
  const maxIno = nextIno - 1;
  for (let g = 0; g < groups; g++) {
    const l = layout[g]!;
    const ibm = new Uint8Array(bs);
    let free = 0;
    for (let i = 0; i < ipg; i++) {
      const ino = g * ipg + i + 1;
      if (ino <= maxIno) ibm[i >> 3]! |= 1 << (i & 7);
      else free++;
      const data = inodeTable.get(ino);
      if (data) {
        const off = i * INODE_SIZE;
        const blk = l.itable + Math.floor(off / bs);
        let b = blocks.get(blk);
        if (!b) blocks.set(blk, (b = new Uint8Array(bs)));
        b.set(data, off % bs);
      }
    }
    // Bits past the last inode of the group are padding and must read as in use.
    for (let i = ipg; i < bs * 8; i++) ibm[i >> 3]! |= 1 << (i & 7);
    freeInodes[g] = free;
    blocks.set(l.ibitmap, ibm);
  }
  const freeBlocks: number[] = [];
  for (let g = 0; g < groups; g++) {
    const l = layout[g]!;
    const bbm = new Uint8Array(bs);
    let free = 0;
    for (let i = 0; i < bpg; i++) {
      const b = l.start + i;
      if (b >= l.end || used[b]) bbm[i >> 3]! |= 1 << (i & 7);
      else free++;
    }
    freeBlocks.push(free);
    blocks.set(l.bbitmap, bbm);
  }

  const gdt = new Uint8Array(gdtBlocks * bs);
  for (let g = 0; g < groups; g++) {
    const l = layout[g]!;
    const o = g * 32;
    put32(gdt, o, l.bbitmap);
    put32(gdt, o + 4, l.ibitmap);
    put32(gdt, o + 8, l.itable);
    put16(gdt, o + 12, freeBlocks[g]!);
    put16(gdt, o + 14, freeInodes[g]!);
    put16(gdt, o + 16, usedDirs[g]!);
  }
  const uuid = opts.uuid ?? randomBytes(16);
  const hashSeed = randomBytes(16);
  for (let g = 0; g < groups; g++) {
    if (!hasSuper(g)) continue;
    const sb = new Uint8Array(1024);
    put32(sb, 0, groups * ipg);
    put32(sb, 4, blocksCount);
    put32(sb, 12, freeBlocks.reduce((a, b) => a + b, 0));
    put32(sb, 16, freeInodes.reduce((a, b) => a + b, 0));
    put32(sb, 20, firstData);
    put32(sb, 24, Math.log2(bs) - 10);
    put32(sb, 28, Math.log2(bs) - 10);
    put32(sb, 32, bpg);
    put32(sb, 36, bpg);
    put32(sb, 40, ipg);
    put32(sb, 48, time);
    put16(sb, 54, 0xffff);
    put16(sb, 56, 0xef53);
    put16(sb, 58, 1);
    put16(sb, 60, 1);
    put32(sb, 64, time);
    put32(sb, 76, 1);
    put32(sb, 84, FIRST_INO);
    put16(sb, 88, INODE_SIZE);
    put16(sb, 90, g);
    put32(sb, 96, 0x2); // filetype
    put32(sb, 100, 0x1 | (all.some((n) => n.data.length >= 2 ** 31) ? 0x2 : 0)); // sparse_super, large_file
    sb.set(uuid, 104);
    sb.set(enc.encode(opts.label ?? '').subarray(0, 16), 120);
    sb.set(hashSeed, 0xec);
    sb[0xfc] = 1;
    put32(sb, 0x108, time); // mkfs_time
    put16(sb, 0x15c, 32);
    put16(sb, 0x15e, 32);
    const start = layout[g]!.start;
    // Group 0's superblock sits at byte 1024 whatever the block size; backups start their group.
    const sbBlock = g === 0 ? Math.floor(1024 / bs) : start;
    const sbOff = g === 0 ? 1024 % bs : 0;
    let b = blocks.get(sbBlock);
    if (!b) blocks.set(sbBlock, (b = new Uint8Array(bs)));
    b.set(sb.subarray(0, Math.min(1024, bs - sbOff)), sbOff);
    for (let i = 0; i < gdtBlocks; i++) blocks.set(start + 1 + i, gdt.slice(i * bs, (i + 1) * bs));
  }
  return { blockSize: bs, blocksCount, blocks };
}

/** Writes DATA into newly allocated blocks behind classic block maps; returns blocks used. */
function writeData(data: Uint8Array, inode: Uint8Array, bs: number, alloc: () => number, blocks: Map<number, Uint8Array>): number {
  const n = Math.ceil(data.length / bs);
  if (n === 0) return 0;
  const per = bs / 4;
  if (n > 12 + per + per * per + per * per * per) throw new RangeError('ext2: file too large for block maps');
  const d: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = alloc();
    d.push(b);
    const chunk = data.subarray(i * bs, Math.min(data.length, (i + 1) * bs));
    const blk = new Uint8Array(bs);
    blk.set(chunk);
    blocks.set(b, blk);
  }
  let meta = 0;
  const tree = (level: number, first: number): number => {
    const b = alloc();
    meta++;
    const blk = new Uint8Array(bs);
    const span = per ** (level - 1);
    for (let i = 0; i < per && first + i * span < n; i++) put32(blk, i * 4, level === 1 ? d[first + i]! : tree(level - 1, first + i * span));
    blocks.set(b, blk);
    return b;
  };
  for (let i = 0; i < Math.min(12, n); i++) put32(inode, 40 + i * 4, d[i]!);
  if (n > 12) put32(inode, 88, tree(1, 12));
  if (n > 12 + per) put32(inode, 92, tree(2, 12 + per));
  if (n > 12 + per + per * per) put32(inode, 96, tree(3, 12 + per + per * per));
  return n + meta;
}
