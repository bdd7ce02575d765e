// POST diagnostic port 0x80. Firmware and kernels write progress codes here, and old drivers
// use it as a ~1 us I/O delay; we only remember the last code for diagnostics.

import type { IoHandler, IoSize } from './types.js';

export class PostPort implements IoHandler {
  lastCode = 0;
  writes = 0;

  ioRead(_port: number, _size: IoSize): number {
    // Nothing decodes reads on a real board: the bus floats.
    return 0xff;
  }

  ioWrite(_port: number, _size: IoSize, value: number): void {
    this.lastCode = value & 0xff;
    this.writes++;
  }
}
