// Intel 82441FX PCI and memory controller (the i440FX host bridge, 8086:1237) at 00:00.0.
// Firmware programs its DRAM and PAM (BIOS shadowing) registers; we keep their values so
// firmware reads back what it wrote, but memory decoding does not change.

import { PciConfigSpace } from './pci.js';

export class I440fxHostBridge extends PciConfigSpace {
  constructor() {
    super({ vendorId: 0x8086, deviceId: 0x1237, classCode: 0x060000, revision: 0x02 });
    this.set16(0x04, 0x0006); // memory decoding and bus mastering are on at reset
    this.set16(0x06, 0x0280); // fast back-to-back capable, medium DEVSEL timing
    // PMCCFG, DRAM control/timing, PAM0-6, DRB0-7, FDHC, MTT/CLT, SMRAM, error command/status.
    for (let o = 0x50; o < 0x80; o++) this.wmask[o] = 0xff;
    for (let o = 0x90; o < 0x94; o++) this.wmask[o] = 0xff;
    this.bytes[0x72] = 0x02; // SMRAM: C_BASE_SEG = 010 (A0000)
  }

  /** PAM register n (0-6), for a future BIOS-shadowing model. */
  pam(n: number): number {
    return this.bytes[0x59 + n];
  }
}
