import { DiskFormatError } from '../errors.js';
import { ascii, NO_OFFSET, putAscii, putU32, putU64, u32, u64, vhdChecksum } from './be.js';
import { hex } from './footer.js';

export const HEADER_SIZE = 1024;
export const HEADER_COOKIE = 'cxsparse';
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
export const UNUSED_BAT_ENTRY = 0xffffffff;

/** Parent locator platform codes (VHD spec, dynamic disk header). */
export const PlatformCode = {
  None: 0,
  Wi2r: 0x57693272, // Windows relative path, deprecated
  Wi2k: 0x5769326b, // Windows absolute path, deprecated
  W2ru: 0x57327275, // Windows relative path, UTF-16LE
  W2ku: 0x57326b75, // Windows absolute path, UTF-16LE
  Mac: 0x4d616320, // Mac OS alias blob
  MacX: 0x4d616358, // file:// URL, UTF-8
} as const;

export interface ParentLocatorEntry {
  code: number;
  /** As stored; Microsoft writes bytes where the spec says sectors, so readers trust dataLength. */
  dataSpace: number;
  dataLength: number;
  dataOffset: number;
}

/** The dynamic disk header ("cxsparse"), shared by dynamic and differencing disks. */
export interface DynamicHeader {
  tableOffset: number;
  headerVersion: number;
  maxTableEntries: number;
  blockSize: number;
  checksum: number;
  parentUuid: Uint8Array;
  parentTimestamp: number;
  parentName: string;
  locators: ParentLocatorEntry[];
}

const LOCATOR_BASE = 576;
const LOCATOR_SIZE = 24;
const MAX_BLOCK_SIZE = 256 * 1024 * 1024;

export function decodeDynamicHeader(b: Uint8Array): DynamicHeader {
  if (b.length < HEADER_SIZE) throw new DiskFormatError('dynamic disk header is truncated');
  if (ascii(b, 0, 8) !== HEADER_COOKIE) throw new DiskFormatError('no "cxsparse" dynamic header cookie');
  const stored = u32(b, 36);
  const computed = vhdChecksum(b.subarray(0, HEADER_SIZE), 36);
  if (stored !== computed) {
    throw new DiskFormatError(`dynamic header checksum mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)})`);
  }
  const h: DynamicHeader = {
    tableOffset: u64(b, 16),
    headerVersion: u32(b, 24),
    maxTableEntries: u32(b, 28),
    blockSize: u32(b, 32),
    checksum: stored,
    parentUuid: b.slice(40, 56),
    parentTimestamp: u32(b, 56),
    parentName: decodeUtf16(b.subarray(64, 576), false),
    locators: [],
  };
  for (let i = 0; i < 8; i++) {
    const o = LOCATOR_BASE + i * LOCATOR_SIZE;
    const code = u32(b, o);
    if (code === PlatformCode.None) continue;
    h.locators.push({ code, dataSpace: u32(b, o + 4), dataLength: u32(b, o + 8), dataOffset: u64(b, o + 16) });
  }
  if (h.headerVersion >>> 16 !== 1) throw new DiskFormatError(`unsupported dynamic header version 0x${hex(h.headerVersion)}`);
  const bs = h.blockSize;
  if (bs < 512 || bs > MAX_BLOCK_SIZE || (bs & (bs - 1)) !== 0) throw new DiskFormatError(`invalid block size ${bs}`);
  if (!Number.isSafeInteger(h.tableOffset) || h.tableOffset < 0 || h.tableOffset % 512 !== 0) {
    throw new DiskFormatError('block allocation table offset is invalid');
  }
  return h;
}

export function encodeDynamicHeader(h: DynamicHeader): Uint8Array {
  const b = new Uint8Array(HEADER_SIZE);
  putAscii(b, 0, HEADER_COOKIE, 8);
  // The spec text says 0xFFFFFFFF, but every implementation writes all 64 bits set.
  putU64(b, 8, NO_OFFSET);
  putU64(b, 16, h.tableOffset);
  putU32(b, 24, h.headerVersion);
  putU32(b, 28, h.maxTableEntries);
  putU32(b, 32, h.blockSize);
  b.set(h.parentUuid.subarray(0, 16), 40);
  putU32(b, 56, h.parentTimestamp);
  b.set(encodeUtf16(h.parentName, false).subarray(0, 512), 64);
  h.locators.slice(0, 8).forEach((l, i) => {
    const o = LOCATOR_BASE + i * LOCATOR_SIZE;
    putU32(b, o, l.code);
    putU32(b, o + 4, l.dataSpace);
    putU32(b, o + 8, l.dataLength);
    putU64(b, o + 16, l.dataOffset);
  });
  const sum = vhdChecksum(b, 36);
  putU32(b, 36, sum);
  h.checksum = sum;
  return b;
}

/** Sector bitmap bytes in front of each block, padded to whole sectors. */
export function bitmapBytesFor(blockSize: number): number {
  return Math.ceil(blockSize / 512 / 8 / 512) * 512;
}

export function decodeUtf16(b: Uint8Array, littleEndian: boolean): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = littleEndian ? b[i]! | (b[i + 1]! << 8) : (b[i]! << 8) | b[i + 1]!;
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

export function encodeUtf16(s: string, littleEndian: boolean): Uint8Array {
  const b = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    b[i * 2 + (littleEndian ? 0 : 1)] = c & 0xff;
    b[i * 2 + (littleEndian ? 1 : 0)] = c >>> 8;
  }
  return b;
}
