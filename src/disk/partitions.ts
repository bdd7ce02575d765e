import type { BlockDevice } from './block-device.js';

export type PartitionScheme = 'mbr' | 'gpt' | 'none';

export interface Partition {
  /** As Linux numbers them: MBR primaries 1-4, logical partitions from 5; GPT entries by slot, from 1. */
  index: number;
  /** Byte offset and length on the disk. */
  start: number;
  size: number;
  /** MBR: the type byte as '0x83'; GPT: the type GUID, lower case. */
  type: string;
  typeName: string;
  /** MBR active flag (0x80); GPT attribute bit 2, "legacy BIOS bootable". */
  bootable: boolean;
  /** GPT partition name; '' for MBR. */
  name: string;
}

export interface PartitionTable {
  scheme: PartitionScheme;
  partitions: Partition[];
  /** Damage that was worked around (a corrupt primary GPT, entries past the end of the disk). */
  warnings: string[];
}

const MAX_LOGICAL = 128;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

const MBR_TYPE_NAMES: Record<number, string> = {
  0x01: 'FAT12', 0x04: 'FAT16 <32M', 0x06: 'FAT16', 0x07: 'HPFS/NTFS/exFAT', 0x0b: 'W95 FAT32', 0x0c: 'W95 FAT32 (LBA)',
  0x0e: 'W95 FAT16 (LBA)', 0x82: 'Linux swap', 0x83: 'Linux', 0x8e: 'Linux LVM', 0xa5: 'FreeBSD', 0xef: 'EFI (FAT-12/16/32)',
  0xfd: 'Linux raid autodetect', 0xee: 'GPT protective',
};

const GPT_TYPE_NAMES: Record<string, string> = {
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b': 'EFI System',
  '21686148-6449-6e6f-744e-656564454649': 'BIOS boot',
  '0fc63daf-8483-4772-8e79-3d69d8477de4': 'Linux filesystem',
  '4f68bce3-e8cd-4db1-96e7-fbcaf984b709': 'Linux root (x86-64)',
  'bc13c2ff-59e6-4262-a352-b275fd6f7172': 'Linux extended boot',
  '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f': 'Linux swap',
  'e6d6d379-f507-44c2-a23c-238f2a3df928': 'Linux LVM',
  'a19d880f-05fc-4d3b-a006-743f0f84911e': 'Linux RAID',
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7': 'Microsoft basic data',
};

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, reflected), as GPT and zlib use it. */
export function crc32(b: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const u64 = (b: Uint8Array, o: number): number => u32(b, o) + u32(b, o + 4) * 0x1_0000_0000;

/** GUIDs are stored mixed-endian: the first three fields little-endian, the rest as bytes. */
export function guidToString(b: Uint8Array, o = 0): string {
  const h = (i: number) => b[o + i]!.toString(16).padStart(2, '0');
  return (
    [3, 2, 1, 0].map(h).join('') + '-' + [5, 4].map(h).join('') + '-' + [7, 6].map(h).join('') + '-' +
    [8, 9].map(h).join('') + '-' + [10, 11, 12, 13, 14, 15].map(h).join('')
  );
}

export function guidToBytes(s: string): Uint8Array {
  const hex = s.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`bad GUID ${s}`);
  const raw = Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Uint8Array.from(order, (i) => raw[i]!);
}

function readSectors(dev: BlockDevice, offset: number, length: number): Uint8Array | null {
  if (offset < 0 || offset + length > dev.size) return null;
  const b = new Uint8Array(length);
  dev.read(b, offset);
  return b;
}

/**
 * The partitions of DEV. A disk with neither a valid MBR nor a GPT is scheme 'none' with no
 * partitions: it may still hold a filesystem on the whole disk.
 */
