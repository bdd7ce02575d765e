import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlockDevice } from './block-device.js';
import { FdFile } from './image-file.js';
import { openImage, type OpenOptions } from './open-image.js';
import { NO_OFFSET } from './vhd/be.js';
import { writeNewVhd } from './vhd/create.js';
import { DiskType, FEATURE_RESERVED, type VhdFooter } from './vhd/footer.js';
import { geometryForSectors } from './vhd/geometry.js';
import { SparseVhd } from './vhd/sparse-disk.js';
import { readVhdStructure } from './vhd/structure.js';

/**
 * Opens any image (raw or VHD of any kind) behind a throwaway differencing VHD in the temp
 * directory: reads see the image, writes land in the overlay, the image is opened read-only
 * and is never touched. The overlay is unlinked as soon as it is open, so nothing is left
 * behind even if the process is killed.
 */
export function openSnapshot(file: string, opts: Pick<OpenOptions, 'format'> = {}): BlockDevice {
  const base = openImage(file, { readOnly: true, format: opts.format });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmrun-snapshot-'));
  const overlayPath = path.join(dir, 'overlay.vhd');
  let overlay: FdFile | null = null;
  try {
    overlay = new FdFile(overlayPath, false, 'create');
    const parentFooter = base.structure?.footer ?? pseudoFooter(base.device.size);
    writeNewVhd(overlay, {
      type: 'differencing',
      parent: { footer: { ...parentFooter, currentSize: base.device.size }, timestamp: 0, name: path.resolve(file), locators: [] },
    });
    const s = readVhdStructure(overlay);
    return new SparseVhd(overlay, s, base.device);
  } catch (e) {
    overlay?.close();
    base.device.close();
    throw e;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Stands in for a raw base's footer: only size and geometry are used by the overlay. */
function pseudoFooter(size: number): VhdFooter {
  return {
    features: FEATURE_RESERVED,
    formatVersion: 0x00010000,
    dataOffset: NO_OFFSET,
    timestamp: 0,
    creatorApp: 'vmrn',
    creatorVersion: 1,
    creatorHostOs: 'Wi2k',
    originalSize: size,
    currentSize: size,
    geometry: geometryForSectors(size / 512),
    diskType: DiskType.Fixed,
    checksum: 0,
    uuid: new Uint8Array(16),
    savedState: 0,
  };
}
