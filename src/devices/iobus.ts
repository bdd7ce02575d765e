import type { IoHandler, IoSize } from './types.js';

/** I/O port space: 64 Ki ports, each owned by at most one handler. Unclaimed reads return all ones, writes are dropped. */
export class IoBus {
  private readonly owners: (IoHandler | undefined)[] = new Array(0x10000);
  /** Ports nobody claimed, counted for --stats. */
  unclaimedAccesses = 0;

  register(start: number, count: number, handler: IoHandler): void {
    for (let p = start; p < start + count; p++) {
      if (this.owners[p]) throw new Error(`I/O port 0x${p.toString(16)} already claimed`);
      this.owners[p] = handler;
    }
  }

  read(port: number, size: IoSize): number {
    const h = this.owners[port & 0xffff];
    if (!h) {
      this.unclaimedAccesses++;
      return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    }
    return h.ioRead(port & 0xffff, size);
  }

  write(port: number, size: IoSize, value: number): void {
    const h = this.owners[port & 0xffff];
    if (!h) {
      this.unclaimedAccesses++;
      return;
    }
    h.ioWrite(port & 0xffff, size, value);
  }
}
