// The PC platform: builds the legacy and APIC devices onto the machine's buses with QEMU's
// `pc` (i440FX/PIIX3) layout, so guests and test kernels written for QEMU find them where
// they expect. The machine loop owns the CPU(s); this only wires devices.

import type { IoBus } from './iobus.js';
import type { VirtualClock } from './clock.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { InterruptController, IoSize, IrqSink, MachineControl, MmioHandler } from './types.js';
import { allOnes } from './openbus.js';
import { PicPair } from './pic.js';
import { Pit } from './pit.js';
import { Rtc } from './rtc.js';
import { Uart16550 } from './uart.js';
import { FwCfg } from './fwcfg.js';
import { DebugExit } from './debugexit.js';
import { PostPort } from './port80.js';
import { A20Gate } from './a20.js';
import { I8042 } from './i8042.js';
import { SystemControlPortA } from './port92.js';
import { PciBus } from './pci.js';
import { I440fxHostBridge } from './i440fx.js';
import { Piix3IsaBridge } from './piix3.js';
import { ApicBus } from './apicbus.js';
import { LocalApic, LAPIC_DEFAULT_BASE } from './lapic.js';
import { IoApic, IOAPIC_BASE } from './ioapic.js';
import { CpuInterruptController, GsiRouter, IsaIrqRouter } from './intc.js';
import { Hpet, HPET_BASE, HPET_MMIO_SIZE } from './hpet.js';
import { AcpiPm, GPE0_BLK, GPE0_BLK_LEN, PM_BASE, PM_IO_LEN } from './acpi-pm.js';
import { buildAcpiTables, type AcpiTableSet } from './acpi-tables.js';

export interface PcPlatformOptions {
  io: IoBus;
  mem: PhysMem;
  clock: VirtualClock;
  control: MachineControl;
  ramBytes: number;
  cpuCount?: number;
  serialOut: (byte: number) => void;
  /** RTC start (UTC ms since the epoch); default: the host clock now. Set it for reproducible runs. */
  rtcStartMs?: number;
  /**
   * Build the ACPI tables (RSDP, FADT, DSDT, MADT, HPET...) into RAM at 0xF0000 and expose
   * `rsdp`. Off by default: bare-metal guests find no tables, as before.
   */
  acpi?: boolean;
  /** 32-bit ACPI PM timer (FADT TMR_VAL_EXT); default 24-bit like QEMU. */
  pmTimer32?: boolean;
}

export interface PcPlatform {
  pic: PicPair;
  pit: Pit;
  rtc: Rtc;
  uart: Uart16550;
  i8042: I8042;
  a20: A20Gate;
  fwcfg: FwCfg;
  debugExit: DebugExit;
  post: PostPort;
  pci: PciBus;
  hostBridge: I440fxHostBridge;
  isaBridge: Piix3IsaBridge;
  apicBus: ApicBus;
  /** The BSP's local APIC (lapics[0]). */
  lapic: LocalApic;
  lapics: LocalApic[];
  ioapic: IoApic;
  /** What the BSP asks for interrupts (intcs[0]). */
  intc: InterruptController;
  intcs: CpuInterruptController[];
  /** ISA IRQ lines 0-15 (to the 8259 pair and the IOAPIC). */
  irq: IrqSink;
  /** IOAPIC inputs (GSIs 0-23) directly. */
  gsi: IrqSink;
  /** HPET at 0xFED00000 (legacy replacement silences the PIT's IRQ0 and the RTC's IRQ8). */
  hpet: Hpet;
  /** ACPI PM1 event/control blocks and PM timer at 0x600, GPE0 at 0xAFE0, SCI on IRQ 9. */
  acpiPm: AcpiPm;
  /** The ACPI tables, when `acpi: true`. */
  acpiTables: AcpiTableSet | null;
  /** Physical address of the RSDP, or 0 without ACPI tables. */
  rsdp: number;
  /** Which CPU's local APIC answers at 0xFEE00000 (the CPU that is running). */
  setCurrentCpu(index: number): void;
}

/**
 * Each CPU sees its own local APIC at the same physical address; the machine loop tells this
 * window which CPU is executing. A relocated APIC base stops answering here (PhysMem cannot
 * move MMIO regions yet).
 */
