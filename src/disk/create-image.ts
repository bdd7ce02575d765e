import * as fs from 'node:fs';
import * as path from 'node:path';
import { withAtomicOutput } from './atomic-output.js';
import { DiskFormatError } from './errors.js';
import { openImage } from './open-image.js';
import { writeNewVhd, type ParentInfo } from './vhd/create.js';
import { encodeLocators } from './vhd/parent-locator.js';
import { vhdTimeFromDate } from './vhd/timestamp.js';
import type { VhdFooter } from './vhd/footer.js';

export interface CreateImageOptions {
  type?: 'fixed' | 'dynamic';
  size?: number;
  parent?: string;
  blockSize?: number;
}

/** Creates FILE as a fixed or dynamic VHD of a size, or as a differencing child of a VHD. */
export function createImage(file: string, opts: CreateImageOptions): VhdFooter {
  if (opts.parent) {
    const parent = parentInfoFor(opts.parent, file);
    return withAtomicOutput(file, (f) => writeNewVhd(f, { type: 'differencing', parent, blockSize: opts.blockSize }));
  }
  if (opts.size === undefined) throw new DiskFormatError('--size or --parent is required');
  return withAtomicOutput(file, (f) => writeNewVhd(f, { type: opts.type ?? 'dynamic', size: opts.size, blockSize: opts.blockSize }));
}

/** Reads what a child needs to know about its parent, proving on the way that the parent opens. */
export function parentInfoFor(parentPath: string, childPath: string): ParentInfo {
  const img = openImage(parentPath, { readOnly: true });
  try {
    if (img.format !== 'vhd' || !img.structure) throw new DiskFormatError(`parent ${parentPath} is not a VHD`);
    const abs = path.resolve(parentPath);
    return {
      footer: img.structure.footer,
      timestamp: vhdTimeFromDate(fs.statSync(abs).mtime),
      name: abs,
      locators: encodeLocators(childPath, abs),
    };
  } finally {
    img.device.close();
  }
}
