import { VirtualClock } from '../../src/devices/clock.js';
import type { IrqSink, MachineControl } from '../../src/devices/types.js';

/** A virtual clock whose time (ns, 1 ns per instruction) the test sets directly. */
export class TestClock extends VirtualClock {
  instrs = 0;
  constructor() {
    super();
    this.setInstructionSource(() => this.instrs);
  }
  /** Advance to absolute ns, firing due timers along the way in order. */
  advanceTo(ns: number): void {
    for (;;) {
      const next = this.nextDeadline();
      if (next > ns) break;
      if (next > this.instrs) this.instrs = next;
      this.runDue();
    }
    this.instrs = ns;
    this.runDue();
  }
  advance(ns: number): void {
    this.advanceTo(this.instrs + ns);
  }
}

/** Records IRQ line levels and counts rising edges. */
export class IrqRecorder implements IrqSink {
  levels = new Map<number, boolean>();
  rises = new Map<number, number>();
  setIrq(line: number, level: boolean): void {
    if (level && !this.levels.get(line)) this.rises.set(line, (this.rises.get(line) ?? 0) + 1);
    this.levels.set(line, level);
  }
  level(line: number): boolean {
    return this.levels.get(line) ?? false;
  }
  count(line: number): number {
    return this.rises.get(line) ?? 0;
  }
}

export class TestControl implements MachineControl {
  exits: number[] = [];
  resets: string[] = [];
  powerOffs = 0;
  requestExit(code: number): void { this.exits.push(code); }
  requestReset(reason: string): void { this.resets.push(reason); }
  requestPowerOff(): void { this.powerOffs++; }
}
