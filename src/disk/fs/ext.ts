import { corrupt, FsError } from './errors.js';
import { type DirEntry, type FileSystem, type NodeKind, type NodeOps, resolvePath, type Stat } from './types.js';
import { u16, u32, type Volume } from './volume.js';

const SB_OFFSET = 1024;
const EXT_MAGIC = 0xef53;

// Feature bits (ext4 on-disk layout documentation, "Super Block").
const COMPAT_HAS_JOURNAL = 0x4;
const COMPAT_SPARSE_SUPER2 = 0x200;
const RO_COMPAT_SPARSE_SUPER = 0x1;
const RO_COMPAT_EXT4_ONLY = 0x8 | 0x10 | 0x20 | 0x40 | 0x200 | 0x400; // huge_file, gdt_csum, dir_nlink, extra_isize, bigalloc, metadata_csum
const INCOMPAT = {
  COMPRESSION: 0x1,
  FILETYPE: 0x2,
  RECOVER: 0x4,
  JOURNAL_DEV: 0x8,
  META_BG: 0x10,
  EXTENTS: 0x40,
  BIT64: 0x80,
  MMP: 0x100,
  FLEX_BG: 0x200,
  EA_INODE: 0x400,
  DIRDATA: 0x1000,
  CSUM_SEED: 0x2000,
  LARGEDIR: 0x4000,
  INLINE_DATA: 0x8000,
  ENCRYPT: 0x10000,
  CASEFOLD: 0x20000,
} as const;
/*
 * What a read-only walker may ignore: RECOVER only means the journal was not replayed (GRUB
 * reads such volumes too; the newest writes may be missing), MMP, EA_INODE, CSUM_SEED and
 * CASEFOLD change nothing in how files and directories are found, ENCRYPT is refused per
 * inode below.
 */
const SUPPORTED_INCOMPAT =
  INCOMPAT.FILETYPE | INCOMPAT.RECOVER | INCOMPAT.META_BG | INCOMPAT.EXTENTS | INCOMPAT.BIT64 | INCOMPAT.MMP | INCOMPAT.FLEX_BG |
  INCOMPAT.EA_INODE | INCOMPAT.CSUM_SEED | INCOMPAT.LARGEDIR | INCOMPAT.INLINE_DATA | INCOMPAT.ENCRYPT | INCOMPAT.CASEFOLD;
const INCOMPAT_NAMES: Record<number, string> = {
  0x1: 'compression', 0x8: 'journal_dev', 0x20: 'bit 5', 0x800: 'bit 11', 0x1000: 'dirdata',
};

const FL_ENCRYPT = 0x800;
const FL_EXTENTS = 0x80000;
const FL_INLINE_DATA = 0x10000000;
const EXTENT_MAGIC = 0xf30a;
const MAX_EXTENT_DEPTH = 5;
const ROOT_INO = 2;

export interface ExtOptions {
  /** Files above this are refused instead of allocated: a corrupt size must not exhaust memory. */
  maxFileSize?: number;
}

interface Inode {
  ino: number;
  mode: number;
  size: number;
  flags: number;
  iblock: Uint8Array;
  blocks512: number;
  fileAcl: number;
  raw: Uint8Array;
}

/** A block run of a file: PBLK 0 is a hole (or an uninitialised extent), read as zeros. */
interface Run {
  lblk: number;
  pblk: number;
  len: number;
}

export function isExt(vol: Volume): boolean {
  if (vol.size < SB_OFFSET + 1024) return false;
  return u16(vol.read(SB_OFFSET + 56, 2), 0) === EXT_MAGIC;
}

export class ExtFs implements FileSystem {
  readonly type: 'ext2' | 'ext3' | 'ext4';
  readonly label: string;
  readonly blockSize: number;
  readonly blocksCount: number;
  private readonly inodesPerGroup: number;
  private readonly blocksPerGroup: number;
  private readonly groupCount: number;
  private readonly inodeSize: number;
  private readonly descSize: number;
  private readonly firstDataBlock: number;
  private readonly incompat: number;
  private readonly roCompat: number;
  private readonly compat: number;
  private readonly firstMetaBg: number;
  private readonly backupBgs: [number, number];
  private readonly maxFileSize: number;
  private readonly ops: NodeOps<Inode>;