class LapicWindow implements MmioHandler {
  current: LocalApic;
  constructor(private readonly lapics: LocalApic[]) {
    this.current = lapics[0];
  }
  select(i: number): void {
    this.current = this.lapics[i];
  }
  mmioRead(offset: number, size: IoSize): number {
    if (this.current.baseAddress !== LAPIC_DEFAULT_BASE) return allOnes(size);
    return this.current.mmioRead(offset, size);
  }
  mmioWrite(offset: number, size: IoSize, value: number): void {
    if (this.current.baseAddress !== LAPIC_DEFAULT_BASE) return;
    this.current.mmioWrite(offset, size, value);
  }
}

export function createPcPlatform(opts: PcPlatformOptions): PcPlatform {
  const { io, mem, clock, control } = opts;
  const cpuCount = opts.cpuCount ?? 1;

  // Interrupt controllers first: every other device raises IRQs through them.
  const pic = new PicPair();
  io.register(0x20, 2, pic);
  io.register(0xa0, 2, pic);
  io.register(0x4d0, 2, pic);

  const apicBus = new ApicBus();
  const ioapic = new IoApic(apicBus);
  mem.addMmio(IOAPIC_BASE, 0x1000, ioapic, 'ioapic');

  const lapics: LocalApic[] = [];
  for (let i = 0; i < cpuCount; i++) lapics.push(new LocalApic(i, clock, apicBus, i === 0));
  const window = new LapicWindow(lapics);
  mem.addMmio(LAPIC_DEFAULT_BASE, 0x1000, window, 'lapic');
  // The 8259's INTR is wired to every LINT0 (only the BSP's is in ExtINT mode at reset).
  pic.onOutputChange = (level) => { for (const l of lapics) l.setLint(0, level); };

  const irq = new IsaIrqRouter(pic, ioapic);
  const gsi = new GsiRouter(ioapic);
  const intcs = lapics.map((l, i) => new CpuInterruptController(l, i === 0 ? pic : null));

  const pit = new Pit(clock, irq);
  io.register(0x40, 4, pit);
  io.register(0x61, 1, pit);

  const rtc = new Rtc(clock, irq, 8, { ramBytes: opts.ramBytes, cpuCount, startTimeMs: opts.rtcStartMs });
  io.register(0x70, 2, rtc);

  const uart = new Uart16550(0x3f8, 4, irq, opts.serialOut);
  io.register(0x3f8, 8, uart);

  const a20 = new A20Gate();
  const i8042 = new I8042(irq, control, a20);
  io.register(0x60, 1, i8042);
  io.register(0x64, 1, i8042);
  io.register(0x92, 1, new SystemControlPortA(a20, control));

  const pci = new PciBus();
  io.register(0xcf8, 8, pci);
  const hostBridge = new I440fxHostBridge();
  pci.register(0, 0, hostBridge);
  const isaBridge = new Piix3IsaBridge(irq, control);
  pci.register(1, 0, isaBridge);
  isaBridge.attach(pci);

  const fwcfg = new FwCfg({ ramBytes: opts.ramBytes, cpuCount, dmaMemory: mem });
  io.register(0x510, 2, fwcfg);
  io.register(0x514, 8, fwcfg);

  const debugExit = new DebugExit(control);
  io.register(0xf4, 4, debugExit);

  const post = new PostPort();
  io.register(0x80, 1, post);

  const hpet = new Hpet(clock, irq, gsi, {
    onLegacyChange: (legacy) => { pit.setIrqEnabled(!legacy); rtc.setIrqEnabled(!legacy); },
  });
  mem.addMmio(HPET_BASE, HPET_MMIO_SIZE, hpet, 'hpet');

  const acpiPm = new AcpiPm(clock, irq, control, { timer32: opts.pmTimer32 });
  io.register(PM_BASE, PM_IO_LEN, acpiPm);
  io.register(GPE0_BLK, GPE0_BLK_LEN, acpiPm);
  // The FADT's RESET_REG points at the PIIX3's 0xCF9 register, already registered above.

  const acpiTables = opts.acpi
    ? buildAcpiTables(mem, { ramBytes: opts.ramBytes, cpuCount, pmTimer32: opts.pmTimer32 })
    : null;

  return {
    pic, pit, rtc, uart, i8042, a20, fwcfg, debugExit, post,
    hpet, acpiPm, acpiTables, rsdp: acpiTables ? acpiTables.rsdp : 0,
    pci, hostBridge, isaBridge,
    apicBus, lapic: lapics[0], lapics, ioapic,
    intc: intcs[0], intcs, irq, gsi,
    setCurrentCpu: (i) => window.select(i),
  };
}
