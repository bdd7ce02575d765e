// Intel 8042 keyboard controller (ports 0x60 data, 0x64 status/command) with its keyboard
// and auxiliary (mouse) ports. Beyond input, it carries two system lines: the CPU reset
// (pulsed by command 0xFE or output-port bit 0) and the A20 gate (output-port bit 1).

import type { IoHandler, IoSize, IrqSink, MachineControl } from './types.js';
import type { A20Gate } from './a20.js';
import { Ps2Keyboard } from './ps2kbd.js';
import { Ps2Mouse } from './ps2mouse.js';

const ST_OBF = 0x01, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10, ST_AUX = 0x20;
const CTR_KBDINT = 0x01, CTR_AUXINT = 0x02, CTR_SYS = 0x04, CTR_KBDDIS = 0x10, CTR_AUXDIS = 0x20, CTR_XLATE = 0x40;
const OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_KBD_OBF = 0x10, OUT_AUX_OBF = 0x20;
const QUEUE_MAX = 64;

export class I8042 implements IoHandler {
  /** Controller RAM; byte 0 is the command byte (CTR). */
  private readonly ram = new Uint8Array(32);
  /** Command waiting for its parameter on port 0x60, or 0. */
  private pendingCmd = 0;
  private lastWasCommand = false;
  /** The single output buffer the CPU reads. */
  private obFull = false;
  private obByte = 0;
  private obAux = false;
  /** Bytes the devices have ready but not yet moved into the output buffer. */
  private readonly kbdQueue: number[] = [];
  private readonly auxQueue: number[] = [];
  private irq1 = false;
  private irq12 = false;
  readonly keyboard: Ps2Keyboard;
  readonly mouse: Ps2Mouse;

  constructor(private readonly irq: IrqSink, private readonly control: MachineControl, private readonly a20: A20Gate) {
    // As firmware leaves it: keyboard interrupt on, POST passed, set-1 translation.
    this.ram[0] = CTR_KBDINT | CTR_SYS | CTR_XLATE;
    this.keyboard = new Ps2Keyboard((b) => this.enqueue(this.kbdQueue, b));
    this.mouse = new Ps2Mouse((b) => this.enqueue(this.auxQueue, b));
  }

  /** Host keyboard input: raw scancodes (the current scancode set, untranslated). */
  keyboardInput(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.enqueue(this.kbdQueue, bytes[i] & 0xff);
  }

  private enqueue(q: number[], b: number): void {
    if (q.length < QUEUE_MAX) q.push(b);
    this.fill();
  }

  private get ctr(): number {
    return this.ram[0];
  }

  /** A byte produced by the controller itself goes straight to the output buffer, ahead of device data. */
  private controllerReply(b: number, aux = false): void {
    if (this.obFull) (this.obAux ? this.auxQueue : this.kbdQueue).unshift(this.obByte);
    this.obFull = true;
    this.obByte = b;
    this.obAux = aux;
    this.updateIrq();
  }

  private fill(): void {
    if (!this.obFull) {
      if (this.kbdQueue.length && !(this.ctr & CTR_KBDDIS)) {
        this.obByte = this.kbdQueue.shift()!;
        this.obAux = false;
        this.obFull = true;
      } else if (this.auxQueue.length && !(this.ctr & CTR_AUXDIS)) {
        this.obByte = this.auxQueue.shift()!;
        this.obAux = true;
        this.obFull = true;
      }
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    const l1 = this.obFull && !this.obAux && (this.ctr & CTR_KBDINT) !== 0;
    const l12 = this.obFull && this.obAux && (this.ctr & CTR_AUXINT) !== 0;
    if (l1 !== this.irq1) { this.irq1 = l1; this.irq.setIrq(1, l1); }
    if (l12 !== this.irq12) { this.irq12 = l12; this.irq.setIrq(12, l12); }
  }

  private outputPort(): number {
    return OUT_RESET | (this.a20.enabled ? OUT_A20 : 0) |
      (this.obFull && !this.obAux ? OUT_KBD_OBF : 0) | (this.obFull && this.obAux ? OUT_AUX_OBF : 0);
  }

  private writeOutputPort(v: number): void {
    this.a20.set((v & OUT_A20) !== 0);
    if (!(v & OUT_RESET)) this.control.requestReset('i8042 output port reset line');
  }

  ioRead(port: number, _size: IoSize): number {
    if (port === 0x64) {
      return (this.obFull ? ST_OBF : 0) | (this.ctr & CTR_SYS ? ST_SYS : 0) | (this.lastWasCommand ? ST_CMD : 0) |
        ST_UNLOCKED | (this.obFull && this.obAux ? ST_AUX : 0);
    }
    const v = this.obByte;
    if (this.obFull) {
      this.obFull = false;
      // Let the line fall before the next byte raises it again, so edge-triggered inputs see every byte.
      this.updateIrq();
      this.fill();
    }
    return v;
  }

  ioWrite(port: number, _size: IoSize, value: number): void {
    const v = value & 0xff;
    if (port === 0x64) {
      this.lastWasCommand = true;
      this.command(v);
      return;
    }
    this.lastWasCommand = false;
    const cmd = this.pendingCmd;
    this.pendingCmd = 0;
    if (cmd >= 0x60 && cmd <= 0x7f) {
      this.ram[cmd & 0x1f] = v;
      if (cmd === 0x60) this.fill();
      return;
    }
    switch (cmd) {
      case 0xd1: this.writeOutputPort(v); return;
      case 0xd2: this.controllerReply(v, false); return;
      case 0xd3: this.controllerReply(v, true); return;
      case 0xd4: this.mouse.write(v); return;
      default:
        // Data with no pending command goes to the keyboard.
        this.keyboard.write(v, (this.ctr & CTR_XLATE) !== 0);
    }
  }

  private command(c: number): void {
    if (c >= 0x20 && c <= 0x3f) { this.controllerReply(this.ram[c & 0x1f]); return; }
    if ((c >= 0x60 && c <= 0x7f) || c === 0xd1 || c === 0xd2 || c === 0xd3 || c === 0xd4) { this.pendingCmd = c; return; }
    if (c >= 0xf0) {
      // Pulse output lines whose bits are 0 in the low nibble; bit 0 is the CPU reset.
      if (!(c & 0x01)) this.control.requestReset('i8042 reset pulse');
      return;
    }
    switch (c) {
      case 0xa4: this.controllerReply(0xf1); return; // no password installed
      case 0xa7: this.ram[0] |= CTR_AUXDIS; return;
      case 0xa8: this.ram[0] &= ~CTR_AUXDIS; this.fill(); return;
      case 0xa9: this.controllerReply(0x00); return; // aux interface test: no error
      case 0xaa: this.ram[0] |= CTR_SYS; this.controllerReply(0x55); return;
      case 0xab: this.controllerReply(0x00); return;
      case 0xad: this.ram[0] |= CTR_KBDDIS; return;
      case 0xae: this.ram[0] &= ~CTR_KBDDIS; this.fill(); return;
      case 0xc0: this.controllerReply(0x80); return; // input port: keyboard not locked
      case 0xd0: this.controllerReply(this.outputPort()); return;
      case 0xdd: this.a20.set(false); return;
      case 0xdf: this.a20.set(true); return;
      case 0xe0: this.controllerReply(0x00); return;
      default: return;
    }
  }
}
