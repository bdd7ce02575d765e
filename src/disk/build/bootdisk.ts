/**
 * Bootable test disks for `vmrun disk.vhd`: an MBR, an active ext2 partition with the kernel,
 * initrd and an extlinux.conf, optionally a separate root partition. There is no boot sector
 * code: vmrun (like pygrub) reads the menu itself, and a BIOS boot would need SYSLINUX's own
 * binaries installed, which is not what these images test.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createImage } from '../create-image.js';
import { DiskFormatError } from '../errors.js';
import { openImage } from '../open-image.js';
import { buildExt2, type Ext2Image, type FsFile } from './ext2.js';

export type { FsFile } from './ext2.js';

export interface BootDiskOptions {
  out: string;
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append: string;
  /** Whole disk; default: the contents plus 16 MiB, at least 64 MiB. */
  sizeMiB?: number;
  /** More files for the root filesystem (partition 1, or 2 with separateBoot). */
  rootFiles?: FsFile[];
  /** /boot as partition 1 on its own (kernel at /vmlinuz there) and the root as partition 2. */
  separateBoot?: boolean;
  format?: 'vhd-dynamic' | 'vhd-fixed' | 'raw';
  /** Replace OUT if it exists (default: refuse). */
  overwrite?: boolean;
  /** Timestamps in the filesystems, for reproducible images. */
  time?: number;
  /** The LABEL of the extlinux.conf entry. */
  label?: string;
}

export interface BootDiskResult {
  path: string;
  size: number;
  partitions: Array<{ index: number; start: number; size: number }>;
}

const MiB = 1 << 20;
const FIRST_LBA = 2048;

export function extlinuxConf(label: string, kernel: string, initrd: string | null, append: string): string {
  return [
    '# Written by vmrun (src/disk/build); read by vmrun diskboot, SYSLINUX and pygrub alike',
    `DEFAULT ${label}`,
    'TIMEOUT 0',
    '',
    `LABEL ${label}`,
    `  KERNEL ${kernel}`,
    ...(initrd ? [`  INITRD ${initrd}`] : []),
    `  APPEND ${append || '-'}`,
    '',
  ].join('\n');
}

