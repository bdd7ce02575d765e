import { type BlockDevice, checkRange } from '../block-device.js';

/** A disk held in memory: filesystem images built or mutated in tests, or loaded whole. */
export class MemDevice implements BlockDevice {
  readonly size: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly readOnly = false,
  ) {
    if (bytes.length % 512 !== 0) throw new RangeError(`memory disk of ${bytes.length} bytes is not whole sectors`);
    this.size = bytes.length;
  }
  read(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    buf.set(this.bytes.subarray(offset, offset + buf.length));
  }
  write(buf: Uint8Array, offset: number): void {
    checkRange(this, offset, buf.length);
    this.bytes.set(buf, offset);
  }
  flush(): void {}
  discard(): void {}
  allocatedRanges(): Array<[number, number]> {
    return [[0, this.size]];
  }
  close(): void {}
}
