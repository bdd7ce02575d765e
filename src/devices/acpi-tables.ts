// ACPI tables for this PC (ACPI 6.0 revisions): RSDP, RSDT, XSDT, FADT, FACS, DSDT, MADT and
// HPET, built into guest RAM in the BIOS area so that both a boot protocol's RSDP pointer and
// the legacy scan of 0xE0000-0xFFFFF find them. They describe the devices pc.ts builds, at the
// addresses and IRQs it uses; change both together.

import type { PhysMem } from '../mmu/physmem.js';
import {
  type Aml, device, dwordMemory, eisaIdAml, integer, io16, irqNoFlags, le, memory32Fixed, method, name,
  pkg, ref, resourceTemplate, scope, store, string, arg, wordBusNumber, wordIo,
  and, createWordField, decrement, field, findSetRightBit, ifElse, irqLevelHighShared, local, lNot, nameString,
  operationRegion, or, ret, shiftLeft,
} from './acpi-aml.js';
import { GPE0_BLK, GPE0_BLK_LEN, PM1A_CNT_BLK, PM1A_EVT_BLK, PM_BASE, PM_IO_LEN, PM_TMR_BLK, SCI_IRQ, SLP_TYP_S5 } from './acpi-pm.js';
import { HPET_BASE, HPET_CAP_LOW } from './hpet.js';
import { IOAPIC_BASE } from './ioapic.js';
import { LAPIC_DEFAULT_BASE } from './lapic.js';

/**
 * Default place of the tables: the top 64 KiB below 1 MiB, which the loaders' e820 map
 * reserves (and Linux reserves 640 KiB-1 MiB anyway), and which the RSDP scan covers.
 */
export const ACPI_TABLES_BASE = 0xf0000;
export const ACPI_TABLES_LIMIT = 0x100000;

const OEM_ID = 'VMRUN ';
const OEM_TABLE_ID = 'VMRUNPC ';
const CREATOR_ID = 'VMRN';
/** Reset register value: PIIX3 reset control (0xCF9) hard reset, bits 1 and 2. */
const RESET_PORT = 0xcf9;
const RESET_VALUE = 0x06;
/** RTC CMOS index of the century byte (rtc.ts keeps it there). */
const RTC_CENTURY_INDEX = 0x32;

export interface AcpiTableOptions {
  ramBytes: number;
  cpuCount: number;
  /** Where to build the tables (default 0xF0000); the RSDP comes first, 16-byte aligned. */
  base?: number;
  /** The PM timer is 32 bits wide (FADT TMR_VAL_EXT); must match the AcpiPm device. */
  pmTimer32?: boolean;
  /** Describe the HPET (default true). */
  hpet?: boolean;
}

export interface AcpiTable {
  signature: string;
  address: number;
  bytes: Uint8Array;
}

export interface AcpiTableSet {
  /** Physical address of the RSDP (for boot_params.acpi_rsdp_addr / hvm_start_info.rsdp_paddr). */
  rsdp: number;
  /** Every structure with its address, RSDP first. */
  tables: AcpiTable[];
  /** First byte after the last table. */
  end: number;
}

/** Sum of bytes modulo 256. */
export function byteSum(b: Uint8Array): number {
  let s = 0;
  for (const x of b) s = (s + x) & 0xff;
  return s;
}

function ascii(s: string, len: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < len; i++) out.push(i < s.length ? s.charCodeAt(i) : 0x20);
  return out;
}

/** A table with the standard 36-byte header; the checksum byte makes the whole sum zero. */
function sdt(signature: string, revision: number, body: number[]): Uint8Array {
  const length = 36 + body.length;
  const b = new Uint8Array(length);
  b.set(ascii(signature, 4), 0);
  b.set(le(length, 4), 4);
  b[8] = revision;
  b.set(ascii(OEM_ID, 6), 10);
  b.set(ascii(OEM_TABLE_ID, 8), 16);
  b.set(le(1, 4), 24);
  b.set(ascii(CREATOR_ID, 4), 28);
  b.set(le(1, 4), 32);
  b.set(body, 36);
  b[9] = (0x100 - byteSum(b)) & 0xff;
  return b;
}

/** Generic Address Structure. space: 0 memory, 1 system I/O; access: 0 undefined, 1 byte .. 4 qword. */
function gas(space: number, bitWidth: number, access: number, address: number): number[] {
  return [space, bitWidth, 0, access, ...le(address, 8)];
}

/** Bytes of a Uint8Array-compatible list placed into a fixed-size array at an offset. */
function put(b: Uint8Array, off: number, bytes: number[]): void {
  b.set(bytes, off);
}

// ---- DSDT ----