  constructor(
    private readonly vol: Volume,
    opts: ExtOptions = {},
  ) {
    if (!isExt(vol)) throw corrupt('no ext2/3/4 superblock (magic 0xEF53 at byte 1080)');
    const sb = vol.read(SB_OFFSET, 1024);
    const logBs = u32(sb, 24);
    if (logBs > 6) throw corrupt(`ext superblock: block size 2^${10 + logBs} is not 1 KiB-64 KiB`);
    this.blockSize = 1024 << logBs;
    this.compat = u32(sb, 92);
    this.incompat = u32(sb, 96);
    this.roCompat = u32(sb, 100);
    const unknown = this.incompat & ~SUPPORTED_INCOMPAT;
    if (unknown) {
      const names = [];
      for (let bit = 1; bit !== 0 && bit <= unknown; bit = (bit << 1) >>> 0) if (unknown & bit) names.push(INCOMPAT_NAMES[bit] ?? `0x${bit.toString(16)}`);
      throw new FsError('unsupported', `ext filesystem uses incompatible features vmrun cannot read: ${names.join(', ')}`);
    }
    const is64 = (this.incompat & INCOMPAT.BIT64) !== 0;
    this.blocksCount = u32(sb, 4) + (is64 ? u32(sb, 0x150) * 0x1_0000_0000 : 0);
    this.firstDataBlock = u32(sb, 20);
    this.blocksPerGroup = u32(sb, 32);
    this.inodesPerGroup = u32(sb, 40);
    const rev = u32(sb, 76);
    this.inodeSize = rev === 0 ? 128 : u16(sb, 88);
    this.descSize = is64 ? u16(sb, 0xfe) : 32;
    this.firstMetaBg = u32(sb, 0x104);
    this.backupBgs = [u32(sb, 0x24c), u32(sb, 0x250)];
    const bs = this.blockSize;
    if (this.blocksCount === 0 || this.firstDataBlock >= this.blocksCount) throw corrupt(`ext superblock: ${this.blocksCount} blocks, first data block ${this.firstDataBlock}`);
    if (this.blocksPerGroup === 0 || this.blocksPerGroup > 8 * bs) throw corrupt(`ext superblock: ${this.blocksPerGroup} blocks per group`);
    if (this.inodesPerGroup === 0 || this.inodesPerGroup > 8 * bs) throw corrupt(`ext superblock: ${this.inodesPerGroup} inodes per group`);
    if (this.inodeSize < 128 || this.inodeSize > bs || (this.inodeSize & (this.inodeSize - 1)) !== 0) throw corrupt(`ext superblock: inode size ${this.inodeSize}`);
    if (this.descSize < 32 || this.descSize > 1024 || (this.descSize & (this.descSize - 1)) !== 0 || (is64 && this.descSize < 64)) {
      throw corrupt(`ext superblock: group descriptor size ${this.descSize}`);
    }
    this.groupCount = Math.ceil((this.blocksCount - this.firstDataBlock) / this.blocksPerGroup);
    this.maxFileSize = Math.min(opts.maxFileSize ?? 1 << 30, this.blocksCount * bs);
    this.label = new TextDecoder().decode(sb.subarray(120, 136)).replace(/\0.*$/s, '');
    const ext4 = (this.incompat & ~(INCOMPAT.FILETYPE | INCOMPAT.RECOVER | INCOMPAT.META_BG)) !== 0 || (this.roCompat & RO_COMPAT_EXT4_ONLY) !== 0;
    this.type = ext4 ? 'ext4' : this.compat & COMPAT_HAS_JOURNAL ? 'ext3' : 'ext2';
    this.ops = {
      root: () => this.inode(ROOT_INO),
      kind: (n) => kindOf(n.mode),
      lookup: (dir, name) => {
        for (const e of this.entries(dir)) if (e.name === name) return this.inode(e.ino);
        return null;
      },
      readlink: (n) => this.readlink(n),
    };
  }

  readFile(path: string): Uint8Array {
    const n = resolvePath(this.ops, path);
    const k = kindOf(n.mode);
    if (k === 'dir') throw new FsError('isdir', `${path}: is a directory`);
    if (k !== 'file') throw new FsError('unsupported', `${path}: not a regular file`);
    return this.data(n, path);
  }

