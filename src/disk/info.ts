import * as fs from 'node:fs';
import { formatSize } from './size.js';
import { openImage, type ImageFormat, type OpenedImage, type Subformat } from './open-image.js';
import { DiskType } from './vhd/footer.js';
import { geometrySectors } from './vhd/geometry.js';
import { SparseVhd } from './vhd/sparse-disk.js';
import { vhdTimeToDate } from './vhd/timestamp.js';
import { uuidToString } from './vhd/uuid.js';

export interface ImageInfo {
  path: string;
  format: ImageFormat;
  subformat: Subformat | null;
  virtualSize: number;
  fileSize: number;
  blockSize: number | null;
  /** Bytes of the virtual disk this file itself stores (whole blocks for dynamic VHDs). */
  allocatedBytes: number;
  uuid?: string;
  creator?: { application: string; version: number; hostOs: string };
  created?: string;
  geometry?: { cylinders: number; heads: number; sectorsPerTrack: number };
  parent: ImageInfo | null;
  /** Problems worth a user's attention (printed on stderr by the CLI). */
  warnings: string[];
  /** Facts about interoperability that are not problems. */
  notes: string[];
}

export function imageInfo(file: string, format: ImageFormat | 'auto' = 'auto'): ImageInfo {
  const img = openImage(file, { readOnly: true, format });
  try {
    return describe(img);
  } finally {
    img.device.close();
  }
}

function describe(img: OpenedImage): ImageInfo {
  const st = fs.statSync(img.path);
  const info: ImageInfo = {
    path: img.path,
    format: img.format,
    subformat: img.subformat,
    virtualSize: img.device.size,
    fileSize: st.size,
    blockSize: img.structure?.header?.blockSize ?? null,
    allocatedBytes: img.device.size,
    parent: img.parent ? describe(img.parent) : null,
    warnings: [...img.warnings],
    notes: [],
  };
  if (img.format === 'raw') info.allocatedBytes = Math.min(img.device.size, st.blocks * 512);
  const s = img.structure;
  if (s) {
    const f = s.footer;
    info.uuid = uuidToString(f.uuid);
    info.creator = { application: f.creatorApp.replace(/\0+$/, ''), version: f.creatorVersion, hostOs: f.creatorHostOs.replace(/\0+$/, '') };
    info.created = vhdTimeToDate(f.timestamp).toISOString();
    info.geometry = { ...f.geometry };
    if (f.diskType !== DiskType.Fixed && img.device instanceof SparseVhd && s.header) {
      info.allocatedBytes = Math.min(img.device.allocatedBlocks() * s.header.blockSize, f.currentSize);
    }
    const chs = geometrySectors(f.geometry) * 512;
    if (chs !== f.currentSize && chs < f.currentSize && f.geometry.cylinders !== 65535) {
      info.notes.push(`CHS geometry covers ${chs} bytes, less than the ${f.currentSize}-byte size; tools that size VHDs by geometry (Virtual PC, QEMU) will see a smaller disk`);
    }
  }
  return info;
}

export function formatInfoText(info: ImageInfo): string {
  const lines: string[] = [];
  const fmt = (n: number) => `${n} bytes${n >= 1024 ? ` (${formatSize(n)})` : ''}`;
  let depth = 0;
  for (let i: ImageInfo | null = info; i; i = i.parent, depth++) {
    const pad = '  '.repeat(depth);
    if (depth > 0) lines.push(`${pad.slice(2)}parent:`);
    lines.push(`${pad}image: ${i.path}`);
    lines.push(`${pad}format: ${i.format}${i.subformat ? ` (${i.subformat})` : ''}`);
    lines.push(`${pad}virtual size: ${fmt(i.virtualSize)}`);
    lines.push(`${pad}file size: ${fmt(i.fileSize)}`);
    if (i.blockSize !== null) lines.push(`${pad}block size: ${fmt(i.blockSize)}`);
    lines.push(`${pad}allocated: ${fmt(i.allocatedBytes)}`);
    if (i.uuid) lines.push(`${pad}uuid: ${i.uuid}`);
    if (i.creator) lines.push(`${pad}creator: ${JSON.stringify(i.creator.application)} v${i.creator.version.toString(16)} on ${JSON.stringify(i.creator.hostOs)}`);
    if (i.geometry) lines.push(`${pad}geometry: ${i.geometry.cylinders}/${i.geometry.heads}/${i.geometry.sectorsPerTrack} (C/H/S)`);
    for (const w of i.warnings) lines.push(`${pad}warning: ${w}`);
    for (const n of i.notes) lines.push(`${pad}note: ${n}`);
  }
  return lines.join('\n') + '\n';
}