export function readPartitions(dev: BlockDevice): PartitionTable {
  const warnings: string[] = [];
  const mbr = readSectors(dev, 0, 512);
  if (!mbr || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return { scheme: 'none', partitions: [], warnings };
  const entries = [0, 1, 2, 3].map((i) => mbr.subarray(446 + i * 16, 462 + i * 16));
  // Linux's test: a boot sector whose "entries" have status bytes other than 0/0x80 is a
  // filesystem boot sector (FAT, NTFS) with code or a BPB there, not a partition table.
  if (entries.some((e) => e[0] !== 0 && e[0] !== 0x80)) return { scheme: 'none', partitions: [], warnings };
  if (entries.some((e) => e[4] === 0xee)) {
    const gpt = readGpt(dev, warnings);
    if (gpt) return { scheme: 'gpt', partitions: gpt, warnings };
    warnings.push('protective MBR but no valid GPT (primary and backup both bad); using the MBR entries');
  }
  const partitions: Partition[] = [];
  const sector = 512;
  entries.forEach((e, i) => {
    const type = e[4]!;
    const lba = u32(e, 8);
    const count = u32(e, 12);
    if (type === 0 || type === 0xee || count === 0) return;
    if (EXTENDED_TYPES.has(type)) {
      readLogical(dev, lba, partitions, warnings);
      return;
    }
    const p = makePartition(dev, i + 1, lba * sector, count * sector, e[0] === 0x80, mbrType(type), MBR_TYPE_NAMES[type] ?? 'unknown', '', warnings);
    if (p) partitions.push(p);
  });
  if (partitions.length === 0 && !entries.some((e) => e[4] !== 0)) {
    // A valid signature and four empty slots: a whole-disk filesystem or an unpartitioned disk.
    return { scheme: 'none', partitions, warnings };
  }
  partitions.sort((a, b) => a.index - b.index);
  return { scheme: 'mbr', partitions, warnings };
}

function mbrType(t: number): string {
  return `0x${t.toString(16).padStart(2, '0')}`;
}

/**
 * Walks the chain of extended boot records. Each EBR's first entry is a logical partition
 * relative to that EBR; its second links to the next EBR relative to the extended partition.
 */
function readLogical(dev: BlockDevice, extLba: number, out: Partition[], warnings: string[]): void {
  const seen = new Set<number>();
  let ebrLba = extLba;
  let index = 5;
  while (true) {
    if (seen.has(ebrLba)) {
      warnings.push(`extended partition: EBR chain loops back to sector ${ebrLba}`);
      return;
    }
    if (seen.size >= MAX_LOGICAL) {
      warnings.push(`extended partition: more than ${MAX_LOGICAL} logical partitions; ignoring the rest`);
      return;
    }
    seen.add(ebrLba);
    const ebr = readSectors(dev, ebrLba * 512, 512);
    if (!ebr || ebr[510] !== 0x55 || ebr[511] !== 0xaa) {
      warnings.push(`extended partition: no valid EBR at sector ${ebrLba}`);
      return;
    }
    const e0 = ebr.subarray(446, 462);
    const e1 = ebr.subarray(462, 478);
    if (e0[4] !== 0 && u32(e0, 12) !== 0) {
      const p = makePartition(dev, index, (ebrLba + u32(e0, 8)) * 512, u32(e0, 12) * 512, e0[0] === 0x80, mbrType(e0[4]!), MBR_TYPE_NAMES[e0[4]!] ?? 'unknown', '', warnings);
      if (p) out.push(p);
    }
    // Linux numbers every EBR slot, so an empty one still uses up its number.
    index++;
    if (e1[4] === 0 || !EXTENDED_TYPES.has(e1[4]!) || u32(e1, 12) === 0) return;
    ebrLba = extLba + u32(e1, 8);
  }
}

function makePartition(
  dev: BlockDevice, index: number, start: number, size: number, bootable: boolean, type: string, typeName: string, name: string, warnings: string[],
): Partition | null {
  if (start >= dev.size || start === 0) {
    warnings.push(`partition ${index} starts at byte ${start}, outside the ${dev.size}-byte disk; ignored`);
    return null;
  }
  if (start + size > dev.size) {
    warnings.push(`partition ${index} runs past the end of the disk; truncated to it`);
    size = dev.size - start;
  }
  return { index, start, size, type, typeName, bootable, name };
}

interface GptHeader {
  entriesLba: number;
  count: number;
  entrySize: number;
  entriesCrc: number;
  firstUsable: number;
  lastUsable: number;
  alternate: number;
}

function parseGptHeader(b: Uint8Array, myLba: number, sectorSize: number): GptHeader | string {
  if (new TextDecoder().decode(b.subarray(0, 8)) !== 'EFI PART') return 'no "EFI PART" signature';
  const hsize = u32(b, 12);
  if (hsize < 92 || hsize > sectorSize) return `header size ${hsize}`;
  const copy = b.slice(0, hsize);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== u32(b, 16)) return 'header CRC mismatch';
  if (u64(b, 24) !== myLba) return `header claims to be at LBA ${u64(b, 24)}, found at ${myLba}`;
  const h: GptHeader = {
    alternate: u64(b, 32),
    firstUsable: u64(b, 40),
    lastUsable: u64(b, 48),
    entriesLba: u64(b, 72),
    count: u32(b, 80),
    entrySize: u32(b, 84),
    entriesCrc: u32(b, 88),
  };
  if (h.entrySize < 128 || h.entrySize % 8 !== 0 || h.entrySize > 4096) return `entry size ${h.entrySize}`;
  if (h.count > 65536 || h.count * h.entrySize > 16 << 20) return `${h.count} entries`;
  return h;
}

