import { DiskFormatError } from '../errors.js';
import type { ImageFile } from '../image-file.js';
import { ascii } from './be.js';
import {
  bitmapBytesFor,
  decodeDynamicHeader,
  type DynamicHeader,
  HEADER_SIZE,
  UNUSED_BAT_ENTRY,
} from './dynamic-header.js';
import { decodeFooter, DiskType, FOOTER_SIZE, type VhdFooter } from './footer.js';

/** Everything a VHD says about itself, validated so that reads can never leave the file. */
export interface VhdStructure {
  footer: VhdFooter;
  /** The footer exactly as stored, reserved bytes included, for rewriting it unchanged. */
  footerBytes: Uint8Array;
  /** Where the end footer is, or where a repaired one belongs. */
  footerPos: number;
  /** Set when the end footer was unusable and the copy at offset 0 stood in for it. */
  recoveredFrom: string | null;
  copyMismatch: boolean;
  header: DynamicHeader | null;
  bat: Uint32Array | null;
  bitmapBytes: number;
  /** End of the last structure or block: where the next block goes. */
  nextFree: number;
  /** Problems that do not stop reading but mean the image needs repair. */
  issues: string[];
}

function align512(n: number): number {
  return Math.ceil(n / 512) * 512;
}

function readExact(file: ImageFile, pos: number, len: number): Uint8Array | null {
  const b = new Uint8Array(len);
  return file.read(b, pos) === len ? b : null;
}

function readStruct(file: ImageFile, pos: number, len: number, what: string): Uint8Array {
  const b = readExact(file, pos, len);
  if (!b) throw new DiskFormatError(`truncated: ${what} lies past the end of the file`);
  return b;
}

export function looksLikeVhd(file: ImageFile): boolean {
  const size = file.size();
  if (size < FOOTER_SIZE) return false;
  const end = readExact(file, size - FOOTER_SIZE, 8);
  const start = readExact(file, 0, 8);
  return (end !== null && ascii(end, 0, 8) === 'conectix') || (start !== null && ascii(start, 0, 8) === 'conectix');
}

export function readVhdStructure(file: ImageFile): VhdStructure {
  const size = file.size();
  if (size < FOOTER_SIZE) throw new DiskFormatError(`file is too small to be a VHD (${size} bytes)`);
  const issues: string[] = [];
  let footer: VhdFooter;
  let footerBytes: Uint8Array;
  let footerPos = size - FOOTER_SIZE;
  let recoveredFrom: string | null = null;
  let copyMismatch = false;
  const endBytes = readExact(file, footerPos, FOOTER_SIZE)!;
  const copyBytes = size >= 2 * FOOTER_SIZE ? readExact(file, 0, FOOTER_SIZE) : null;
  try {
    footer = decodeFooter(endBytes);
    footerBytes = endBytes;
  } catch (endErr) {
    let copy: VhdFooter | null = null;
    let copyErr = 'absent';
    if (copyBytes) {
      try {
        copy = decodeFooter(copyBytes);
      } catch (e) {
        copyErr = (e as Error).message;
      }
    }
    if (!copy || copy.diskType === DiskType.Fixed) {
      throw new DiskFormatError(`not a usable VHD: end footer: ${(endErr as Error).message}; copy at offset 0: ${copyErr}`);
    }
    footer = copy;
    footerBytes = copyBytes!;
    footerPos = align512(size);
    recoveredFrom = `end footer damaged (${(endErr as Error).message}); recovered from the copy at offset 0`;
    issues.push(recoveredFrom);
  }

  if (footer.diskType === DiskType.Fixed) {
    if (footerPos < footer.currentSize) {
      throw new DiskFormatError(`truncated: a ${footer.currentSize}-byte fixed disk needs ${footer.currentSize + FOOTER_SIZE} bytes, the file has ${size}`);
    }
    return { footer, footerBytes, footerPos, recoveredFrom, copyMismatch, header: null, bat: null, bitmapBytes: 0, nextFree: footerPos, issues };
  }

  if (!recoveredFrom && copyBytes && !equalBytes(copyBytes, endBytes)) {
    copyMismatch = true;
    issues.push('footer copy at offset 0 differs from the end footer');
  }
  // Structures must lie before the footer, and inside the file when the footer was recovered.
  const limit = Math.min(footerPos, size);
  if (footer.dataOffset + HEADER_SIZE > limit) throw new DiskFormatError('truncated: dynamic disk header lies past the end of the file');
  const header = decodeDynamicHeader(readStruct(file, footer.dataOffset, HEADER_SIZE, 'dynamic disk header'));
  const needed = Math.ceil(footer.currentSize / header.blockSize);
  if (header.maxTableEntries < needed) {
    throw new DiskFormatError(`block allocation table has ${header.maxTableEntries} entries, the disk size needs ${needed}`);
  }
  const batBytes = align512(header.maxTableEntries * 4);
  if (header.tableOffset + header.maxTableEntries * 4 > limit) {
    throw new DiskFormatError('truncated: block allocation table lies past the end of the file');
  }
  const raw = readStruct(file, header.tableOffset, header.maxTableEntries * 4, 'block allocation table');
  const bat = new Uint32Array(header.maxTableEntries);
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < bat.length; i++) bat[i] = dv.getUint32(i * 4, false);

  const bitmapBytes = bitmapBytesFor(header.blockSize);
  const blockSpan = bitmapBytes + header.blockSize;
  const regions: Array<[number, number, string]> = [
    [footer.dataOffset, footer.dataOffset + HEADER_SIZE, 'dynamic header'],
    [header.tableOffset, header.tableOffset + batBytes, 'block allocation table'],
  ];
  if (footer.dataOffset > 0) regions.push([0, FOOTER_SIZE, 'footer copy']);
  for (const l of header.locators) {
    if (l.dataLength === 0) continue;
    // A locator outside the file is unreadable; it must not steer where new blocks go.
    if (!Number.isSafeInteger(l.dataOffset) || l.dataOffset < 0 || l.dataOffset + l.dataLength > limit) {
      if (footer.diskType === DiskType.Differencing) issues.push(`a parent locator points outside the file (offset ${l.dataOffset})`);
      continue;
    }
    regions.push([l.dataOffset, l.dataOffset + l.dataLength, 'parent locator']);
  }
  let nextFree = 0;
  for (const [, e] of regions) nextFree = Math.max(nextFree, e);
  for (let i = 0; i < bat.length; i++) {
    const entry = bat[i]!;
    if (entry === UNUSED_BAT_ENTRY) continue;
    const start = entry * 512;
    const end = start + blockSpan;
    if (end > limit) {
      throw new DiskFormatError(`truncated: block ${i} at offset ${start} extends past the end of the file (${size} bytes)`);
    }
    if (i >= needed) issues.push(`block ${i} is allocated but lies beyond the disk size`);
    regions.push([start, end, `block ${i}`]);
    nextFree = Math.max(nextFree, end);
  }
  regions.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < regions.length; i++) {
    const prev = regions[i - 1]!;
    const cur = regions[i]!;
    if (cur[0] < prev[1]) issues.push(`${cur[2]} at offset ${cur[0]} overlaps ${prev[2]} at offset ${prev[0]}`);
  }
  return { footer, footerBytes, footerPos, recoveredFrom, copyMismatch, header, bat, bitmapBytes, nextFree: align512(nextFree), issues };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
