// The A20 gate, shared by the i8042 output port and port 0x92 ("fast A20"), for the MMU to consult.

export class A20Gate {
  /** True when address line 20 passes through (no 1 MiB wrap). vmrun starts with it enabled. */
  enabled = true;
  /** Notified on changes, so the MMU can flush translations when it starts honouring the gate. */
  onChange: ((enabled: boolean) => void) | null = null;

  set(enabled: boolean): void {
    if (enabled === this.enabled) return;
    this.enabled = enabled;
    this.onChange?.(enabled);
  }
}