/** Primary header first; the backup at the last sector when the primary or its entries are bad. */
function readGpt(dev: BlockDevice, warnings: string[]): Partition[] | null {
  // A VHD presents 512-byte sectors, but an image copied from a 4Kn disk keeps its 4 KiB LBAs.
  for (const ss of [512, 4096]) {
    const lastLba = Math.floor(dev.size / ss) - 1;
    const problems: string[] = [];
    for (const [where, lba] of [['primary', 1], ['backup', lastLba]] as const) {
      const hb = readSectors(dev, lba * ss, ss);
      if (!hb) continue;
      const h = parseGptHeader(hb, lba, ss);
      if (typeof h === 'string') {
        problems.push(`${where} GPT header: ${h}`);
        continue;
      }
      const table = readSectors(dev, h.entriesLba * ss, Math.ceil((h.count * h.entrySize) / ss) * ss);
      if (!table) {
        problems.push(`${where} GPT entries lie outside the disk`);
        continue;
      }
      if (crc32(table.subarray(0, h.count * h.entrySize)) !== h.entriesCrc) {
        problems.push(`${where} GPT entries: CRC mismatch`);
        continue;
      }
      if (where === 'backup') warnings.push(...problems, 'using the backup GPT');
      return gptEntries(dev, h, table, ss, warnings);
    }
    if (ss === 512 && problems.some((p) => !p.includes('signature'))) {
      warnings.push(...problems);
      return null;
    }
  }
  return null;
}

function gptEntries(dev: BlockDevice, h: GptHeader, table: Uint8Array, ss: number, warnings: string[]): Partition[] {
  const out: Partition[] = [];
  for (let i = 0; i < h.count; i++) {
    const e = table.subarray(i * h.entrySize, (i + 1) * h.entrySize);
    if (e.subarray(0, 16).every((x) => x === 0)) continue;
    const first = u64(e, 32);
    const last = u64(e, 40);
    if (last < first) {
      warnings.push(`GPT entry ${i + 1}: last LBA ${last} before first ${first}; ignored`);
      continue;
    }
    let name = '';
    for (let k = 56; k + 1 < Math.min(e.length, 128); k += 2) {
      const c = u16(e, k);
      if (c === 0) break;
      name += String.fromCharCode(c);
    }
    const type = guidToString(e, 0);
    const attrs = u32(e, 48);
    const p = makePartition(dev, i + 1, first * ss, (last - first + 1) * ss, (attrs & 4) !== 0, type, GPT_TYPE_NAMES[type] ?? 'unknown', name, warnings);
    if (p) out.push(p);
  }
  return out;
}