function crsDevice(n: string, hid: string, uid: number | null, resources: number[][]): Aml {
  const body: Aml[] = [name('_HID', eisaIdAml(hid))];
  if (uid !== null) body.push(name('_UID', integer(uid)));
  body.push(name('_CRS', resourceTemplate(resources)));
  return device(n, body);
}

const LINKS = ['LNKA', 'LNKB', 'LNKC', 'LNKD'];
/** ISA IRQs offered to PCI interrupts; the MADT marks them level, active high. */
const PCI_IRQS = [5, 10, 11];

/**
 * _PRT: every slot's INTA-INTD onto the PIRQ links with the PIIX3 swizzle
 * (link = slot + pin - 1 mod 4, see Piix3IsaBridge.pirqOf), as the hardware model wires them.
 */
function pciRoutingTable(): Aml {
  const entries: Aml[] = [];
  for (let slot = 1; slot < 32; slot++) {
    for (let pin = 0; pin < 4; pin++) {
      entries.push(pkg([integer(slot * 0x10000 + 0xffff), integer(pin), nameString(LINKS[(slot + pin - 1) & 3]), integer(0)]));
    }
  }
  return pkg(entries);
}

/**
 * A PCI interrupt link (PNP0C0F) over one PIIX3 PIRQ route register: bit 7 disables the route,
 * bits 0-3 pick the ISA IRQ. The OS reads it with _CRS, picks from _PRS and programs it with _SRS.
 */
function linkDevice(n: string, i: number): Aml {
  const reg = `\\_SB.PCI0.ISA.PRQ${'ABCD'[i]}`;
  return device(n, [
    name('_HID', eisaIdAml('PNP0C0F')),
    name('_UID', integer(i + 1)),
    name('_PRS', resourceTemplate([irqLevelHighShared(PCI_IRQS)])),
    method('_STA', 0, false, [
      // Present and enabled (0x0B), or present but disabled (0x09).
      ifElse(and(ref(reg), integer(0x80)), [ret(integer(0x09))], [ret(integer(0x0b))]),
    ]),
    method('_DIS', 0, false, [or(ref(reg), integer(0x80), ref(reg))]),
    method('_CRS', 0, true, [
      store(resourceTemplate([irqLevelHighShared([])]), local(0)),
      createWordField(local(0), 1, 'IRQM'),
      ifElse(lNot(and(ref(reg), integer(0x80))), [shiftLeft(integer(1), and(ref(reg), integer(0x0f)), ref('IRQM'))]),
      ret(local(0)),
    ]),
    method('_SRS', 1, true, [
      createWordField(arg(0), 1, 'IRQM'),
      findSetRightBit(ref('IRQM'), local(0)),
      decrement(local(0)),
      store(local(0), ref(reg)),
    ]),
  ]);
}

