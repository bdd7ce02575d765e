import { type BlockDevice, checkRange, SECTOR_SIZE } from './block-device.js';
import type { ImageFile } from './image-file.js';

/** A raw image: byte n of the file is byte n of the disk. A trailing partial sector is padded with zeros. */
export class RawDisk implements BlockDevice {
  readonly size: number;

  constructor(private readonly file: ImageFile) {
    this.size = Math.ceil(file.size() / SECTOR_SIZE) * SECTOR_SIZE;
  }

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
