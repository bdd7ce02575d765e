// National Semiconductor 16550A UART (the PC's COM ports).
//
// Transmission is instantaneous: THR is always empty again by the time the guest looks, so
// LSR.THRE/TEMT stay set and the THRE interrupt re-arms after every write. Input is fed by
// the host with pushInput(); bytes beyond the 16-byte receive FIFO wait in a host-side queue
// (as if the sender were flow-controlled) instead of overrunning.

import type { IoHandler, IoSize, IrqSink } from './types.js';

const IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08;
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_ERRORS = 0x1e, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
const MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;
const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

export class Uart16550 implements IoHandler {
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud until the guest says otherwise
  private dlm = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  /** Sticky LSR error bits (OE/PE/FE/BI), cleared by reading LSR. */
  private lsrErrors = 0;
  /** MSR delta bits (0-3), cleared by reading MSR. */
  private msrDelta = 0;
  /** Modem input lines (MSR bits 4-7) last seen, to derive the delta bits. */
  private msrLines: number;
  private thrInterrupt = false;
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  private backlog: number[] = [];
  private backlogPos = 0;
  private irqLevel = false;

  /**
   * @param base first I/O port (0x3F8 for COM1)
   * @param irqLine ISA IRQ (4 for COM1)
   * @param out receives every transmitted byte (not in loopback mode)
   */
  constructor(readonly base: number, private readonly irqLine: number, private readonly irq: IrqSink, private readonly out: (byte: number) => void) {
    this.msrLines = this.modemLines();
  }

  /** Queue host input for the guest to receive. */
  pushInput(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.backlog.push(bytes[i] & 0xff);
    this.refill();
    this.updateIrq();
  }

  /** Bytes queued but not yet read by the guest. */
  get pendingInput(): number {
    return this.rxCount + this.backlog.length - this.backlogPos;
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? FIFO_SIZE : 1;
  }

  private refill(): void {
    while (this.rxCount < this.rxCapacity && this.backlogPos < this.backlog.length) {
      this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = this.backlog[this.backlogPos++];
      this.rxCount++;
    }
    if (this.backlogPos === this.backlog.length && this.backlogPos > 0) {
      this.backlog.length = 0;
      this.backlogPos = 0;
    }
  }

  /** A byte arriving on the serial line itself (loopback): no host queue behind it, so it can overrun. */
  private receiveWire(b: number): void {
    if (this.rxCount >= this.rxCapacity) {
      this.lsrErrors |= LSR_OE;
      return;
    }
    this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = b;
    this.rxCount++;
  }

  private modemLines(): number {
    if (this.mcr & MCR_LOOP) {
      // Loopback wires the modem outputs back to the inputs.
      return ((this.mcr & MCR_RTS) ? MSR_CTS : 0) | ((this.mcr & MCR_DTR) ? MSR_DSR : 0) |
        ((this.mcr & MCR_OUT1) ? MSR_RI : 0) | ((this.mcr & MCR_OUT2) ? MSR_DCD : 0);
    }
    // A host console is always "connected": carrier, data set ready, clear to send.
    return MSR_CTS | MSR_DSR | MSR_DCD;
  }

  private updateModemLines(): void {
    const now = this.modemLines();
    const changed = now ^ this.msrLines;
    if (changed & MSR_CTS) this.msrDelta |= 0x01;
    if (changed & MSR_DSR) this.msrDelta |= 0x02;
    if ((changed & MSR_RI) && !(now & MSR_RI)) this.msrDelta |= 0x04; // trailing edge of RI
    if (changed & MSR_DCD) this.msrDelta |= 0x08;
    this.msrLines = now;
  }

  /** Interrupt identification, highest priority first (without the FIFO bits). */
  private interruptId(): number {
    if ((this.ier & IER_RLSI) && (this.lsrErrors & LSR_ERRORS)) return 0x06;
    if ((this.ier & IER_RDI) && this.rxCount > 0) {
      if (!this.fifoEnabled || this.rxCount >= this.triggerLevel) return 0x04;
      // Below the trigger level the real part waits four character times before a timeout interrupt; we report it at once.
      return 0x0c;
    }
    if ((this.ier & IER_THRI) && this.thrInterrupt) return 0x02;
    if ((this.ier & IER_MSI) && this.msrDelta) return 0x00;
    return 0x01;
  }

  private updateIrq(): void {
    const level = this.interruptId() !== 0x01;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.setIrq(this.irqLine, level);
    }
  }

  private transmit(b: number): void {
    if (this.mcr & MCR_LOOP) this.receiveWire(b);
    else this.out(b);
    // The byte left the holding register at once, so THR is empty again.
    this.thrInterrupt = true;
  }

  ioRead(port: number, _size: IoSize): number {
    let v: number;
    switch (port - this.base) {
      case 0:
        if (this.lcr & 0x80) return this.dll;
        if (this.rxCount === 0) return 0;
        v = this.rx[this.rxHead];
        this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
        this.rxCount--;
        this.refill();
        break;
      case 1:
        return (this.lcr & 0x80) ? this.dlm : this.ier;
      case 2: {
        const id = this.interruptId();
        // Reading IIR is how the driver acknowledges a THRE interrupt.
        if (id === 0x02) this.thrInterrupt = false;
        v = id | (this.fifoEnabled ? 0xc0 : 0);
        break;
      }
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5:
        v = (this.rxCount > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        this.lsrErrors = 0;
        break;
      case 6:
        v = this.msrLines | this.msrDelta;
        this.msrDelta = 0;
        break;
      case 7: return this.scr;
      default: return 0xff;
    }
    this.updateIrq();
    return v;
  }

  ioWrite(port: number, _size: IoSize, value: number): void {
    const v = value & 0xff;
    switch (port - this.base) {
      case 0:
        if (this.lcr & 0x80) { this.dll = v; return; }
        this.transmit(v);
        break;
      case 1:
        if (this.lcr & 0x80) { this.dlm = v; return; }
        // Enabling the THRE interrupt while THR is empty raises it immediately (Linux tests for this).
        if ((v & IER_THRI) && !(this.ier & IER_THRI)) this.thrInterrupt = true;
        this.ier = v & 0x0f;
        break;
      case 2: {
        const enable = (v & 1) !== 0;
        if (enable !== this.fifoEnabled) {
          // Switching FIFO mode clears both FIFOs.
          this.rxCount = 0;
          this.fifoEnabled = enable;
        } else if (v & 0x02) {
          this.rxCount = 0;
        }
        if (this.rxCount === 0) this.rxHead = 0;
        this.triggerLevel = TRIGGER_LEVELS[v >> 6];
        this.refill();
        break;
      }
      case 3: this.lcr = v; return;
      case 4:
        this.mcr = v & 0x1f;
        this.updateModemLines();
        break;
      case 5: return; // LSR is read-only (factory test writes ignored)
      case 6: return;
      case 7: this.scr = v; return;
      default: return;
    }
    this.updateIrq();
  }
}
