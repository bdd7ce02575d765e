import { type BlockDevice, checkRange } from './block-device.js';
import type { ImageFile } from './image-file.js';

/**
 * A disk whose bytes are stored in order at the start of a file (raw images, fixed VHDs):
 * disk byte n is file byte n.
 */
export class FlatFileDisk implements BlockDevice {
  constructor(protected readonly file: ImageFile, readonly size: number) {}

  get readOnly(): boolean {
    return this.file.readOnly;
  }

  read(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    const n = this.file.read(buf, offset);
    // A sparse or shrunk-under-us file reads as zeros rather than stale buffer contents.
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
