// PS/2 mouse as seen through the 8042's auxiliary port: answers identification, status and
// configuration commands like a plain 3-button mouse that never moves.

import { Ps2Device, PS2_ACK as ACK, PS2_RESEND as RESEND, PS2_SELF_TEST_OK as SELF_TEST_OK } from './ps2device.js';

export class Ps2Mouse extends Ps2Device {
  enabled = false;
  remote = false;
  scaling21 = false;
  resolution = 2;
  sampleRate = 100;

  write(b: number): void {
    if (this.pending) {
      const cmd = this.pending;
      this.pending = 0;
      if (cmd === 0xe8) this.resolution = b & 3;
      else if (cmd === 0xf3) this.sampleRate = b;
      this.send(ACK);
      return;
    }
    switch (b) {
      case 0xff: this.setDefaults(); this.send(ACK); this.send(SELF_TEST_OK); this.send(0x00); return;
      case 0xfe: this.resend(); return;
      case 0xf2: this.send(ACK); this.send(0x00); return; // plain 3-byte PS/2 mouse
      case 0xe9:
        this.send(ACK);
        this.send((this.remote ? 0x40 : 0) | (this.enabled ? 0x20 : 0) | (this.scaling21 ? 0x10 : 0));
        this.send(this.resolution);
        this.send(this.sampleRate);
        return;
      case 0xeb: this.send(ACK); this.send(0x08); this.send(0); this.send(0); return; // no motion, no buttons
      case 0xe8: case 0xf3: this.pending = b; this.send(ACK); return;
      case 0xe6: this.scaling21 = false; this.send(ACK); return;
      case 0xe7: this.scaling21 = true; this.send(ACK); return;
      case 0xea: this.remote = false; this.send(ACK); return;
      case 0xf0: this.remote = true; this.send(ACK); return;
      case 0xf4: this.enabled = true; this.send(ACK); return;
      case 0xf5: this.enabled = false; this.send(ACK); return;
      case 0xf6: this.setDefaults(); this.send(ACK); return;
      case 0xec: case 0xee: this.send(ACK); return; // wrap mode is not modelled
      default: this.send(RESEND);
    }
  }

  private setDefaults(): void {
    this.enabled = false;
    this.remote = false;
    this.scaling21 = false;
    this.resolution = 2;
    this.sampleRate = 100;
  }
}
