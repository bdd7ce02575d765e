// I/O APIC (82093AA register interface, version 0x20 with the EOI register at offset 0x40, as
// QEMU models it): 24 input pins, each with a redirection entry turning it into an APIC message.

import type { IoSize, IrqSink, MmioHandler } from './types.js';
import type { ApicBus } from './apicbus.js';

export const IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_PINS = 24;
const VERSION = 0x20;

const RTE_MASKED = 0x10000, RTE_LEVEL = 0x8000, RTE_REMOTE_IRR = 0x4000, RTE_ACTIVE_LOW = 0x2000, RTE_LOGICAL = 0x800;
/** Guest-writable bits of an entry's low dword: vector, delivery mode, destination mode, polarity, trigger, mask. */
const RTE_LO_WRITABLE = 0x1afff;

export class IoApic implements MmioHandler, IrqSink {
  id = 0;
  private ioregsel = 0;
  private readonly lo = new Uint32Array(IOAPIC_PINS);
  private readonly hi = new Uint32Array(IOAPIC_PINS);
  /** Raw input levels as driven (before polarity). */
  private lines = 0;
  /** Interrupts sent, for statistics. */
  deliveries = 0;

  constructor(private readonly bus: ApicBus) {
    this.lo.fill(RTE_MASKED);
    bus.onEoi((v) => this.eoi(v));
  }

  private asserted(pin: number): boolean {
    const raw = (this.lines >>> pin) & 1;
    return (raw ^ ((this.lo[pin] & RTE_ACTIVE_LOW) ? 1 : 0)) === 1;
  }

  setIrq(pin: number, level: boolean): void {
    if (pin >= IOAPIC_PINS) return;
    const wasAsserted = this.asserted(pin);
    if (level) this.lines |= 1 << pin;
    else this.lines &= ~(1 << pin);
    const now = this.asserted(pin);
    const e = this.lo[pin];
    if (e & RTE_LEVEL) {
      if (now) this.service(pin);
    } else if (now && !wasAsserted && !(e & RTE_MASKED)) {
      // A masked edge is lost, as on the real part.
      this.send(pin);
    }
  }

  /** A level-triggered pin that is asserted, unmasked and not awaiting EOI sends (again). */
  private service(pin: number): void {
    const e = this.lo[pin];
    if ((e & (RTE_MASKED | RTE_REMOTE_IRR)) || !this.asserted(pin)) return;
    this.lo[pin] = e | RTE_REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const e = this.lo[pin];
    const mode = (e >>> 8) & 7;
    // Delivery modes 3 and 6 are reserved in a redirection entry.
    if (mode === 3 || mode === 6) return;
    this.deliveries++;
    this.bus.deliver(this.hi[pin] >>> 24, (e & RTE_LOGICAL) !== 0, false, mode, e & 0xff, (e & RTE_LEVEL) !== 0);
  }

  /** EOI for a level-triggered vector (broadcast by a local APIC or written to the EOI register). */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.lo[pin];
      if ((e & 0xff) !== vector || !(e & RTE_REMOTE_IRR)) continue;
      this.lo[pin] = e & ~RTE_REMOTE_IRR;
      this.service(pin);
    }
  }

  private readRegister(r: number): number {
    if (r === 0x00) return (this.id & 0xf) << 24;
    if (r === 0x01) return ((IOAPIC_PINS - 1) << 16) | VERSION;
    if (r === 0x02) return (this.id & 0xf) << 24;
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (r - 0x10) >> 1;
      return r & 1 ? this.hi[pin] : this.lo[pin];
    }
    return 0xffffffff;
  }

  private writeRegister(r: number, v: number): void {
    if (r === 0x00) { this.id = (v >>> 24) & 0xf; return; }
    if (r < 0x10 || r >= 0x10 + 2 * IOAPIC_PINS) return;
    const pin = (r - 0x10) >> 1;
    if (r & 1) { this.hi[pin] = v & 0xff000000; return; }
    const old = this.lo[pin];
    let e = (old & ~RTE_LO_WRITABLE) | (v & RTE_LO_WRITABLE);
    // Remote IRR only means something for level-triggered entries.
    if (!(e & RTE_LEVEL)) e &= ~RTE_REMOTE_IRR;
    this.lo[pin] = e >>> 0;
    // Unmasking (or switching to level) while the line is held asserted delivers it now.
    if (e & RTE_LEVEL) this.service(pin);
  }

  mmioRead(offset: number, size: IoSize): number {
    if (offset === 0x00) return this.ioregsel;
    if (offset >= 0x10 && offset < 0x14) {
      const v = this.readRegister(this.ioregsel);
      const sh = (offset - 0x10) * 8;
      return size === 4 ? v : (v >>> sh) & (size === 1 ? 0xff : 0xffff);
    }
    return 0;
  }

  mmioWrite(offset: number, size: IoSize, value: number): void {
    if (offset === 0x00) { this.ioregsel = value & 0xff; return; }
    if (offset === 0x10 && size === 4) { this.writeRegister(this.ioregsel, value >>> 0); return; }
    if (offset === 0x40) this.eoi(value & 0xff);
  }
}
