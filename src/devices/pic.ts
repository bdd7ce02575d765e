// Intel 8259A programmable interrupt controller, as the master/slave pair of a PC
// (slave cascaded on master IR2), plus the PIIX edge/level control registers (ELCR).

import type { IoHandler, IoSize, IrqSink } from './types.js';

/** One 8259A. All of its state lives here; the pair only wires two of them together. */
class Pic8259 {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Input line levels as last driven, to detect rising edges. */
  lines = 0;
  /** 1 = level-triggered input (from the ELCR). */
  elcr = 0;
  /** Bits of the ELCR this chip lets software set (PIIX hard-wires the timer, keyboard, cascade, RTC and FPU inputs to edge). */
  readonly elcrMask: number;
  vectorBase = 0;
  /** The IR level that currently has the lowest priority is (priorityAdd - 1) & 7 (rotation state). */
  priorityAdd = 0;
  /** Which word of the ICW sequence comes next on the odd port: 0 = none (OCW1), 2..4 = ICW2..ICW4. */
  initStep = 0;
  icw4Wanted = false;
  single = false;
  icw3 = 0;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  readIsr = false;
  pollNext = false;

  constructor(elcrMask: number) {
    this.elcrMask = elcrMask;
  }

  reset(): void {
    this.irr = this.isr = this.imr = 0;
    this.priorityAdd = 0;
    this.initStep = 0;
    this.icw4Wanted = this.single = this.autoEoi = this.rotateOnAutoEoi = false;
    this.specialFullyNested = this.specialMask = this.readIsr = this.pollNext = false;
    this.icw3 = 0;
    this.vectorBase = 0;
  }

  setLine(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      // Level mode: the request follows the line.
      if (level) { this.irr |= bit; this.lines |= bit; } else { this.irr &= ~bit; this.lines &= ~bit; }
    } else if (level) {
      // Edge mode latches the rising edge; the falling edge does not withdraw it, so a
      // setIrq(true)/setIrq(false) pulse from an edge source is never lost.
      if (!(this.lines & bit)) this.irr |= bit;
      this.lines |= bit;
    } else {
      this.lines &= ~bit;
    }
  }

  /** Highest-priority IR in `mask` under the current rotation, or -1. */
  private highest(mask: number): number {
    if (mask === 0) return -1;
    for (let p = 0; p < 8; p++) {
      const irq = (p + this.priorityAdd) & 7;
      if (mask & (1 << irq)) return irq;
    }
    return -1;
  }

  private priorityOf(irq: number): number {
    return (irq - this.priorityAdd) & 7;
  }

  /** The IR this chip would present on INT now, or -1. `isMaster` enables special-fully-nested handling of the cascade. */
  pending(isMaster: boolean): number {
    const irq = this.highest(this.irr & ~this.imr);
    if (irq < 0) return -1;
    let inService = this.isr;
    // Special mask mode lets masked in-service levels stop blocking lower ones.
    if (this.specialMask) inService &= ~this.imr;
    // In special fully nested mode the slave may interrupt again while its cascade input is in service.
    if (isMaster && this.specialFullyNested) inService &= ~this.icw3;
    const cur = this.highest(inService);
    if (cur >= 0 && this.priorityOf(cur) <= this.priorityOf(irq)) return -1;
    return irq;
  }

  /** INTA for a chosen IR: move it from IRR to ISR (or auto-EOI it). */
  ack(irq: number): void {
    const bit = 1 << irq;
    // A level-triggered request stays in IRR while its line is high.
    if (!(this.elcr & bit)) this.irr &= ~bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
  }

  writeCommand(v: number): void {
    if (v & 0x10) {
      // ICW1 restarts initialisation; edge detection restarts too (the lines must rise again).
      const keepLevel = this.elcr;
      const irr = this.irr, lines = this.lines;
      this.reset();
      // Held level-triggered requests survive; edge inputs must rise again to be seen.
      this.irr = irr & keepLevel;
      this.lines = lines & keepLevel;
      this.icw4Wanted = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.initStep = 2;
      return;
    }
    if (v & 0x08) {
      // OCW3
      if (v & 0x04) this.pollNext = true;
      if (v & 0x02) this.readIsr = (v & 1) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2
    const level = v & 7;
    switch (v >> 5) {
      case 0: this.rotateOnAutoEoi = false; break;
      case 4: this.rotateOnAutoEoi = true; break;
      case 1: case 5: {
        const irq = this.highest(this.isr);
        if (irq >= 0) {
          this.isr &= ~(1 << irq);
          if (v & 0x80) this.priorityAdd = (irq + 1) & 7;
        }
        break;
      }
      case 3: this.isr &= ~(1 << level); break;
      case 7: this.isr &= ~(1 << level); this.priorityAdd = (level + 1) & 7; break;
      case 6: this.priorityAdd = (level + 1) & 7; break;
      default: break; // 2: no operation
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.icw4Wanted ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.icw4Wanted ? 4 : 0;
        return;
      case 4:
        this.autoEoi = (v & 2) !== 0;
        this.specialFullyNested = (v & 0x10) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v & 0xff;
    }
  }
}