  readDir(path: string): DirEntry[] {
    const n = resolvePath(this.ops, path);
    if (kindOf(n.mode) !== 'dir') throw new FsError('notdir', `${path}: not a directory`);
    return this.entries(n)
      .filter((e) => e.name !== '.' && e.name !== '..')
      .map((e) => ({ name: e.name, kind: e.kind ?? kindOf(this.inode(e.ino).mode) }));
  }

  stat(path: string): Stat | null {
    try {
      const n = resolvePath(this.ops, path);
      return { kind: kindOf(n.mode), size: n.size };
    } catch (e) {
      if (e instanceof FsError && (e.code === 'notfound' || e.code === 'notdir')) return null;
      throw e;
    }
  }

  /** Reads a symlink's target without following it. */
  readlinkPath(path: string): string {
    const n = resolvePath(this.ops, path, false);
    if (kindOf(n.mode) !== 'symlink') throw new FsError('unsupported', `${path}: not a symbolic link`);
    return this.readlink(n);
  }

  private hasSuper(g: number): boolean {
    if (g === 0) return true;
    if (this.compat & COMPAT_SPARSE_SUPER2) return g === this.backupBgs[0] || g === this.backupBgs[1];
    if (!(this.roCompat & RO_COMPAT_SPARSE_SUPER)) return true;
    if (g === 1) return true;
    for (const p of [3, 5, 7]) {
      let x = p;
      while (x < g) x *= p;
      if (x === g) return true;
    }
    return false;
  }

  private descriptorOffset(g: number): number {
    const perBlock = this.blockSize / this.descSize;
    const metaGroup = Math.floor(g / perBlock);
    let blk: number;
    if (!(this.incompat & INCOMPAT.META_BG) || metaGroup < this.firstMetaBg) {
      blk = this.firstDataBlock + 1 + metaGroup;
    } else {
      // META_BG keeps each descriptor block in the first group of the meta group it describes.
      const first = metaGroup * perBlock;
      blk = this.firstDataBlock + first * this.blocksPerGroup + (this.hasSuper(first) ? 1 : 0);
    }
    return blk * this.blockSize + (g % perBlock) * this.descSize;
  }

  private inode(ino: number): Inode {
    if (!Number.isSafeInteger(ino) || ino < 1 || ino > this.groupCount * this.inodesPerGroup) throw corrupt(`ext: inode number ${ino} is out of range`);
    const g = Math.floor((ino - 1) / this.inodesPerGroup);
    const d = this.vol.read(this.descriptorOffset(g), this.descSize);
    const table = u32(d, 8) + (this.descSize >= 64 ? u32(d, 0x28) * 0x1_0000_0000 : 0);
    if (table === 0 || table >= this.blocksCount) throw corrupt(`ext: group ${g} has its inode table at block ${table}, outside the filesystem`);
    const raw = this.vol.read(table * this.blockSize + ((ino - 1) % this.inodesPerGroup) * this.inodeSize, this.inodeSize);
    const mode = u16(raw, 0);
    return {
      ino,
      mode,
      size: u32(raw, 4) + u32(raw, 108) * 0x1_0000_0000,
      flags: u32(raw, 32),
      iblock: raw.subarray(40, 100),
      blocks512: u32(raw, 28),
      fileAcl: u32(raw, 104),
      raw,
    };
  }

  private readlink(n: Inode): string {
    if (n.flags & FL_ENCRYPT) throw new FsError('unsupported', `ext: inode ${n.ino} is an encrypted symlink`);
    if (n.size > 4096) throw corrupt(`ext: symlink inode ${n.ino} is ${n.size} bytes long`);
    // A fast symlink keeps its target in i_block and owns no data blocks (an xattr block aside).
    const eaSectors = n.fileAcl ? this.blockSize / 512 : 0;
    const fast = n.size < 60 && !(n.flags & FL_INLINE_DATA) && (n.blocks512 === 0 || n.blocks512 === eaSectors) && !(n.flags & FL_EXTENTS && n.blocks512 !== 0);
    const bytes = fast ? n.iblock.subarray(0, n.size) : this.data(n, `symlink inode ${n.ino}`);
    return new TextDecoder().decode(bytes);
  }

