import { SECTOR_SIZE } from './block-device.js';
import type { ImageFile } from './image-file.js';
import { FlatFileDisk } from './flat-disk.js';

/** A raw image: byte n of the file is byte n of the disk. A trailing partial sector is padded with zeros. */
export class RawDisk extends FlatFileDisk {
  constructor(file: ImageFile) {
    super(file, Math.ceil(file.size() / SECTOR_SIZE) * SECTOR_SIZE);
  }
}
