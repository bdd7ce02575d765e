// Interfaces between the CPU/platform core and device models.
// Devices never see guest virtual addresses: only I/O ports, MMIO offsets and IRQ lines.

export type IoSize = 1 | 2 | 4;

/** A device (or part of one) claiming a range of I/O ports. `port` is absolute. */
export interface IoHandler {
  ioRead(port: number, size: IoSize): number;
  ioWrite(port: number, size: IoSize, value: number): void;
}

/** A device claiming a physical MMIO range. `offset` is relative to the region start. 8-byte guest accesses arrive as two 4-byte ones (low first). */
export interface MmioHandler {
  mmioRead(offset: number, size: IoSize): number;
  mmioWrite(offset: number, size: IoSize, value: number): void;
}

/** Level-style IRQ input (an ISA IRQ or a GSI). Edge-triggered sources pulse: setIrq(n,true) then setIrq(n,false). */
export interface IrqSink {
  setIrq(line: number, level: boolean): void;
}

/** What the CPU asks of the platform's interrupt controllers (local APIC + IOAPIC + 8259 pair). */
export interface InterruptController {
  /** True when a maskable interrupt is deliverable (ignores RFLAGS.IF: the CPU checks that). */
  hasInterrupt(): boolean;
  /** Acknowledge the highest-priority deliverable interrupt and return its vector (INTA cycle). */
  acknowledge(): number;
  /** A pending NMI (cleared by the call). */
  takeNmi(): boolean;
  /** Whether an NMI is pending (not cleared). */
  hasNmi(): boolean;
}

/** Signals from devices to the machine loop. */
export interface MachineControl {
  /** isa-debug-exit: guest wrote v to port 0xF4; the emulator exits with (v << 1) | 1. */
  requestExit(code: number): void;
  /** i8042 reset line, ACPI reset, triple fault handled elsewhere. */
  requestReset(reason: string): void;
  /** ACPI S5 power-off. */
  requestPowerOff(): void;
}
