// QEMU's isa-debug-exit device (as configured by test suites: iobase=0xf4, iosize=4).
// Any write of v ends the run; the machine loop turns it into exit status (v << 1) | 1.

import type { IoHandler, IoSize, MachineControl } from './types.js';
import { allOnes } from './openbus.js';

export class DebugExit implements IoHandler {
  constructor(private readonly control: MachineControl) {}

  ioRead(_port: number, size: IoSize): number {
    return allOnes(size);
  }

  ioWrite(_port: number, size: IoSize, value: number): void {
    const v = size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
    this.control.requestExit(v);
  }
}