export function buildDsdt(opts: AcpiTableOptions): Uint8Array {
  // PCI memory window: from above RAM (256 MiB aligned) up to below the IOAPIC/HPET/LAPIC area.
  const windowEnd = 0xfebfffff;
  const windowStart = Math.ceil(opts.ramBytes / 0x1000_0000) * 0x1000_0000;
  const pciCrs: number[][] = [
    wordBusNumber(0x00, 0xff),
    io16(0xcf8, 0xcf8, 1, 8),
    wordIo(0x0000, 0x0cf7),
    wordIo(0x0d00, 0xffff),
    dwordMemory(0x000a0000, 0x000bffff, true), // legacy VGA window
  ];
  if (windowStart < windowEnd) pciCrs.push(dwordMemory(windowStart, windowEnd, false));

  const isa = device('ISA', [
    name('_ADR', integer(0x0001_0000)), // PIIX3 ISA bridge, 00:01.0
    // PIRQ[A-D] route control registers (0x60-0x63) of the PIIX3, for the link devices.
    operationRegion('PIRQ', 2, 0x60, 4),
    field('PIRQ', [['PRQA', 8], ['PRQB', 8], ['PRQC', 8], ['PRQD', 8]]),
    crsDevice('PIC', 'PNP0000', null, [io16(0x20, 0x20, 1, 2), io16(0xa0, 0xa0, 1, 2), irqNoFlags([2])]),
    crsDevice('TMR', 'PNP0100', null, [io16(0x40, 0x40, 1, 4), irqNoFlags([0])]),
    crsDevice('RTC', 'PNP0B00', null, [io16(0x70, 0x70, 1, 2), irqNoFlags([8])]),
    crsDevice('KBD', 'PNP0303', null, [io16(0x60, 0x60, 1, 1), io16(0x64, 0x64, 1, 1), irqNoFlags([1])]),
    crsDevice('MOU', 'PNP0F13', null, [irqNoFlags([12])]),
    crsDevice('COM1', 'PNP0501', 1, [io16(0x3f8, 0x3f8, 0, 8), irqNoFlags([4])]),
    // Motherboard resources, so the OS keeps PCI I/O BARs off the PM and GPE blocks.
    crsDevice('RES', 'PNP0C02', 1, [io16(PM_BASE, PM_BASE, 1, PM_IO_LEN), io16(GPE0_BLK, GPE0_BLK, 1, GPE0_BLK_LEN)]),
  ]);

  const pci0 = device('PCI0', [
    name('_HID', eisaIdAml('PNP0A03')),
    name('_UID', integer(0)),
    name('_BBN', integer(0)),
    name('_CRS', resourceTemplate(pciCrs)),
    name('_PRT', pciRoutingTable()),
    isa,
  ]);

  const sb: Aml[] = [pci0, ...LINKS.map((l, i) => linkDevice(l, i))];
  if (opts.hpet !== false) {
    sb.push(device('HPET', [
      name('_HID', eisaIdAml('PNP0103')),
      name('_UID', integer(0)),
      name('_CRS', resourceTemplate([memory32Fixed(HPET_BASE, 0x400, false)])),
    ]));
  }
  for (let i = 0; i < opts.cpuCount; i++) {
    // Processor devices; _UID matches the MADT's ACPI processor UID.
    sb.push(device(`C${i.toString(16).toUpperCase().padStart(3, '0')}`, [name('_HID', string('ACPI0007')), name('_UID', integer(i))]));
  }

  const body: Aml[] = [
    // _PIC tells which interrupt model the OS picked (0 PIC, 1 APIC); nothing here depends on it yet.
    name('PICF', integer(0)),
    method('_PIC', 1, false, [store(arg(0), ref('PICF'))]),
    // \_S5_: SLP_TYPa, SLP_TYPb and two reserved entries.
    name('_S5', pkg([integer(SLP_TYP_S5), integer(SLP_TYP_S5), integer(0), integer(0)])),
    scope('\\_SB', sb),
  ];
  // Revision 2: integers are 64 bits wide.
  return sdt('DSDT', 2, body.flat());
}

// ---- FADT ----

const FADT_LEN = 276;

function buildFadt(opts: AcpiTableOptions, facs: number, dsdt: number): Uint8Array {
  const b = new Uint8Array(FADT_LEN - 36);
  const o = (off: number) => off - 36;
  put(b, o(36), le(0, 4)); // FIRMWARE_CTRL: zero because X_FIRMWARE_CTRL is set
  put(b, o(40), le(dsdt, 4));
  b[o(45)] = 0; // preferred PM profile: unspecified
  put(b, o(46), le(SCI_IRQ, 2));
  put(b, o(48), le(0, 4)); // SMI_CMD 0: always in ACPI mode
  put(b, o(56), le(PM1A_EVT_BLK, 4));
  put(b, o(64), le(PM1A_CNT_BLK, 4));
  put(b, o(76), le(PM_TMR_BLK, 4));
  put(b, o(80), le(GPE0_BLK, 4));
  b[o(88)] = 4; // PM1_EVT_LEN
  b[o(89)] = 2; // PM1_CNT_LEN
  b[o(91)] = 4; // PM_TMR_LEN
  b[o(92)] = GPE0_BLK_LEN;
  put(b, o(96), le(0x0fff, 2)); // P_LVL2_LAT > 100: no C2
  put(b, o(98), le(0x0fff, 2)); // P_LVL3_LAT > 1000: no C3
  b[o(108)] = RTC_CENTURY_INDEX;
  // IAPC_BOOT_ARCH: LEGACY_DEVICES, 8042, VGA not present.
  put(b, o(109), le(0x0007, 2));
  // Flags: WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON (no fixed buttons), FIX_RTC (no RTC wake
  // status), TMR_VAL_EXT per the PM timer, RESET_REG_SUP, USE_PLATFORM_CLOCK.
  const flags = (1 << 0) | (1 << 2) | (1 << 4) | (1 << 5) | (1 << 6) | (opts.pmTimer32 ? 1 << 8 : 0) | (1 << 10) | (1 << 15);
  put(b, o(112), le(flags, 4));
  put(b, o(116), gas(1, 8, 1, RESET_PORT));
  b[o(128)] = RESET_VALUE;
  b[o(131)] = 0; // FADT minor version (ACPI 6.0)
  put(b, o(132), le(facs, 8));
  put(b, o(140), le(dsdt, 8));
  put(b, o(148), gas(1, 32, 2, PM1A_EVT_BLK));
  put(b, o(172), gas(1, 16, 2, PM1A_CNT_BLK));
  put(b, o(208), gas(1, 32, 3, PM_TMR_BLK));
  put(b, o(220), gas(1, GPE0_BLK_LEN * 8, 1, GPE0_BLK));
  return sdt('FACP', 6, Array.from(b));
}

