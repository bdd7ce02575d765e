// The PC platform: builds the legacy and APIC devices onto the machine's buses with QEMU's
// `pc` machine layout, so guests (and test kernels written for QEMU) find them where they expect.

import type { IoBus } from './iobus.js';
import type { VirtualClock } from './clock.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { InterruptController, IrqSink, MachineControl } from './types.js';
import { PicPair } from './pic.js';
import { Pit } from './pit.js';
import { Uart16550 } from './uart.js';
import { FwCfg } from './fwcfg.js';
import { DebugExit } from './debugexit.js';
import { PostPort } from './port80.js';

export interface PcPlatformOptions {
  io: IoBus;
  mem: PhysMem;
  clock: VirtualClock;
  control: MachineControl;
  ramBytes: number;
  cpuCount?: number;
  serialOut: (byte: number) => void;
}

export interface PcPlatform {
  pic: PicPair;
  pit: Pit;
  uart: Uart16550;
  fwcfg: FwCfg;
  debugExit: DebugExit;
  post: PostPort;
  /** What the CPU asks for interrupts. */
  intc: InterruptController;
  /** ISA IRQ lines 0-15. */
  irq: IrqSink;
}

export function createPcPlatform(opts: PcPlatformOptions): PcPlatform {
  const { io, clock, control } = opts;
  const cpuCount = opts.cpuCount ?? 1;

  const pic = new PicPair();
  io.register(0x20, 2, pic);
  io.register(0xa0, 2, pic);
  io.register(0x4d0, 2, pic);

  const irq: IrqSink = pic;
  const intc: InterruptController = {
    hasInterrupt: () => pic.output,
    acknowledge: () => pic.acknowledge(),
    takeNmi: () => false,
  };

  const pit = new Pit(clock, irq);
  io.register(0x40, 4, pit);
  io.register(0x61, 1, pit);

  const uart = new Uart16550(0x3f8, 4, irq, opts.serialOut);
  io.register(0x3f8, 8, uart);

  const fwcfg = new FwCfg({ ramBytes: opts.ramBytes, cpuCount, dmaMemory: opts.mem });
  io.register(0x510, 2, fwcfg);
  io.register(0x514, 8, fwcfg);

  const debugExit = new DebugExit(control);
  io.register(0xf4, 4, debugExit);

  const post = new PostPort();
  io.register(0x80, 1, post);

  return { pic, pit, uart, fwcfg, debugExit, post, intc, irq };
}
