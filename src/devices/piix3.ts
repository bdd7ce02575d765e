// Intel 82371SB PIIX3 PCI-to-ISA bridge (8086:7000) at 00:01.0: the PCI interrupt router
// (PIRQ[A-D] -> ISA IRQ) and the reset control register at I/O port 0xCF9.

import type { IoHandler, IoSize, IrqSink, MachineControl } from './types.js';
import { PciConfigSpace, type PciBus } from './pci.js';

const PIRQRC = 0x60;
const PIRQ_DISABLED = 0x80;

export class Piix3IsaBridge extends PciConfigSpace implements IoHandler {
  /** Asserted INTx pins per devfn (bit n = INT(A+n)#). */
  private readonly intx = new Uint8Array(256);
  /** ISA IRQs currently driven high by PCI interrupts. */
  private drivenIsa = 0;
  private resetControlValue = 0;

  constructor(private readonly isaIrq: IrqSink, private readonly control: MachineControl) {
    // Function 0 of a multi-function device (IDE, USB, ACPI would be functions 1-3).
    super({ vendorId: 0x8086, deviceId: 0x7000, classCode: 0x060100, headerType: 0x80 });
    this.set16(0x04, 0x0007);
    this.set16(0x06, 0x0200);
    // Chipset registers from IORT on (ISA clock, XBCS, PIRQ routing, top of memory, APIC base, ...).
    for (let o = 0x4c; o < 0x100; o++) this.wmask[o] = 0xff;
    this.set16(0x4c, 0x4d); // IORT default
    this.set16(0x4e, 0x03); // XBCS: RTC and keyboard controller decoding enabled
    for (let i = 0; i < 4; i++) this.bytes[PIRQRC + i] = PIRQ_DISABLED;
    this.bytes[0x69] = 0x02; // top of memory
    this.bytes[0x70] = 0x80; // motherboard IRQ routing disabled
    this.bytes[0x76] = this.bytes[0x77] = 0x0c; // motherboard DMA disabled
  }

  /** Install as the bus's INTx router and 0xCF9 handler. */
  attach(bus: PciBus): void {
    bus.intxRouter = (devfn, pin, level) => this.setIntx(devfn, pin, level);
    bus.resetControl = this;
  }

  /**
   * Slots rotate their pins onto the four PIRQ lines: PIRQ = (slot + pin - 1) mod 4, so slot 1
   * INTA# is PIRQA. ACPI _PRT tables describing this machine must use the same swizzle.
   */
  static pirqOf(devfn: number, pin: number): number {
    return ((devfn >> 3) + pin - 1) & 3;
  }

  /** ISA IRQ a PIRQ line is routed to, or -1 when routing is disabled. */
  pirqRoute(pirq: number): number {
    const v = this.bytes[PIRQRC + pirq];
    return v & PIRQ_DISABLED ? -1 : v & 0x0f;
  }

  private setIntx(devfn: number, pin: number, level: boolean): void {
    if (level) this.intx[devfn] |= 1 << pin;
    else this.intx[devfn] &= ~(1 << pin);
    this.updateIrqs();
  }

  private updateIrqs(): void {
    let pirqLevels = 0;
    for (let devfn = 0; devfn < 256; devfn++) {
      const pins = this.intx[devfn];
      if (!pins) continue;
      for (let pin = 0; pin < 4; pin++) if (pins & (1 << pin)) pirqLevels |= 1 << Piix3IsaBridge.pirqOf(devfn, pin);
    }
    let isa = 0;
    for (let p = 0; p < 4; p++) {
      const irq = this.pirqRoute(p);
      // IRQs 0-2, 8 and 13 are not routable.
      if ((pirqLevels & (1 << p)) && irq >= 3 && irq !== 8 && irq !== 13) isa |= 1 << irq;
    }
    const changed = isa ^ this.drivenIsa;
    this.drivenIsa = isa;
    for (let irq = 0; irq < 16; irq++) if (changed & (1 << irq)) this.isaIrq.setIrq(irq, (isa & (1 << irq)) !== 0);
  }

  override configWrite(offset: number, size: IoSize, value: number): void {
    super.configWrite(offset, size, value);
    if (offset < PIRQRC + 4 && offset + size > PIRQRC) this.updateIrqs();
  }

  // Reset control register (0xCF9): bit 2 going to 1 resets; bit 1 selects a hard (system) reset.
  ioRead(_port: number, _size: IoSize): number {
    return this.resetControlValue;
  }

  ioWrite(_port: number, _size: IoSize, value: number): void {
    if (value & 0x04) this.control.requestReset(value & 0x02 ? 'PIIX3 hard reset (0xCF9)' : 'PIIX3 soft reset (0xCF9)');
    this.resetControlValue = value & 0x02;
  }
}
