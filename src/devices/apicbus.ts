// The APIC interrupt message fabric: the IOAPIC and local APICs send interrupt messages to
// destinations (physical ID, logical mask, or broadcast); level-triggered EOIs are broadcast
// back to the IOAPIC. Messages are plain arguments so delivery allocates nothing.

export const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_STARTUP = 6, DM_EXTINT = 7;

/** A local APIC as a message recipient. */
export interface ApicTarget {
  /**
   * Does this APIC accept a message for `dest`? `wide` = 32-bit x2APIC destination (from an
   * x2APIC ICR); otherwise an 8-bit xAPIC/IOAPIC destination.
   */
  matchesDestination(dest: number, logical: boolean, wide: boolean): boolean;
  /** Take delivery. `level` = level-triggered (sets TMR so the EOI is broadcast). */
  accept(mode: number, vector: number, level: boolean): void;
  /** Processor priority, for lowest-priority arbitration. */
  arbitrationPriority(): number;
}

export class ApicBus {
  readonly targets: ApicTarget[] = [];
  private readonly eoiListeners: ((vector: number) => void)[] = [];

  addTarget(t: ApicTarget): void {
    this.targets.push(t);
  }

  onEoi(listener: (vector: number) => void): void {
    this.eoiListeners.push(listener);
  }

  broadcastEoi(vector: number): void {
    for (let i = 0; i < this.eoiListeners.length; i++) this.eoiListeners[i](vector);
  }

  /** Deliver to every matching APIC (lowest priority: the matching one with the lowest priority). Returns whether anyone took it. */
  deliver(dest: number, logical: boolean, wide: boolean, mode: number, vector: number, level: boolean): boolean {
    const ts = this.targets;
    if (mode === DM_LOWEST) {
      let best: ApicTarget | undefined;
      let bestPri = Infinity;
      for (let i = 0; i < ts.length; i++) {
        const t = ts[i];
        if (!t.matchesDestination(dest, logical, wide)) continue;
        const p = t.arbitrationPriority();
        if (p < bestPri) { best = t; bestPri = p; }
      }
      // The focus processor / lowest priority one receives it as a fixed interrupt.
      best?.accept(DM_FIXED, vector, level);
      return best !== undefined;
    }
    let any = false;
    for (let i = 0; i < ts.length; i++) {
      if (ts[i].matchesDestination(dest, logical, wide)) { ts[i].accept(mode, vector, level); any = true; }
    }
    return any;
  }

  /**
   * A message-signalled interrupt: a device's DMA write of `data` to `address` in the
   * 0xFEExxxxx window (PCI MSI / MSI-X). Address bits 19:12 = destination, bit 3 = redirection
   * hint (lowest priority among the destinations), bit 2 = logical destination mode; data bits
   * 7:0 = vector, 10:8 = delivery mode, 15 = level trigger. Returns false for a malformed message.
   */
  deliverMsi(address: number, data: number): boolean {
    if ((address >>> 20) !== 0xfee) return false;
    const dest = (address >>> 12) & 0xff;
    const logical = (address & 0x4) !== 0;
    let mode = (data >>> 8) & 7;
    if (mode === 3 || mode === 6) return false;
    if ((address & 0x8) && mode === DM_FIXED) mode = DM_LOWEST;
    return this.deliver(dest, logical, false, mode, data & 0xff, (data & 0x8000) !== 0);
  }

  /** ICR destination shorthands: all including or excluding the sender. */
  deliverAll(from: ApicTarget, includeSelf: boolean, mode: number, vector: number, level: boolean): void {
    const ts = this.targets;
    if (mode === DM_LOWEST) {
      let best: ApicTarget | undefined;
      let bestPri = Infinity;
      for (let i = 0; i < ts.length; i++) {
        if ((!includeSelf && ts[i] === from) || !ts[i].matchesDestination(0xffffffff, false, true)) continue;
        const p = ts[i].arbitrationPriority();
        if (p < bestPri) { best = ts[i]; bestPri = p; }
      }
      best?.accept(DM_FIXED, vector, level);
      return;
    }
    for (let i = 0; i < ts.length; i++) {
      // A broadcast destination matches every APIC that is present (globally enabled).
      if ((!includeSelf && ts[i] === from) || !ts[i].matchesDestination(0xffffffff, false, true)) continue;
      ts[i].accept(mode, vector, level);
    }
  }
}
