import { corrupt, FsError } from './errors.js';
import { type DirEntry, type FileSystem, type NodeOps, resolvePath, type Stat } from './types.js';
import { u16, u32, type Volume } from './volume.js';

export interface FatOptions {
  maxFileSize?: number;
}

interface FatNode {
  dir: boolean;
  /** First cluster; 0 is the FAT12/16 fixed root directory, or an empty file. */
  cluster: number;
  size: number;
  root: boolean;
}

interface RawEntry extends FatNode {
  long: string;
  short: string;
}

const ATTR_VOLUME = 0x08;
const ATTR_DIR = 0x10;
const ATTR_LFN = 0x0f;

/** A BPB whose fields fit together: the test GRUB and Linux apply, not just the 0x55AA tail. */
export function isFat(vol: Volume): boolean {
  if (vol.size < 512) return false;
  const b = vol.read(0, 512);
  return parseBpb(b) !== null;
}

interface Bpb {
  bytesPerSector: number;
  sectorsPerCluster: number;
  reserved: number;
  fats: number;
  rootEntries: number;
  totalSectors: number;
  fatSize: number;
  rootCluster: number;
}

function parseBpb(b: Uint8Array): Bpb | null {
  if (!(b[0] === 0xeb || b[0] === 0xe9 || b[0] === 0x00)) return null;
  const bytesPerSector = u16(b, 11);
  const sectorsPerCluster = b[13]!;
  const reserved = u16(b, 14);
  const fats = b[16]!;
  const rootEntries = u16(b, 17);
  const totalSectors = u16(b, 19) || u32(b, 32);
  const fatSize = u16(b, 22) || u32(b, 36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) return null;
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) return null;
  if (reserved === 0 || fats === 0 || fats > 4 || fatSize === 0 || totalSectors === 0) return null;
  if (b[21]! < 0xf0 && b[21]! !== 0) return null;
  const rootCluster = u16(b, 22) === 0 ? u32(b, 44) : 0;
  return { bytesPerSector, sectorsPerCluster, reserved, fats, rootEntries, totalSectors, fatSize, rootCluster };
}

export class FatFs implements FileSystem {
  readonly type: 'fat12' | 'fat16' | 'fat32';
  readonly label: string;
  private readonly bpb: Bpb;
  private readonly clusterSize: number;
  private readonly dataStart: number;
  private readonly rootDirStart: number;
  private readonly rootDirSize: number;
  private readonly clusterCount: number;
  private readonly fatStart: number;
  private readonly maxFileSize: number;
  private readonly ops: NodeOps<FatNode>;
  private fat: Uint8Array | null = null;

