import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockDevice } from './block-device.js';
import { DiskFormatError, describeError } from './errors.js';
import { FdFile, type ImageFile } from './image-file.js';
import { RawDisk } from './raw-disk.js';
import { diskTypeName } from './vhd/footer.js';
import { openVhdFile } from './vhd/open-vhd.js';
import { candidatePaths, readParentLocations } from './vhd/parent-locator.js';
import { looksLikeVhd, type VhdStructure } from './vhd/structure.js';
import { uuidEqual, uuidToString } from './vhd/uuid.js';

export type ImageFormat = 'raw' | 'vhd';
export type Subformat = 'fixed' | 'dynamic' | 'differencing';

export interface OpenOptions {
  readOnly?: boolean;
  /** 'auto' trusts a .vhd/.vpc extension, otherwise looks for a VHD footer. */
  format?: ImageFormat | 'auto';
  durable?: boolean;
}

/** An opened image and, for differencing disks, the chain of images below it. */
export interface OpenedImage {
  path: string;
  format: ImageFormat;
  subformat: Subformat | null;
  device: BlockDevice;
  structure: VhdStructure | null;
  parent: OpenedImage | null;
  warnings: string[];
}

const MAX_CHAIN = 32;

export function openImage(file: string, opts: OpenOptions = {}): OpenedImage {
  return openAt(path.resolve(file), opts, []);
}

function openAt(file: string, opts: OpenOptions, below: string[]): OpenedImage {
  let f: ImageFile;
  try {
    f = new FdFile(file, opts.readOnly ?? false);
  } catch (e) {
    throw new DiskFormatError(`cannot open: ${describeError(e)}`);
  }
  try {
    const format = chooseFormat(file, f, opts.format ?? 'auto');
    if (format === 'raw') {
      return { path: file, format, subformat: null, device: new RawDisk(f), structure: null, parent: null, warnings: [] };
    }
    let parent: OpenedImage | null = null;
    const { structure, device } = openVhdFile(
      f,
      (s) => {
        parent = openParent(file, f, s, [...below, file]);
        return parent.device;
      },
      { durable: opts.durable },
    );
    const warnings = structure.recoveredFrom ? [structure.recoveredFrom] : [];
    return { path: file, format, subformat: diskTypeName(structure.footer.diskType), device, structure, parent, warnings };
  } catch (e) {
    f.close();
    throw e;
  }
}

function chooseFormat(file: string, f: ImageFile, format: ImageFormat | 'auto'): ImageFormat {
  if (format !== 'auto') return format;
  if (/\.(vhd|vpc)$/i.test(file)) return 'vhd';
  return looksLikeVhd(f) ? 'vhd' : 'raw';
}

/** Relative locators first, then absolute ones, then the header's parent name beside the child. */
function openParent(child: string, childFile: ImageFile, s: VhdStructure, chain: string[]): OpenedImage {
  if (chain.length >= MAX_CHAIN) throw new DiskFormatError(`parent chain is deeper than ${MAX_CHAIN} images`);
  const header = s.header!;
  const tried: string[] = [];
  const candidates: string[] = [];
  let mismatch: string | undefined;
  for (const loc of readParentLocations(childFile, header.locators)) candidates.push(...candidatePaths(loc, child));
  if (header.parentName) candidates.push(...candidatePaths({ kind: 'relative', platform: 'name', path: path.win32.basename(header.parentName) }, child));
  for (const c of candidates) {
    if (tried.includes(c)) continue;
    tried.push(c);
    if (!fs.existsSync(c)) continue;
    if (chain.includes(path.resolve(c))) throw new DiskFormatError(`parent chain loops back to ${c}`);
    const p = openAt(c, { readOnly: true, format: 'vhd' }, chain);
    const uuid = p.structure?.footer.uuid;
    if (!uuid || !uuidEqual(uuid, header.parentUuid)) {
      p.device.close();
      mismatch ??= `parent ${c} has UUID ${uuid ? uuidToString(uuid) : 'none'}, the differencing disk expects ${uuidToString(header.parentUuid)}`;
      continue;
    }
    if (p.device.size < s.footer.currentSize) {
      // Tolerated (reads past the parent's end are zeros), but worth saying.
      p.warnings.push(`parent is smaller than the differencing disk`);
    }
    return p;
  }
  if (mismatch) throw new DiskFormatError(mismatch);
  throw new DiskFormatError(`parent disk not found (tried ${tried.length ? tried.join(', ') : 'no locators'})`);
}

/** Paths of an image's chain, the image itself first. */
export function chainPaths(img: OpenedImage): string[] {
  const out: string[] = [];
  for (let p: OpenedImage | null = img; p; p = p.parent) out.push(p.path);
  return out;
}