  private data(n: Inode, what: string): Uint8Array {
    if (n.flags & FL_ENCRYPT) throw new FsError('unsupported', `${what}: file is encrypted`);
    if (n.size > this.maxFileSize) {
      throw new FsError('toolarge', `${what}: ${n.size} bytes is more than the ${this.maxFileSize}-byte limit (or the filesystem itself)`);
    }
    if (n.flags & FL_INLINE_DATA) return this.inlineData(n).slice(0, n.size);
    const out = new Uint8Array(n.size);
    const bs = this.blockSize;
    const nblocks = Math.ceil(n.size / bs);
    for (const r of this.runs(n, nblocks)) {
      if (r.pblk === 0 || r.lblk >= nblocks) continue;
      const len = Math.min(r.len, nblocks - r.lblk);
      if (r.pblk + len > this.blocksCount) throw corrupt(`${what}: blocks ${r.pblk}+${len} lie outside the filesystem`);
      const bytes = Math.min(len * bs, n.size - r.lblk * bs);
      this.vol.readInto(out, r.lblk * bs, r.pblk * bs, bytes);
    }
    return out;
  }

  /** Inline data: i_block first, the rest in the in-inode "system.data" extended attribute. */
  private inlineData(n: Inode): Uint8Array {
    const extra = n.raw.length > 128 ? u16(n.raw, 128) : 0;
    let tail = new Uint8Array(0);
    const base = 128 + extra;
    if (base + 4 <= n.raw.length && u32(n.raw, base) === 0xea020000) {
      const first = base + 4;
      for (let o = first; o + 16 <= n.raw.length && u32(n.raw, o) !== 0; ) {
        const nameLen = n.raw[o]!;
        const index = n.raw[o + 1]!;
        const valueOff = u16(n.raw, o + 2);
        const valueSize = u32(n.raw, o + 8);
        const name = new TextDecoder().decode(n.raw.subarray(o + 16, o + 16 + nameLen));
        if (index === 7 && name === 'data') {
          if (first + valueOff + valueSize > n.raw.length) throw corrupt(`ext: inode ${n.ino} inline data runs past the inode`);
          tail = n.raw.slice(first + valueOff, first + valueOff + valueSize);
          break;
        }
        o += (16 + nameLen + 3) & ~3;
      }
    }
    const out = new Uint8Array(60 + tail.length);
    out.set(n.iblock);
    out.set(tail, 60);
    return out;
  }

  private runs(n: Inode, nblocks: number): Run[] {
    const out: Run[] = [];
    if (n.flags & FL_EXTENTS) {
      // Every index node leads to at least one block of the file, which bounds the walk
      // however the tree was mangled.
      const budget = { nodes: nblocks + 16 };
      this.walkExtents(n.iblock, -1, nblocks, out, budget, n.ino);
    } else {
      this.walkBlockMap(n, nblocks, out);
    }
    return out;
  }

  private walkExtents(node: Uint8Array, parentDepth: number, nblocks: number, out: Run[], budget: { nodes: number }, ino: number): void {
    if (--budget.nodes < 0) throw corrupt(`ext: inode ${ino} has an extent tree larger than the file`);
    if (u16(node, 0) !== EXTENT_MAGIC) throw corrupt(`ext: inode ${ino} has a bad extent header`);
    const entries = u16(node, 2);
    const depth = u16(node, 6);
    if (12 + entries * 12 > node.length) throw corrupt(`ext: inode ${ino} extent node claims ${entries} entries`);
    if (depth > MAX_EXTENT_DEPTH || (parentDepth >= 0 && depth !== parentDepth - 1)) throw corrupt(`ext: inode ${ino} extent tree depth ${depth} is inconsistent`);
    for (let i = 0; i < entries; i++) {
      const e = 12 + i * 12;
      const lblk = u32(node, e);
      if (lblk >= nblocks) continue;
      if (depth === 0) {
        let len = u16(node, e + 4);
        const uninit = len > 32768;
        if (uninit) len -= 32768;
        const pblk = u32(node, e + 8) + u16(node, e + 6) * 0x1_0000_0000;
        if (len === 0) continue;
        out.push({ lblk, pblk: uninit ? 0 : pblk, len });
        if (!uninit && pblk === 0) throw corrupt(`ext: inode ${ino} has an extent at block 0`);
      } else {
        const child = u32(node, e + 4) + u16(node, e + 8) * 0x1_0000_0000;
        if (child === 0 || child >= this.blocksCount) throw corrupt(`ext: inode ${ino} extent index points at block ${child}`);
        this.walkExtents(this.vol.read(child * this.blockSize, this.blockSize), depth, nblocks, out, budget, ino);
      }
    }
  }

