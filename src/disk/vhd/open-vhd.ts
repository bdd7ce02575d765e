import type { BlockDevice } from '../block-device.js';
import type { ImageFile } from '../image-file.js';
import { FixedVhd } from './fixed-disk.js';
import { DiskType } from './footer.js';
import { SparseVhd, type SparseOptions } from './sparse-disk.js';
import { readVhdStructure, type VhdStructure } from './structure.js';

export interface OpenedVhd {
  structure: VhdStructure;
  device: FixedVhd | SparseVhd;
}

/**
 * Opens a VHD held in `file`. A differencing disk asks `resolveParent` for its parent, which
 * must return an already opened device or throw; the UUID check belongs to the resolver
 * because only it knows which candidate files it tried.
 */
export function openVhdFile(
  file: ImageFile,
  resolveParent: (s: VhdStructure) => BlockDevice,
  opts: SparseOptions = {},
): OpenedVhd {
  const structure = readVhdStructure(file);
  if (structure.footer.diskType === DiskType.Fixed) return { structure, device: new FixedVhd(file, structure) };
  const parent = structure.footer.diskType === DiskType.Differencing ? resolveParent(structure) : null;
  try {
    return { structure, device: new SparseVhd(file, structure, parent, opts) };
  } catch (e) {
    parent?.close();
    throw e;
  }
}
