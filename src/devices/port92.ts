// System control port A (0x92): bit 1 drives the A20 gate, a 0 -> 1 transition of bit 0
// resets the machine (the "fast reset" some kernels try when the 8042 one fails).

import type { IoHandler, IoSize, MachineControl } from './types.js';
import type { A20Gate } from './a20.js';

export class SystemControlPortA implements IoHandler {
  private resetBit = false;

  constructor(private readonly a20: A20Gate, private readonly control: MachineControl) {}

  ioRead(_port: number, _size: IoSize): number {
    return (this.a20.enabled ? 0x02 : 0) | (this.resetBit ? 0x01 : 0);
  }

  ioWrite(_port: number, _size: IoSize, value: number): void {
    this.a20.set((value & 0x02) !== 0);
    const bit = (value & 0x01) !== 0;
    if (bit && !this.resetBit) this.control.requestReset('port 0x92 fast reset');
    this.resetBit = bit;
  }
}
