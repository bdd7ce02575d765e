// Interrupt routing of the PC: ISA IRQs go to both the 8259 pair and the IOAPIC (IRQ0 on
// IOAPIC pin 2, as the MADT's interrupt source override says); the 8259's INTR reaches the
// CPU through the local APIC's LINT0 (virtual wire) or an IOAPIC ExtINT entry.

import type { InterruptController, IrqSink } from './types.js';
import type { PicPair } from './pic.js';
import type { IoApic } from './ioapic.js';
import type { LocalApic } from './lapic.js';

/** GSI an ISA IRQ arrives on at the IOAPIC. */
export function isaIrqToGsi(irq: number): number {
  return irq === 0 ? 2 : irq;
}

/** ISA IRQ lines 0-15: drives the 8259 input and the IOAPIC pin. */
export class IsaIrqRouter implements IrqSink {
  constructor(private readonly pic: PicPair, private readonly ioapic: IoApic) {}

  setIrq(line: number, level: boolean): void {
    this.pic.setIrq(line, level);
    this.ioapic.setIrq(isaIrqToGsi(line), level);
  }
}

/** GSIs (IOAPIC pins 0-23) directly, for sources that are not ISA IRQs. */
export class GsiRouter implements IrqSink {
  constructor(private readonly ioapic: IoApic) {}

  setIrq(line: number, level: boolean): void {
    this.ioapic.setIrq(line, level);
  }
}

/** What one CPU asks: its local APIC, and (on the BSP) the 8259 through it. */
export class CpuInterruptController implements InterruptController {
  /** 8259 interrupts acknowledged (virtual wire or ExtINT), for statistics. */
  picAcks = 0;

  constructor(private readonly lapic: LocalApic, private readonly pic: PicPair | null) {}

  hasInterrupt(): boolean {
    if (this.lapic.hasInterrupt()) return true;
    const pic = this.pic;
    return pic !== null && pic.output && (this.lapic.extIntPending || this.lapic.acceptsPicInterrupt());
  }

  acknowledge(): number {
    // The APIC's fixed interrupts win over the 8259 (the INTA goes to the APIC first).
    if (this.lapic.hasInterrupt()) return this.lapic.acknowledge();
    const pic = this.pic;
    if (pic && (this.lapic.extIntPending || this.lapic.acceptsPicInterrupt())) {
      this.lapic.extIntPending = false;
      this.picAcks++;
      return pic.acknowledge();
    }
    return this.lapic.acknowledge(); // spurious vector
  }

  takeNmi(): boolean {
    return this.lapic.takeNmi();
  }

  hasNmi(): boolean {
    return this.lapic.hasNmi();
  }
}
