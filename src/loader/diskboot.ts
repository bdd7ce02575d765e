/**
 * Booting a disk image without --kernel, as Xen's pygrub did: find the partition holding a
 * boot menu, read the default entry's kernel, initrd and command line out of the filesystem,
 * and hand them to the ordinary kernel loader. No boot sector code ever runs.
 */
import { UsageError } from '../cli/errors.js';
import type { BlockDevice } from '../disk/block-device.js';
import { DiskFormatError } from '../disk/errors.js';
import { FsError } from '../disk/fs/errors.js';
import { openFileSystem } from '../disk/fs/index.js';
import type { FileSystem } from '../disk/fs/types.js';
import { type Partition, readPartitions } from '../disk/partitions.js';
import { type BootConfig, CONFIG_PATHS, type ConfigFiles, parseBootConfig } from './bootcfg.js';

export interface BootEntry {
  kernel: Uint8Array;
  /** Several INITRD files are concatenated, each padded to 4 bytes (cpio's alignment). */
  initrd?: Uint8Array;
  append: string;
  /** Null when the filesystem spans the whole disk. */
  partition: Partition | null;
  fsType: FileSystem['type'];
  configPath: string;
  config: BootConfig;
  /** Non-fatal findings (a corrupt primary GPT, partitions skipped because unreadable). */
  warnings: string[];
}

export interface FindBootOptions {
  /** How the disk is named in messages, e.g. its file name. */
  name?: string;
  /** Refuse kernel or initrd files larger than this (default 1 GiB). */
  maxFileSize?: number;
}

const MAX_CONFIG = 1 << 20;

/**
 * Finds the entry a bootloader would boot unattended. Partitions flagged bootable are tried
 * first, then the others in table order; a disk with no partition table is tried as one
 * filesystem. The first configuration found wins: if its kernel is missing that is an error,
 * not a reason to look elsewhere, so the disk boots what its owner configured or nothing.
 * Every failure is a one-line UsageError.
 */
export function findBootEntry(dev: BlockDevice, opts: FindBootOptions = {}): BootEntry {
  const name = opts.name ?? 'disk';
  const fail = (msg: string): never => {
    throw new UsageError(`${name}: ${msg}`);
  };
  let table;
  try {
    table = readPartitions(dev);
  } catch (e) {
    return fail(`cannot read the partition table: ${errText(e)}`);
  }
  const warnings = [...table.warnings];
  const candidates: Array<Partition | null> =
    table.scheme === 'none' ? [null] : [...table.partitions.filter((p) => p.bootable), ...table.partitions.filter((p) => !p.bootable)];
  const skipped: string[] = [];
  for (const part of candidates) {
    const where = part ? `partition ${part.index}` : 'whole disk';
    let fs: FileSystem | null;
    try {
      fs = openFileSystem(dev, part?.start ?? 0, part?.size ?? dev.size, { maxFileSize: opts.maxFileSize });
    } catch (e) {
      skipped.push(`${where}: ${errText(e)}`);
      continue;
    }
    if (!fs) {
      skipped.push(`${where}: no ext2/3/4 or FAT filesystem`);
      continue;
    }
    let found: { path: string; text: string } | null = null;
    try {
      found = findConfig(fs);
    } catch (e) {
      skipped.push(`${where} (${fs.type}): ${errText(e)}`);
      continue;
    }
    if (!found) {
      skipped.push(`${where} (${fs.type}): no boot configuration`);
      continue;
    }
    const ctx = `${where} (${fs.type}) ${found.path}`;
    let config: BootConfig;
    try {
      config = parseBootConfig(found.text, found.path, configFiles(fs));
    } catch (e) {
      return fail(`${ctx}: ${errText(e).replace(`${found.path}: `, '')}`);
    }
    const read = (p: string, what: string): Uint8Array => {
      try {
        return readBootFile(fs, p, found.path);
      } catch (e) {
        return fail(`${ctx}: ${what} ${p}: ${errText(e).replace(/^[^:]*: /, '')}`);
      }
    };
    const kernel = read(config.kernel, 'kernel');
    const parts = config.initrds.map((p) => read(p, 'initrd'));
    warnings.push(...skipped);
    return {
      kernel,
      initrd: parts.length ? concatInitrds(parts) : undefined,
      append: config.append,
      partition: part,
      fsType: fs.type,
      configPath: found.path,
      config,
      warnings,
    };
  }
  const looked = `looked for ${CONFIG_PATHS.join(', ')}`;
  const why = skipped.length ? ` [${skipped.join('; ')}]` : table.scheme === 'none' ? '' : ' [the partition table is empty]';
  const extra = warnings.length ? ` (${warnings.join('; ')})` : '';
  return fail(`no partition with a boot configuration (${looked})${why}${extra}`);
}

function findConfig(fs: FileSystem): { path: string; text: string } | null {
  for (const p of CONFIG_PATHS) {
    const st = fs.stat(p);
    if (!st || st.kind !== 'file') continue;
    if (st.size > MAX_CONFIG) throw new FsError('toolarge', `${p} is ${st.size} bytes, too large for a boot configuration`);
    return { path: p, text: new TextDecoder().decode(fs.readFile(p)) };
  }
  return null;
}

/**
 * Reads a kernel or initrd path. Menus for a separate /boot partition name files from that
 * partition's root ("/vmlinuz-6.1"); the same menu on a root filesystem lives under /boot, so
 * a path not found as written is retried below /boot when the configuration is there.
 */
function readBootFile(fs: FileSystem, p: string, configPath: string): Uint8Array {
  try {
    return fs.readFile(p);
  } catch (e) {
    if (e instanceof FsError && e.code === 'notfound' && configPath.startsWith('/boot/') && !p.startsWith('/boot/')) {
      if (fs.stat(`/boot${p}`)) return fs.readFile(`/boot${p}`);
    }
    throw e;
  }
}

function configFiles(fs: FileSystem): ConfigFiles {
  const text = (p: string): string | null => {
    const st = fs.stat(p);
    if (!st || st.kind !== 'file' || st.size > MAX_CONFIG) return null;
    return new TextDecoder().decode(fs.readFile(p));
  };
  return {
    read: text,
    list: (p) => {
      const st = fs.stat(p);
      if (!st || st.kind !== 'dir') return null;
      return fs.readDir(p).map((e) => e.name);
    },
  };
}

/** Linux unpacks concatenated cpio archives; each must start on a 4-byte boundary. */
export function concatInitrds(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let total = 0;
  for (const p of parts) total = Math.ceil(total / 4) * 4 + p.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    o = Math.ceil(o / 4) * 4;
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function errText(e: unknown): string {
  if (e instanceof UsageError || e instanceof DiskFormatError || e instanceof RangeError) return e.message;
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
