import { DiskFormatError } from '../errors.js';
import { ascii, NO_OFFSET, putAscii, putU16, putU32, putU64, u16, u32, u64, vhdChecksum } from './be.js';
import type { Geometry } from './geometry.js';

export const FOOTER_SIZE = 512;
export const FOOTER_COOKIE = 'conectix';

export const enum DiskType {
  Fixed = 2,
  Dynamic = 3,
  Differencing = 4,
}

export function diskTypeName(t: number): 'fixed' | 'dynamic' | 'differencing' {
  return t === DiskType.Fixed ? 'fixed' : t === DiskType.Dynamic ? 'dynamic' : 'differencing';
}

/** The hard disk footer: the only structure every VHD has, at the end of the file. */
export interface VhdFooter {
  features: number;
  formatVersion: number;
  /** Offset of the dynamic disk header, NO_OFFSET for fixed disks. */
  dataOffset: number;
  timestamp: number;
  creatorApp: string;
  creatorVersion: number;
  creatorHostOs: string;
  originalSize: number;
  currentSize: number;
  geometry: Geometry;
  diskType: number;
  checksum: number;
  uuid: Uint8Array;
  savedState: number;
}

/** Features field: bit 1 is "reserved, must be set"; bit 0 marks a temporary disk. */
export const FEATURE_RESERVED = 2;

export function decodeFooter(b: Uint8Array): VhdFooter {
  if (b.length < FOOTER_SIZE) throw new DiskFormatError('footer is shorter than 512 bytes');
  const cookie = ascii(b, 0, 8);
  if (cookie !== FOOTER_COOKIE) throw new DiskFormatError('no "conectix" footer cookie');
  const stored = u32(b, 64);
  const computed = vhdChecksum(b.subarray(0, FOOTER_SIZE), 64);
  if (stored !== computed) {
    throw new DiskFormatError(`footer checksum mismatch (stored 0x${hex(stored)}, computed 0x${hex(computed)})`);
  }
  const f: VhdFooter = {
    features: u32(b, 8),
    formatVersion: u32(b, 12),
    dataOffset: u64(b, 16),
    timestamp: u32(b, 24),
    creatorApp: ascii(b, 28, 4),
    creatorVersion: u32(b, 32),
    creatorHostOs: ascii(b, 36, 4),
    originalSize: u64(b, 40),
    currentSize: u64(b, 48),
    geometry: { cylinders: u16(b, 56), heads: b[58]!, sectorsPerTrack: b[59]! },
    diskType: u32(b, 60),
    checksum: stored,
    uuid: b.slice(68, 84),
    savedState: b[84]!,
  };
  if (f.formatVersion >>> 16 !== 1) throw new DiskFormatError(`unsupported VHD format version 0x${hex(f.formatVersion)}`);
  if (f.diskType !== DiskType.Fixed && f.diskType !== DiskType.Dynamic && f.diskType !== DiskType.Differencing) {
    throw new DiskFormatError(`unsupported disk type ${f.diskType}`);
  }
  if (!Number.isSafeInteger(f.currentSize) || f.currentSize < 0) throw new DiskFormatError('footer size field is out of range');
  if (f.currentSize % 512 !== 0) throw new DiskFormatError(`disk size ${f.currentSize} is not a whole number of sectors`);
  if (f.diskType === DiskType.Fixed) {
    if (f.dataOffset !== NO_OFFSET) throw new DiskFormatError('fixed disk footer has a data offset');
  } else if (!Number.isSafeInteger(f.dataOffset) || f.dataOffset < 0 || f.dataOffset % 512 !== 0) {
    throw new DiskFormatError('dynamic disk header offset is invalid');
  }
  return f;
}

export function encodeFooter(f: VhdFooter): Uint8Array {
  const b = new Uint8Array(FOOTER_SIZE);
  putAscii(b, 0, FOOTER_COOKIE, 8);
  putU32(b, 8, f.features);
  putU32(b, 12, f.formatVersion);
  putU64(b, 16, f.dataOffset);
  putU32(b, 24, f.timestamp);
  putAscii(b, 28, f.creatorApp, 4);
  putU32(b, 32, f.creatorVersion);
  putAscii(b, 36, f.creatorHostOs, 4);
  putU64(b, 40, f.originalSize);
  putU64(b, 48, f.currentSize);
  putU16(b, 56, f.geometry.cylinders);
  b[58] = f.geometry.heads;
  b[59] = f.geometry.sectorsPerTrack;
  putU32(b, 60, f.diskType);
  b.set(f.uuid.subarray(0, 16), 68);
  b[84] = f.savedState;
  const sum = vhdChecksum(b, 64);
  putU32(b, 64, sum);
  f.checksum = sum;
  return b;
}

export function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