const MASTER_ELCR_MASK = 0xf8; // IRQ0-2 are edge only
const SLAVE_ELCR_MASK = 0xde; // IRQ8 and IRQ13 are edge only

/** The cascaded 8259A pair at 0x20/0x21 and 0xA0/0xA1, with ELCR at 0x4D0/0x4D1. */
export class PicPair implements IoHandler, IrqSink {
  readonly master = new Pic8259(MASTER_ELCR_MASK);
  readonly slave = new Pic8259(SLAVE_ELCR_MASK);
  /** State of the master's INT output (cached so the CPU's poll is one load). */
  output = false;
  /** Spurious acknowledges (IR7/IR15 vectors handed out with nothing pending), for statistics. */
  spuriousCount = 0;
  /** Called whenever INT changes, so an interrupt router can react without polling. */
  onOutputChange: ((level: boolean) => void) | null = null;

  setIrq(line: number, level: boolean): void {
    if (line < 8) this.master.setLine(line, level);
    else this.slave.setLine(line - 8, level);
    this.update();
  }

  /** Recompute the cascade and the master's INT. */
  private update(): void {
    this.master.setLine(2, this.slave.pending(false) >= 0);
    const out = this.master.pending(true) >= 0;
    if (out !== this.output) {
      this.output = out;
      this.onOutputChange?.(out);
    }
  }

  /** INTA cycle: returns the vector, including the IR7/IR15 spurious vectors when a request vanished. */
  acknowledge(): number {
    const irq = this.master.pending(true);
    let vector: number;
    if (irq < 0) {
      this.spuriousCount++;
      vector = this.master.vectorBase + 7;
    } else if (irq === 2 && !this.master.single) {
      const sirq = this.slave.pending(false);
      this.master.ack(2);
      if (sirq < 0) {
        this.spuriousCount++;
        vector = this.slave.vectorBase + 7;
      } else {
        this.slave.ack(sirq);
        vector = this.slave.vectorBase + sirq;
      }
    } else {
      this.master.ack(irq);
      vector = this.master.vectorBase + irq;
    }
    this.update();
    return vector;
  }

  /** Poll-mode read: 0x80 | level if an interrupt was pending (and is now acknowledged), else 0. */
  private poll(chip: Pic8259, isMaster: boolean): number {
    chip.pollNext = false;
    const irq = chip.pending(isMaster);
    if (irq < 0) return 0;
    if (isMaster && irq === 2 && !chip.single) {
      // Polling the master for a cascaded request acknowledges the cascade input only; the slave is polled separately.
      chip.ack(2);
      this.update();
      return 0x80 | 2;
    }
    chip.ack(irq);
    this.update();
    return 0x80 | irq;
  }

  ioRead(port: number, _size: IoSize): number {
    switch (port) {
      case 0x20: return this.master.pollNext ? this.poll(this.master, true) : this.master.readIsr ? this.master.isr : this.master.irr;
      case 0x21: return this.master.imr;
      case 0xa0: return this.slave.pollNext ? this.poll(this.slave, false) : this.slave.readIsr ? this.slave.isr : this.slave.irr;
      case 0xa1: return this.slave.imr;
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
      default: return 0xff;
    }
  }

  ioWrite(port: number, _size: IoSize, value: number): void {
    const v = value & 0xff;
    switch (port) {
      case 0x20: this.master.writeCommand(v); break;
      case 0x21: this.master.writeData(v); break;
      case 0xa0: this.slave.writeCommand(v); break;
      case 0xa1: this.slave.writeData(v); break;
      case 0x4d0: this.master.elcr = v & this.master.elcrMask; break;
      case 0x4d1: this.slave.elcr = v & this.slave.elcrMask; break;
      default: return;
    }
    this.update();
  }
}
