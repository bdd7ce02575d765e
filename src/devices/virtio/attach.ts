// Plugging virtio-pci functions into the PC platform: bus slot, INTx through the PIIX3, MSI-X
// through the APIC bus, BAR mapping through PhysMem, and optionally what PC firmware would
// have set up before handing over to a kernel loaded directly.

import type { PciBus } from '../pci.js';
import { PCI_COMMAND, PCI_COMMAND_MEMORY, PCI_INTERRUPT_LINE } from '../pci.js';
import { Piix3IsaBridge } from '../piix3.js';
import type { IoHandler } from '../types.js';
import type { PhysMem } from '../../mmu/physmem.js';
import type { BlockDevice } from '../../disk/block-device.js';
import { VirtioBlk, type VirtioBlkOptions } from './blk.js';
import { VIRTIO_BAR, type VirtioPciWiring } from './pci-transport.js';

/** The parts of `PcPlatform` a virtio function needs (a PcPlatform fits). */
export interface VirtioPciPlatform {
  pci: PciBus;
  apicBus: { deliverMsi(address: number, data: number): unknown };
  isaBridge?: Piix3IsaBridge;
  /** The 8259 pair, for its ELCR at 0x4D0/0x4D1. */
  pic?: IoHandler;
}

export interface VirtioPciAttachOptions {
  /** PCI device number on bus 0 (function 0). Default 4. */
  slot?: number;
  /**
   * Route the slot's INTA# the way SeaBIOS does on i440FX/PIIX3 (PIRQA/B -> IRQ 10, PIRQC/D ->
   * IRQ 11, level-triggered in the ELCR) unless that PIRQ is already routed, and write the IRQ
   * into the Interrupt Line register. A kernel without firmware or ACPI then finds a working
   * INTx. Default true.
   */
  firmwareIntx?: boolean;
  /** Program BAR 4 to this address and enable memory decoding, as firmware would. Default: leave it to the guest. */
  barAddress?: number;
}

export interface AttachVirtioBlkOptions extends VirtioBlkOptions, VirtioPciAttachOptions {}

/** SeaBIOS's PIRQ[A-D] -> ISA IRQ assignment for the PIIX. */
const FIRMWARE_PIRQ_IRQ = [10, 10, 11, 11];

function wiringFor(pc: VirtioPciPlatform, phys: PhysMem, devfn: number): VirtioPciWiring {
  return {
    phys,
    setIntx: (level) => pc.pci.setIntx(devfn, 0, level),
    deliverMsi: (address, data) => { pc.apicBus.deliverMsi(address, data); },
    name: `virtio-pci 00:${(devfn >> 3).toString(16).padStart(2, '0')}.${devfn & 7}`,
  };
}

function firmwareSetup(pc: VirtioPciPlatform, dev: VirtioBlk, devfn: number, opts: VirtioPciAttachOptions): void {
  if (opts.firmwareIntx !== false && pc.isaBridge) {
    const pirq = Piix3IsaBridge.pirqOf(devfn, 0);
    let irq = pc.isaBridge.pirqRoute(pirq);
    if (irq < 0) {
      irq = FIRMWARE_PIRQ_IRQ[pirq];
      pc.isaBridge.configWrite(0x60 + pirq, 1, irq);
    }
    if (pc.pic) {
      const port = irq < 8 ? 0x4d0 : 0x4d1;
      pc.pic.ioWrite(port, 1, pc.pic.ioRead(port, 1) | (1 << (irq & 7)));
    }
    dev.configWrite(PCI_INTERRUPT_LINE, 1, irq);
  }
  if (opts.barAddress !== undefined) {
    const o = 0x10 + 4 * VIRTIO_BAR;
    dev.configWrite(o, 4, opts.barAddress % 0x1_0000_0000);
    dev.configWrite(o + 4, 4, Math.floor(opts.barAddress / 0x1_0000_0000));
    dev.configWrite(PCI_COMMAND, 2, dev.get16(PCI_COMMAND) | PCI_COMMAND_MEMORY);
  }
}

/**
 * Add a virtio-blk function for `disk` at 00:<slot>.0. The guest finds it by PCI enumeration;
 * Linux's virtio_pci + virtio_blk drive it as /dev/vda (MSI-X when available, else INTx).
 */
export function attachVirtioBlk(pc: VirtioPciPlatform, phys: PhysMem, disk: BlockDevice, opts: AttachVirtioBlkOptions = {}): VirtioBlk {
  const slot = opts.slot ?? 4;
  const devfn = slot << 3;
  const dev = new VirtioBlk(wiringFor(pc, phys, devfn), disk, { ...opts, serial: opts.serial ?? `vmrun-vblk-${slot}` });
  pc.pci.register(slot, 0, dev);
  firmwareSetup(pc, dev, devfn, opts);
  return dev;
}
