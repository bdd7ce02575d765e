import { DiskFormatError } from '../errors.js';
import type { ImageFile } from '../image-file.js';
import { NO_OFFSET } from './be.js';
import {
  DEFAULT_BLOCK_SIZE,
  type DynamicHeader,
  encodeDynamicHeader,
  HEADER_SIZE,
  type ParentLocatorEntry,
} from './dynamic-header.js';
import { DiskType, encodeFooter, FEATURE_RESERVED, FOOTER_SIZE, type VhdFooter } from './footer.js';
import { type Geometry, vhdSizeFor } from './geometry.js';
import { vhdNow } from './timestamp.js';
import { newUuid } from './uuid.js';

/** What vmrun puts in the creator fields: its own tag, so images can be traced back to it. */
export const CREATOR_APP = 'vmrn';
export const CREATOR_VERSION = 0x00000001;
// The spec only defines Windows and Macintosh hosts; QEMU and Xen also write Wi2k from Linux.
export const CREATOR_HOST_OS = 'Wi2k';

export interface ParentInfo {
  footer: VhdFooter;
  /** Parent's modification time, VHD epoch. */
  timestamp: number;
  /** File name stored in the header's parent name field. */
  name: string;
  locators: Array<{ code: number; data: Uint8Array }>;
}

export interface NewVhd {
  type: 'fixed' | 'dynamic' | 'differencing';
  /** Requested bytes; rounded up to a CHS-exact size. Ignored for differencing disks. */
  size?: number;
  blockSize?: number;
  parent?: ParentInfo;
  /** Keep the size as given (already sector-aligned) instead of rounding to CHS. */
  exactSize?: { size: number; geometry: Geometry };
}

export const TABLE_OFFSET = FOOTER_SIZE + HEADER_SIZE;

/** Writes a complete, empty VHD into an empty file and returns its footer. */
export function writeNewVhd(file: ImageFile, spec: NewVhd): VhdFooter {
  let size: number;
  let geometry: Geometry;
  if (spec.type === 'differencing') {
    if (!spec.parent) throw new DiskFormatError('a differencing disk needs a parent');
    size = spec.parent.footer.currentSize;
    geometry = spec.parent.footer.geometry;
  } else if (spec.exactSize) {
    ({ size, geometry } = spec.exactSize);
  } else {
    if (!spec.size || spec.size <= 0 || !Number.isSafeInteger(spec.size)) throw new DiskFormatError('disk size must be a positive number of bytes');
    ({ size, geometry } = vhdSizeFor(spec.size));
  }
  const diskType = spec.type === 'fixed' ? DiskType.Fixed : spec.type === 'dynamic' ? DiskType.Dynamic : DiskType.Differencing;
  const footer: VhdFooter = {
    features: FEATURE_RESERVED,
    formatVersion: 0x00010000,
    dataOffset: diskType === DiskType.Fixed ? NO_OFFSET : FOOTER_SIZE,
    timestamp: vhdNow(),
    creatorApp: CREATOR_APP,
    creatorVersion: CREATOR_VERSION,
    creatorHostOs: CREATOR_HOST_OS,
    originalSize: size,
    currentSize: size,
    geometry,
    diskType,
    checksum: 0,
    uuid: newUuid(),
    savedState: 0,
  };
  const footerBytes = encodeFooter(footer);
  if (diskType === DiskType.Fixed) {
    file.truncate(size);
    file.write(footerBytes, size);
    return footer;
  }

  const blockSize = spec.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (blockSize < 512 || (blockSize & (blockSize - 1)) !== 0 || blockSize > 256 * 1024 * 1024) {
    throw new DiskFormatError(`block size ${blockSize} is not a power of two between 512 bytes and 256 MiB`);
  }
  const entries = Math.ceil(size / blockSize);
  const batBytes = Math.ceil((entries * 4) / 512) * 512;
  let cursor = TABLE_OFFSET + batBytes;
  const locators: ParentLocatorEntry[] = [];
  const locatorData: Array<[number, Uint8Array]> = [];
  for (const l of spec.parent?.locators ?? []) {
    const space = Math.ceil(l.data.length / 512) * 512;
    // Data space in bytes, as Microsoft's tools write it; readers rely on the length.
    locators.push({ code: l.code, dataSpace: space, dataLength: l.data.length, dataOffset: cursor });
    locatorData.push([cursor, l.data]);
    cursor += space;
  }
  const header: DynamicHeader = {
    tableOffset: TABLE_OFFSET,
    headerVersion: 0x00010000,
    maxTableEntries: entries,
    blockSize,
    checksum: 0,
    parentUuid: spec.parent ? spec.parent.footer.uuid : new Uint8Array(16),
    parentTimestamp: spec.parent?.timestamp ?? 0,
    parentName: spec.parent?.name ?? '',
    locators,
  };
  const bat = new Uint8Array(batBytes).fill(0xff);
  file.write(bat, TABLE_OFFSET);
  for (const [pos, data] of locatorData) {
    const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
    padded.set(data);
    file.write(padded, pos);
  }
  file.write(encodeDynamicHeader(header), FOOTER_SIZE);
  file.write(footerBytes, 0);
  file.write(footerBytes, cursor);
  return footer;
}
