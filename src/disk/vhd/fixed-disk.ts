import { type BlockDevice, checkRange } from '../block-device.js';
import type { ImageFile } from '../image-file.js';
import type { VhdStructure } from './structure.js';

/** A fixed VHD: the disk's bytes followed by the footer. */
export class FixedVhd implements BlockDevice {
  readonly size: number;

  constructor(private readonly file: ImageFile, s: VhdStructure) {
    this.size = s.footer.currentSize;
  }

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  read(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    const n = this.file.read(buf, offset);
    if (n < buf.length) buf.fill(0, n);
  }

  write(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    this.file.write(buf, offset);
  }

  flush(): void {
    this.file.sync();
  }

  discard(offset: number, length: number): void {
    checkRange(this, offset, length);
  }

  allocatedRanges(): Array<[number, number]> {
    return this.size > 0 ? [[0, this.size]] : [];
  }

  close(): void {
    this.file.close();
  }
}