export function buildBootDisk(o: BootDiskOptions): BootDiskResult {
  const label = o.label ?? 'linux';
  const rootFiles = o.rootFiles ?? [];
  const payload = o.kernel.length + (o.initrd?.length ?? 0) + rootFiles.reduce((a, f) => a + (typeof f.data === 'string' ? f.data.length : (f.data?.length ?? 0)), 0);
  const sizeMiB = o.sizeMiB ?? Math.max(64, Math.ceil((payload * 1.1) / MiB) + 16);
  const target = path.resolve(o.out);
  if (fs.existsSync(target) && !o.overwrite) throw new DiskFormatError(`${o.out} already exists; refusing to overwrite it`);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.build.tmp`);
  fs.rmSync(tmp, { force: true });

  const format = o.format ?? 'vhd-dynamic';
  let dev;
  if (format === 'raw') {
    fs.writeFileSync(tmp, new Uint8Array(0));
    fs.truncateSync(tmp, sizeMiB * MiB);
    dev = openImage(tmp, { format: 'raw' }).device;
  } else {
    createImage(tmp, { type: format === 'vhd-fixed' ? 'fixed' : 'dynamic', size: sizeMiB * MiB });
    dev = openImage(tmp, { format: 'vhd' }).device;
  }
  try {
    const diskSectors = dev.size / 512;
    const parts: Array<{ index: number; start: number; size: number; image: Ext2Image; bootable: boolean }> = [];
    const timeOpt = o.time === undefined ? {} : { time: o.time };
    if (o.separateBoot) {
      const bootSectors = Math.max(32 * MiB, Math.ceil(((o.kernel.length + (o.initrd?.length ?? 0)) * 1.1 + 8 * MiB) / MiB) * MiB) / 512;
      if (FIRST_LBA + bootSectors + 16 * 2048 > diskSectors) throw new DiskFormatError(`${sizeMiB} MiB is too small for a separate /boot and a root`);
      const bootFiles: FsFile[] = [
        { path: '/vmlinuz', data: o.kernel },
        ...(o.initrd ? [{ path: '/initrd.img', data: o.initrd }] : []),
        { path: '/extlinux/extlinux.conf', data: extlinuxConf(label, '/vmlinuz', o.initrd ? '/initrd.img' : null, o.append) },
      ];
      parts.push({ index: 1, start: FIRST_LBA, size: bootSectors, bootable: true, image: buildExt2(bootFiles, bootSectors * 512, { label: 'boot', ...timeOpt }) });
      const rs = FIRST_LBA + bootSectors;
      const rootSize = diskSectors - rs;
      parts.push({ index: 2, start: rs, size: rootSize, bootable: false, image: buildExt2([{ path: '/boot', dir: true }, ...rootFiles], rootSize * 512, { label: 'root', ...timeOpt }) });
    } else {
      const files: FsFile[] = [
        { path: '/boot/vmlinuz', data: o.kernel },
        ...(o.initrd ? [{ path: '/boot/initrd.img', data: o.initrd }] : []),
        { path: '/boot/extlinux/extlinux.conf', data: extlinuxConf(label, '/boot/vmlinuz', o.initrd ? '/boot/initrd.img' : null, o.append) },
        ...rootFiles,
      ];
      const size = diskSectors - FIRST_LBA;
      parts.push({ index: 1, start: FIRST_LBA, size, bootable: true, image: buildExt2(files, size * 512, { label: 'root', ...timeOpt }) });
    }
    dev.write(encodeMbr(parts.map((p) => ({ start: p.start, size: p.size, type: 0x83, bootable: p.bootable }))), 0);
    for (const p of parts) writeFsImage(dev, p.start * 512, p.image);
    dev.flush();
    dev.close();
    dev = null;
    fs.renameSync(tmp, target);
    return { path: target, size: diskSectors * 512, partitions: parts.map((p) => ({ index: p.index, start: p.start * 512, size: p.size * 512 })) };
  } catch (e) {
    try {
      dev?.close();
    } catch {
      /* the original error matters more */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Contiguous blocks go out as one write of up to 1 MiB: a VHD allocates per write. */
function writeFsImage(dev: { write(b: Uint8Array, o: number): void }, base: number, img: Ext2Image): void {
  const bs = img.blockSize;
  const nums = [...img.blocks.keys()].sort((a, b) => a - b);
  const maxRun = Math.max(1, MiB / bs);
  for (let i = 0; i < nums.length; ) {
    let j = i + 1;
    while (j < nums.length && nums[j] === nums[j - 1]! + 1 && j - i < maxRun) j++;
    const buf = new Uint8Array((j - i) * bs);
    for (let k = i; k < j; k++) buf.set(img.blocks.get(nums[k]!)!, (k - i) * bs);
    dev.write(buf, base + nums[i]! * bs);
    i = j;
  }
}

/** CHS fields as fdisk fills them for LBA disks: real up to cylinder 1023, then saturated. */
function chs(lba: number): [number, number, number] {
  const spt = 63;
  const heads = 255;
  const c = Math.floor(lba / (spt * heads));
  if (c > 1023) return [0xfe, 0xff, 0xff];
  const h = Math.floor(lba / spt) % heads;
  const s = (lba % spt) + 1;
  return [h, s | ((c >> 2) & 0xc0), c & 0xff];
}

export function encodeMbr(parts: Array<{ start: number; size: number; type: number; bootable: boolean }>, diskSignature = 0x766d7275): Uint8Array {
  if (parts.length > 4) throw new RangeError('an MBR holds four primary partitions');
  const b = new Uint8Array(512);
  const dv = new DataView(b.buffer);
  dv.setUint32(440, diskSignature, true);
  parts.forEach((p, i) => {
    const o = 446 + i * 16;
    b[o] = p.bootable ? 0x80 : 0;
    b.set(chs(p.start), o + 1);
    b[o + 4] = p.type;
    b.set(chs(p.start + p.size - 1), o + 5);
    dv.setUint32(o + 8, p.start, true);
    dv.setUint32(o + 12, p.size, true);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

/** A host directory as FsFiles under PREFIX: regular files, directories and symlinks. */
export function filesFromDir(dir: string, prefix = '/'): FsFile[] {
  const out: FsFile[] = [];
  const walk = (rel: string): void => {
    for (const ent of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = path.posix.join(rel, ent.name);
      const full = path.join(dir, r);
      const dst = path.posix.join(prefix, r);
      const st = fs.lstatSync(full);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.push({ path: dst, symlink: fs.readlinkSync(full), mode });
      else if (st.isDirectory()) {
        out.push({ path: dst, dir: true, mode });
        walk(r);
      } else if (st.isFile()) out.push({ path: dst, data: fs.readFileSync(full), mode });
    }
  };
  walk('');
  return out;
}
