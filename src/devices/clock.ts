// Virtual time. By default it is derived from retired guest instructions (deterministic, like
// QEMU's -icount), plus the time skipped while the CPU halts waiting for a timer.

export interface Timer {
  readonly deadline: number;
  cancelled: boolean;
  readonly fire: () => void;
}

export class VirtualClock {
  /** Nanoseconds of guest time per retired instruction. */
  nsPerInstr = 1;
  private skipped = 0;
  private instrSource: () => number = () => 0;
  private timers: Timer[] = [];

  /** Bind the clock to a counter of retired instructions. */
  setInstructionSource(fn: () => number): void {
    this.instrSource = fn;
  }

  /** Current guest time in ns (a double: exact for 104 days). */
  nowNs(): number {
    return this.instrSource() * this.nsPerInstr + this.skipped;
  }

  /** Schedule `fire` at absolute guest time `deadline` (ns). */
  addTimer(deadline: number, fire: () => void): Timer {
    const t: Timer = { deadline, cancelled: false, fire };
    // Keep sorted by deadline; timers are few (tens), so insertion sort is fine.
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].deadline > deadline) i--;
    this.timers.splice(i, 0, t);
    return t;
  }

  /** Cancelled timers leave the queue at once, so it only ever holds the few live ones. */
  cancel(t: Timer | undefined): void {
    if (!t || t.cancelled) return;
    t.cancelled = true;
    const i = this.timers.indexOf(t);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Earliest pending deadline, or Infinity. */
  nextDeadline(): number {
    while (this.timers.length && this.timers[0].cancelled) this.timers.shift();
    return this.timers.length ? this.timers[0].deadline : Infinity;
  }

  /** Fire every timer whose deadline has passed. Callbacks may add timers. */
  runDue(): void {
    const now = this.nowNs();
    while (this.timers.length) {
      const t = this.timers[0];
      if (t.cancelled) { this.timers.shift(); continue; }
      if (t.deadline > now) break;
      this.timers.shift();
      t.fire();
    }
  }

  /** Guest time skipped while halted (ns). */
  get skippedNs(): number { return this.skipped; }

  /** Called whenever the skipped time grows (the machine mirrors it for RDTSC). */
  onSkip: (() => void) | null = null;

  /** Jump forward to `ns` (used while the CPU halts). */
  skipTo(ns: number): void {
    const now = this.nowNs();
    if (ns > now) {
      this.skipped += ns - now;
      this.onSkip?.();
    }
  }
}