function buildFacs(): Uint8Array {
  const b = new Uint8Array(64);
  b.set(ascii('FACS', 4), 0);
  b.set(le(64, 4), 4);
  b[32] = 2; // version
  return b;
}

// ---- MADT ----

function buildMadt(opts: AcpiTableOptions): Uint8Array {
  const body: number[] = [...le(LAPIC_DEFAULT_BASE, 4), ...le(1, 4)]; // PCAT_COMPAT: 8259 pair present
  for (let i = 0; i < opts.cpuCount; i++) body.push(0, 8, i, i, ...le(1, 4)); // local APIC, enabled
  body.push(1, 12, 0, 0, ...le(IOAPIC_BASE, 4), ...le(0, 4));
  // ISA IRQ0 arrives on pin 2 (intc.ts wires it so); the flags conform to the ISA bus.
  body.push(2, 10, 0, 0, ...le(2, 4), ...le(0, 2));
  // The SCI and the PCI-routable IRQs are level-triggered, active high on the IOAPIC as the
  // PIIX3 and PM block drive them (QEMU's board does the same).
  for (const irq of [5, SCI_IRQ, 10, 11]) body.push(2, 10, 0, irq, ...le(irq, 4), ...le(0x000d, 2));
  // LINT1 of every processor is the NMI input.
  body.push(4, 6, 0xff, ...le(0, 2), 1);
  return sdt('APIC', 4, body);
}

function buildHpetTable(): Uint8Array {
  const body = [
    ...le(HPET_CAP_LOW, 4),
    ...gas(0, 64, 0, HPET_BASE),
    0, // HPET number
    ...le(0x80, 2), // minimum clock ticks in periodic mode without lost interrupts
    0, // no page protection guarantee
  ];
  return sdt('HPET', 1, body);
}

function buildRsdp(rsdt: number, xsdt: number): Uint8Array {
  const b = new Uint8Array(36);
  b.set(ascii('RSD PTR ', 8), 0);
  b.set(ascii(OEM_ID, 6), 9);
  b[15] = 2;
  b.set(le(rsdt, 4), 16);
  b.set(le(36, 4), 20);
  b.set(le(xsdt, 8), 24);
  b[8] = (0x100 - byteSum(b.subarray(0, 20))) & 0xff;
  b[32] = (0x100 - byteSum(b)) & 0xff;
  return b;
}

/** Lay out every table from `base` and return the bytes with their addresses (nothing is written). */
export function layoutAcpiTables(opts: AcpiTableOptions): AcpiTableSet {
  const base = opts.base ?? ACPI_TABLES_BASE;
  if (base % 16 !== 0) throw new RangeError('ACPI tables base must be 16-byte aligned');
  let at = base;
  const tables: AcpiTable[] = [];
  const place = (signature: string, bytes: Uint8Array, align: number): number => {
    at = Math.ceil(at / align) * align;
    tables.push({ signature, address: at, bytes });
    const addr = at;
    at += bytes.length;
    return addr;
  };
  // The RSDP's pointers are known only at the end; reserve its slot first so it sits at `base`.
  const rsdpAddr = place('RSD PTR ', new Uint8Array(36), 16);
  const facs = place('FACS', buildFacs(), 64);
  const dsdt = place('DSDT', buildDsdt(opts), 16);
  const fadt = place('FACP', buildFadt(opts, facs, dsdt), 16);
  const others = [fadt, place('APIC', buildMadt(opts), 16)];
  if (opts.hpet !== false) others.push(place('HPET', buildHpetTable(), 16));
  const rsdt = place('RSDT', sdt('RSDT', 1, others.flatMap((a) => le(a, 4))), 16);
  const xsdt = place('XSDT', sdt('XSDT', 1, others.flatMap((a) => le(a, 8))), 16);
  tables[0].bytes = buildRsdp(rsdt, xsdt);
  return { rsdp: rsdpAddr, tables, end: at };
}

/** Build the tables into guest RAM; returns where the RSDP is. */
export function buildAcpiTables(phys: PhysMem, opts: AcpiTableOptions): AcpiTableSet {
  const set = layoutAcpiTables(opts);
  const base = opts.base ?? ACPI_TABLES_BASE;
  if (base === ACPI_TABLES_BASE && set.end > ACPI_TABLES_LIMIT) throw new RangeError('ACPI tables do not fit below 1 MiB');
  phys.fill(base, set.end - base, 0);
  for (const t of set.tables) phys.writeBytes(t.address, t.bytes);
  return set;
}