  constructor(
    private readonly vol: Volume,
    opts: FatOptions = {},
  ) {
    const b = vol.read(0, 512);
    const bpb = parseBpb(b);
    if (!bpb) throw corrupt('no FAT boot sector (BIOS parameter block)');
    this.bpb = bpb;
    const bps = bpb.bytesPerSector;
    this.clusterSize = bps * bpb.sectorsPerCluster;
    const rootSectors = Math.ceil((bpb.rootEntries * 32) / bps);
    this.fatStart = bpb.reserved * bps;
    this.rootDirStart = (bpb.reserved + bpb.fats * bpb.fatSize) * bps;
    this.rootDirSize = rootSectors * bps;
    const dataSector = bpb.reserved + bpb.fats * bpb.fatSize + rootSectors;
    this.dataStart = dataSector * bps;
    if (dataSector >= bpb.totalSectors) throw corrupt(`FAT: data area starts at sector ${dataSector}, past the ${bpb.totalSectors}-sector volume`);
    this.clusterCount = Math.floor((bpb.totalSectors - dataSector) / bpb.sectorsPerCluster);
    // Microsoft's rule: the cluster count alone decides the FAT width, whatever the label says.
    this.type = this.clusterCount < 4085 ? 'fat12' : this.clusterCount < 65525 ? 'fat16' : 'fat32';
    if (this.type === 'fat32') {
      if (u16(b, 22) !== 0 || bpb.rootEntries !== 0) throw corrupt('FAT32 volume with a FAT12/16 root directory');
      if (bpb.rootCluster < 2 || bpb.rootCluster >= this.clusterCount + 2) throw corrupt(`FAT32: root cluster ${bpb.rootCluster} is out of range`);
    } else if (bpb.rootEntries === 0) {
      throw corrupt(`${this.type.toUpperCase()}: root directory has no entries`);
    }
    const fatBytes = Math.ceil(((this.clusterCount + 2) * (this.type === 'fat12' ? 1.5 : this.type === 'fat16' ? 2 : 4)));
    if (fatBytes > bpb.fatSize * bps) throw corrupt(`FAT: the table (${bpb.fatSize} sectors) is too small for ${this.clusterCount} clusters`);
    this.maxFileSize = Math.min(opts.maxFileSize ?? 1 << 30, vol.size);
    const labelAt = this.type === 'fat32' ? 71 : 43;
    const sig = this.type === 'fat32' ? b[66] : b[38];
    this.label = sig === 0x29 ? latin1(b.subarray(labelAt, labelAt + 11)).trimEnd() : '';
    if (this.label === 'NO NAME') this.label = '';
    this.ops = {
      root: () => ({ dir: true, cluster: this.type === 'fat32' ? bpb.rootCluster : 0, size: 0, root: true }),
      kind: (n) => (n.dir ? 'dir' : 'file'),
      lookup: (dir, name) => {
        const want = name.toUpperCase();
        for (const e of this.entries(dir)) if (e.long.toUpperCase() === want || e.short.toUpperCase() === want) return e;
        return null;
      },
      readlink: () => {
        throw new FsError('unsupported', 'FAT has no symbolic links');
      },
    };
  }

  readFile(path: string): Uint8Array {
    const n = resolvePath(this.ops, path);
    if (n.dir) throw new FsError('isdir', `${path}: is a directory`);
    if (n.size > this.maxFileSize) throw new FsError('toolarge', `${path}: ${n.size} bytes is more than the ${this.maxFileSize}-byte limit`);
    return this.chainData(n.cluster, n.size, path);
  }

  readDir(path: string): DirEntry[] {
    const n = resolvePath(this.ops, path);
    if (!n.dir) throw new FsError('notdir', `${path}: not a directory`);
    return this.entries(n)
      .filter((e) => e.short !== '.' && e.short !== '..')
      .map((e) => ({ name: e.long || e.short, kind: e.dir ? 'dir' : 'file' }));
  }

  stat(path: string): Stat | null {
    try {
      const n = resolvePath(this.ops, path);
      return { kind: n.dir ? 'dir' : 'file', size: n.size };
    } catch (e) {
      if (e instanceof FsError && (e.code === 'notfound' || e.code === 'notdir')) return null;
      throw e;
    }
  }

  private next(cluster: number): number {
    if (!this.fat) this.fat = this.vol.read(this.fatStart, this.bpb.fatSize * this.bpb.bytesPerSector);
    const f = this.fat;
    if (this.type === 'fat12') {
      const v = u16(f, Math.floor(cluster * 1.5));
      return cluster & 1 ? v >> 4 : v & 0xfff;
    }
    if (this.type === 'fat16') return u16(f, cluster * 2);
    return u32(f, cluster * 4) & 0x0fffffff;
  }

  private isEnd(v: number): boolean {
    return v >= (this.type === 'fat12' ? 0xff8 : this.type === 'fat16' ? 0xfff8 : 0x0ffffff8);
  }

  /** The cluster chain from FIRST; a chain longer than the volume has clusters is a loop. */
  private chain(first: number, what: string): number[] {
    const out: number[] = [];
    for (let c = first; !this.isEnd(c); c = this.next(c)) {
      if (c < 2 || c >= this.clusterCount + 2) throw corrupt(`FAT: ${what}: chain reaches invalid cluster ${c}`);
      if (out.length >= this.clusterCount) throw corrupt(`FAT: ${what}: cluster chain loops`);
      out.push(c);
    }
    return out;
  }

