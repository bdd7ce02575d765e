// PS/2 keyboard as seen through the 8042: it answers the host commands drivers use to
// identify and configure it, and accepts injected scancodes through the controller.

import { Ps2Device, PS2_ACK as ACK, PS2_RESEND as RESEND, PS2_SELF_TEST_OK as SELF_TEST_OK } from './ps2device.js';

export class Ps2Keyboard extends Ps2Device {
  scanning = true;
  scancodeSet = 2;
  leds = 0;
  typematic = 0x2b;

  /** A byte from the host. `translated` says whether the 8042 translates to set 1 (affects the ID bytes). */
  write(b: number, translated: boolean): void {
    if (this.pending) {
      const cmd = this.pending;
      this.pending = 0;
      if (cmd === 0xed) this.leds = b & 7;
      else if (cmd === 0xf3) this.typematic = b & 0x7f;
      else if (cmd === 0xf0) {
        if (b === 0) { this.send(ACK); this.send(this.scancodeSet); return; }
        if (b >= 1 && b <= 3) this.scancodeSet = b;
      }
      this.send(ACK);
      return;
    }
    switch (b) {
      case 0xff: this.setDefaults(); this.scanning = true; this.send(ACK); this.send(SELF_TEST_OK); return;
      case 0xfe: this.resend(); return;
      case 0xf2: this.send(ACK); this.send(0xab); this.send(translated ? 0x41 : 0x83); return;
      case 0xee: this.send(0xee); return;
      case 0xed: case 0xf3: case 0xf0: this.pending = b; this.send(ACK); return;
      case 0xf4: this.scanning = true; this.send(ACK); return;
      case 0xf5: this.setDefaults(); this.scanning = false; this.send(ACK); return;
      case 0xf6: this.setDefaults(); this.send(ACK); return;
      default:
        if (b >= 0xf7 && b <= 0xfd) { this.send(ACK); return; }
        this.send(RESEND);
    }
  }

  private setDefaults(): void {
    this.scancodeSet = 2;
    this.typematic = 0x2b;
    this.leds = 0;
  }
}
