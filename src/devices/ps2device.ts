// What the PS/2 keyboard and mouse share: replies go into the controller's queue for their
// port, and the last byte sent is kept for the Resend (0xFE) command.

/** A byte sink the device answers into (the controller's per-port queue). */
export type Ps2Reply = (byte: number) => void;

export const PS2_ACK = 0xfa, PS2_RESEND = 0xfe, PS2_SELF_TEST_OK = 0xaa;

export abstract class Ps2Device {
  /** Command awaiting its parameter byte, or 0. */
  protected pending = 0;
  private lastSent = 0;

  constructor(private readonly reply: Ps2Reply) {}

  protected send(b: number): void {
    this.lastSent = b;
    this.reply(b);
  }

  protected resend(): void {
    this.reply(this.lastSent);
  }
}