  private chainData(first: number, size: number, what: string): Uint8Array {
    const out = new Uint8Array(size);
    if (size === 0) return out;
    const clusters = this.chain(first, what);
    if (clusters.length * this.clusterSize < size) throw corrupt(`FAT: ${what}: ${size} bytes but only ${clusters.length} clusters`);
    // Contiguous clusters become one device read: kernels are megabytes of mostly-contiguous chain.
    for (let i = 0; i * this.clusterSize < size; ) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1]! + 1 && j * this.clusterSize < size) j++;
      const off = i * this.clusterSize;
      const len = Math.min(size, j * this.clusterSize) - off;
      this.vol.readInto(out, off, this.dataStart + (clusters[i]! - 2) * this.clusterSize, len);
      i = j;
    }
    return out;
  }

  private dirBytes(n: FatNode): Uint8Array {
    if (n.root && this.type !== 'fat32') return this.vol.read(this.rootDirStart, this.rootDirSize);
    if (n.cluster === 0) return new Uint8Array(0);
    const clusters = this.chain(n.cluster, 'directory');
    return this.chainData(n.cluster, clusters.length * this.clusterSize, 'directory');
  }

  /** Entries with their VFAT long names, verified against the short-name checksum. */
  private entries(dir: FatNode): RawEntry[] {
    const d = this.dirBytes(dir);
    const out: RawEntry[] = [];
    let lfn: string[] = [];
    let lfnSum = -1;
    for (let o = 0; o + 32 <= d.length; o += 32) {
      const first = d[o]!;
      if (first === 0) break;
      if (first === 0xe5) {
        lfn = [];
        continue;
      }
      const attr = d[o + 11]!;
      if ((attr & 0x3f) === ATTR_LFN) {
        const ord = first & 0x1f;
        if (first & 0x40) lfn = [];
        lfnSum = d[o + 13]!;
        let part = '';
        for (const [s, n] of [[1, 5], [14, 6], [28, 2]] as const) {
          for (let k = 0; k < n; k++) part += String.fromCharCode(u16(d, o + s + k * 2));
        }
        lfn[ord - 1] = part;
        continue;
      }
      if (attr & ATTR_VOLUME) {
        lfn = [];
        continue;
      }
      const nameBytes = d.slice(o, o + 11);
      if (nameBytes[0] === 0x05) nameBytes[0] = 0xe5;
      // Checksum over the on-disk bytes, where a leading 0xE5 is still stored as 0x05.
      let sum = 0;
      for (let k = 0; k < 11; k++) sum = (((sum & 1) << 7) + (sum >> 1) + d[o + k]!) & 0xff;
      let long = '';
      if (lfn.length > 0 && sum === lfnSum && lfn.every((p) => p !== undefined)) {
        long = lfn.join('');
        const end = long.indexOf('\0');
        if (end >= 0) long = long.slice(0, end);
      }
      lfn = [];
      const nt = d[o + 12]!;
      let base = latin1(nameBytes.subarray(0, 8)).trimEnd();
      let ext = latin1(nameBytes.subarray(8, 11)).trimEnd();
      if (nt & 0x08) base = base.toLowerCase();
      if (nt & 0x10) ext = ext.toLowerCase();
      const short = ext ? `${base}.${ext}` : base;
      const cluster = u16(d, o + 26) + (this.type === 'fat32' ? u16(d, o + 20) * 0x10000 : 0);
      const isDir = (attr & ATTR_DIR) !== 0;
      // '..' pointing at cluster 0 means the root, which the path walker handles by its stack.
      out.push({ long, short, dir: isDir, cluster, size: isDir ? 0 : u32(d, o + 28), root: false });
    }
    return out;
  }
}

function latin1(b: Uint8Array): string {
  return String.fromCharCode(...b);
}