  private walkBlockMap(n: Inode, nblocks: number, out: Run[]): void {
    const per = this.blockSize / 4;
    const push = (lblk: number, pblk: number): void => {
      const last = out[out.length - 1];
      if (last && last.pblk !== 0 && pblk !== 0 && last.lblk + last.len === lblk && last.pblk + last.len === pblk) last.len++;
      else if (pblk !== 0) out.push({ lblk, pblk, len: 1 });
    };
    const walk = (ptr: number, level: number, first: number): void => {
      if (ptr === 0 || first >= nblocks) return;
      if (level === 0) return push(first, ptr);
      if (ptr >= this.blocksCount) throw corrupt(`ext: inode ${n.ino} indirect block ${ptr} is outside the filesystem`);
      const b = this.vol.read(ptr * this.blockSize, this.blockSize);
      const span = per ** (level - 1);
      for (let i = 0; i < per && first + i * span < nblocks; i++) walk(u32(b, i * 4), level - 1, first + i * span);
    };
    for (let i = 0; i < 12; i++) walk(u32(n.iblock, i * 4), 0, i);
    walk(u32(n.iblock, 48), 1, 12);
    walk(u32(n.iblock, 52), 2, 12 + per);
    walk(u32(n.iblock, 56), 3, 12 + per + per * per);
  }

  /**
   * Every entry of a directory, read linearly. Hashed (htree) directories hide their index
   * in entries a linear reader skips (inode 0, or a '..' whose length spans the root's index),
   * which is how the format keeps them readable by ext2 code.
   */
  private entries(dir: Inode): Array<{ name: string; ino: number; kind?: NodeKind }> {
    const out: Array<{ name: string; ino: number; kind?: NodeKind }> = [];
    const typed = (this.incompat & INCOMPAT.FILETYPE) !== 0;
    const dec = new TextDecoder();
    const parse = (buf: Uint8Array, start: number, end: number): void => {
      for (let o = start; o + 8 <= end; ) {
        const ino = u32(buf, o);
        let rec = u16(buf, o + 4);
        if (this.blockSize === 65536 && (rec === 0 || rec === 65535)) rec = 65536;
        const nameLen = typed ? buf[o + 6]! : u16(buf, o + 6) & 0xff;
        // A broken entry ends this block, not the listing: the rest of the directory may be fine.
        if (rec < 8 || rec % 4 !== 0 || o + rec > end || 8 + nameLen > rec) return;
        if (ino !== 0 && nameLen > 0) {
          const ft = buf[o + 7]!;
          const kind: NodeKind | undefined = !typed ? undefined : ft === 1 ? 'file' : ft === 2 ? 'dir' : ft === 7 ? 'symlink' : ft === 0 ? undefined : 'other';
          out.push({ name: dec.decode(buf.subarray(o + 8, o + 8 + nameLen)), ino, kind });
        }
        o += rec;
      }
    };
    if (dir.flags & FL_INLINE_DATA) {
      const d = this.inlineData(dir);
      out.push({ name: '..', ino: u32(d, 0), kind: 'dir' });
      parse(d, 4, 60);
      parse(d, 60, d.length);
      return out;
    }
    const data = this.data(dir, `directory inode ${dir.ino}`);
    for (let b = 0; b < data.length; b += this.blockSize) parse(data, b, Math.min(data.length, b + this.blockSize));
    return out;
  }
}

function kindOf(mode: number): NodeKind {
  switch (mode & 0xf000) {
    case 0x8000:
      return 'file';
    case 0x4000:
      return 'dir';
    case 0xa000:
      return 'symlink';
    default:
      return 'other';
  }
}
