import type { ImageFile } from '../image-file.js';
import type { VhdStructure } from './structure.js';
import { FlatFileDisk } from '../flat-disk.js';

/** A fixed VHD: the disk's bytes followed by the footer. */
export class FixedVhd extends FlatFileDisk {
  constructor(file: ImageFile, s: VhdStructure) {
    super(file, s.footer.currentSize);
  }
}
