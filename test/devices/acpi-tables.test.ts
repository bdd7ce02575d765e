import { describe, it, expect } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhysMem } from '../../src/mmu/physmem.js';
import { IoBus } from '../../src/devices/iobus.js';
import { createPcPlatform } from '../../src/devices/pc.js';
import { buildAcpiTables, byteSum, layoutAcpiTables } from '../../src/devices/acpi-tables.js';
import { eisaId, encodeLength, integer, nameString, pkgLength, buffer } from '../../src/devices/acpi-aml.js';
import { GPE0_BLK, PM1A_CNT_BLK, PM1A_EVT_BLK, PM_TMR_BLK, SLP_TYP_S5 } from '../../src/devices/acpi-pm.js';
import { HPET_CAP_LOW } from '../../src/devices/hpet.js';
import { Piix3IsaBridge } from '../../src/devices/piix3.js';
import { TestClock, TestControl } from './helpers.js';

const RAM = 64 << 20;

function built(cpuCount = 2) {
  const mem = new PhysMem(RAM);
  const set = buildAcpiTables(mem, { ramBytes: RAM, cpuCount });
  return { mem, set };
}

const sig = (mem: PhysMem, a: number, n = 4) => String.fromCharCode(...mem.readBytes(a, n));
const tableBytes = (mem: PhysMem, a: number) => mem.readBytes(a, mem.read32(a + 4));

/** What Linux's fallback does: scan 0xE0000-0xFFFFF on 16-byte boundaries for a valid RSDP. */
function scanRsdp(mem: PhysMem): number {
  for (let a = 0xe0000; a < 0x100000; a += 16) {
    if (sig(mem, a, 8) === 'RSD PTR ' && byteSum(mem.readBytes(a, 20)) === 0) return a;
  }
  return -1;
}

describe('AML encoder', () => {
  it('encodes package lengths at the one/two-byte boundary', () => {
    expect(pkgLength(62)).toEqual([63]);
    expect(encodeLength(8)).toEqual([8]);
    expect(encodeLength(64)).toEqual([0x40, 0x04]);
    expect(pkgLength(63)).toEqual([0x40 | ((63 + 2) & 0xf), (63 + 2) >> 4]);
    expect(pkgLength(0x1000)).toEqual([0x80 | ((0x1003) & 0xf), (0x1003 >> 4) & 0xff, 0x1003 >> 12]);
    // A buffer long enough to need a two-byte PkgLength.
    const b = buffer(new Array(100).fill(0));
    expect(b[0]).toBe(0x11);
    expect(((b[1] & 0x0f) | (b[2] << 4))).toBe(b.length - 1);
  });

  it('encodes integers in the smallest form and names with prefixes', () => {
    expect(integer(0)).toEqual([0x00]);
    expect(integer(1)).toEqual([0x01]);
    expect(integer(0x12)).toEqual([0x0a, 0x12]);
    expect(integer(0x1234)).toEqual([0x0b, 0x34, 0x12]);
    expect(integer(0xfed00000)).toEqual([0x0c, 0x00, 0x00, 0xd0, 0xfe]);
    expect(integer(2 ** 32)).toEqual([0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
    expect(nameString('\\_SB')).toEqual([0x5c, 0x5f, 0x53, 0x42, 0x5f]);
    expect(nameString('\\_SB.PCI0')).toEqual([0x5c, 0x2e, ...'_SB_PCI0'.split('').map((c) => c.charCodeAt(0))]);
    expect(nameString('^A.B.C')[1]).toBe(0x2f);
    expect(eisaId('PNP0A03')).toBe(0x030ad041);
    expect(eisaId('PNP0501')).toBe(0x0105d041);
  });
});

describe('ACPI tables in guest RAM', () => {
  it('puts a valid ACPI 2.0 RSDP where a BIOS-area scan finds it', () => {
    const { mem, set } = built();
    expect(set.rsdp).toBe(0xf0000);
    expect(scanRsdp(mem)).toBe(set.rsdp);
    expect(mem.read8(set.rsdp + 15)).toBe(2);
    expect(mem.read32(set.rsdp + 20)).toBe(36);
    expect(byteSum(mem.readBytes(set.rsdp, 36))).toBe(0);
    expect(set.end).toBeLessThanOrEqual(0x100000);
  });

  it('RSDT and XSDT list FADT, MADT and HPET; every checksum is zero', () => {
    const { mem, set } = built();
    const rsdt = mem.read32(set.rsdp + 16);
    const xsdt = mem.read64(set.rsdp + 24);
    expect(sig(mem, rsdt)).toBe('RSDT');
    expect(sig(mem, xsdt)).toBe('XSDT');
    const fromX: string[] = [];
    const xlen = mem.read32(xsdt + 4);
    for (let o = 36; o < xlen; o += 8) fromX.push(sig(mem, mem.read64(xsdt + o)));
    const fromR: string[] = [];
    for (let o = 36; o < mem.read32(rsdt + 4); o += 4) fromR.push(sig(mem, mem.read32(rsdt + o)));
    expect(fromX).toEqual(['FACP', 'APIC', 'HPET']);
    expect(fromR).toEqual(fromX);
    for (const t of set.tables) {
      if (t.signature === 'FACS') continue; // no checksum
      const bytes = t.signature.startsWith('RSD') ? t.bytes : tableBytes(mem, t.address);
      expect(byteSum(bytes), t.signature).toBe(0);
    }
  });

  it('FADT: revision 6, PM blocks, SCI 9, reset register, X_ pointers to FACS and DSDT', () => {
    const { mem, set } = built();
    const fadt = mem.read64(mem.read64(set.rsdp + 24) + 36);
    expect(mem.read32(fadt + 4)).toBe(276);
    expect(mem.read8(fadt + 8)).toBe(6);
    expect(mem.read16(fadt + 46)).toBe(9);
    expect(mem.read32(fadt + 56)).toBe(PM1A_EVT_BLK);
    expect(mem.read32(fadt + 64)).toBe(PM1A_CNT_BLK);
    expect(mem.read32(fadt + 76)).toBe(PM_TMR_BLK);
    expect(mem.read32(fadt + 80)).toBe(GPE0_BLK);
    const flags = mem.read32(fadt + 112);
    expect(flags & (1 << 10)).toBeTruthy(); // RESET_REG_SUP
    expect(flags & (1 << 20)).toBe(0); // not hardware-reduced
    expect(flags & (1 << 8)).toBe(0); // 24-bit PM timer, like the device
    expect(mem.read8(fadt + 116)).toBe(1); // reset register in I/O space
    expect(mem.read64(fadt + 120)).toBe(0xcf9);
    expect(mem.read8(fadt + 128)).toBe(6);
    expect(sig(mem, mem.read64(fadt + 132))).toBe('FACS');
    expect(mem.read64(fadt + 132) % 64).toBe(0);
    expect(sig(mem, mem.read64(fadt + 140))).toBe('DSDT');
    expect(mem.read32(fadt + 40)).toBe(mem.read64(fadt + 140));
    expect(mem.read64(fadt + 148 + 4)).toBe(PM1A_EVT_BLK);
    expect(mem.read64(fadt + 208 + 4)).toBe(PM_TMR_BLK);
  });

  it('MADT: one enabled local APIC per CPU, IOAPIC 0 at 0xFEC00000, IRQ0→GSI2 and level SCI overrides, LINT1 NMI', () => {
    const { mem, set } = built(3);
    const madt = set.tables.find((t) => t.signature === 'APIC')!.address;
    expect(mem.read32(madt + 36)).toBe(0xfee00000);
    const len = mem.read32(madt + 4);
    const lapics: number[] = [];
    const overrides = new Map<number, { gsi: number; flags: number }>();
    let ioapic = -1, nmiLint = -1;
    for (let o = 44; o < len; o += mem.read8(madt + o + 1)) {
      const p = madt + o;
      switch (mem.read8(p)) {
        case 0: expect(mem.read32(p + 4) & 1).toBe(1); lapics.push(mem.read8(p + 3)); break;
        case 1: expect(mem.read8(p + 2)).toBe(0); ioapic = mem.read32(p + 4); expect(mem.read32(p + 8)).toBe(0); break;
        case 2: overrides.set(mem.read8(p + 3), { gsi: mem.read32(p + 4), flags: mem.read16(p + 8) }); break;
        case 4: nmiLint = mem.read8(p + 5); break;
      }
    }
    expect(lapics).toEqual([0, 1, 2]);
    expect(ioapic).toBe(0xfec00000);
    expect(overrides.get(0)).toEqual({ gsi: 2, flags: 0 });
    expect(overrides.get(9)).toEqual({ gsi: 9, flags: 0x0d });
    expect(nmiLint).toBe(1);
  });

  it('HPET table: block ID equals the device capabilities, base 0xFED00000', () => {
    const { mem, set } = built();
    const h = set.tables.find((t) => t.signature === 'HPET')!.address;
    expect(mem.read32(h + 36)).toBe(HPET_CAP_LOW);
    expect(mem.read8(h + 40)).toBe(0); // system memory
    expect(mem.read64(h + 44)).toBe(0xfed00000);
  });

  it('DSDT: \\_S5_ carries the PM block\'s S5 SLP_TYP, and the expected device IDs are there', () => {
    const { mem, set } = built();
    const d = set.tables.find((t) => t.signature === 'DSDT')!;
    const bytes = tableBytes(mem, d.address);
    const text = Buffer.from(bytes).toString('latin1');
    const s5 = text.indexOf('_S5_');
    expect(s5).toBeGreaterThan(36);
    expect(bytes[s5 + 4]).toBe(0x12); // PackageOp
    expect(bytes[s5 + 6]).toBe(4); // elements
    expect(Array.from(bytes.subarray(s5 + 7, s5 + 7 + integer(SLP_TYP_S5).length))).toEqual(integer(SLP_TYP_S5));
    const ids = ['PNP0A03', 'PNP0103', 'PNP0501', 'PNP0B00', 'PNP0303', 'PNP0100', 'PNP0000'];
    for (const id of ids) {
      const needle = Buffer.from(integer(eisaId(id)));
      expect(Buffer.from(bytes).indexOf(needle), id).toBeGreaterThan(0);
    }
    expect(text).toContain('_PIC');
    expect(text).toContain('ACPI0007');
  });

  it('createPcPlatform({ acpi: true }) builds them and exposes rsdp; the default does not', () => {
    const mk = (acpi: boolean | undefined) => {
      const mem = new PhysMem(RAM);
      const pc = createPcPlatform({ io: new IoBus(), mem, clock: new TestClock(), control: new TestControl(), ramBytes: RAM, serialOut: () => {}, rtcStartMs: 0, acpi });
      return { mem, pc };
    };
    const on = mk(true);
    expect(on.pc.rsdp).toBe(0xf0000);
    expect(scanRsdp(on.mem)).toBe(0xf0000);
    const off = mk(undefined);
    expect(off.pc.rsdp).toBe(0);
    expect(off.pc.acpiTables).toBeNull();
    expect(scanRsdp(off.mem)).toBe(-1);
  });
});

// ---- Independent check with ACPICA's iasl (Debian package acpica-tools) ----

const hasIasl = spawnSync('iasl', ['-v'], { stdio: 'ignore' }).status === 0;
if (!hasIasl) console.warn('acpi-tables.test: iasl not found (Debian package acpica-tools); skipping the ACPICA disassembler checks');

describe.skipIf(!hasIasl)('ACPI tables through ACPICA iasl', () => {
  it('every table disassembles without errors or checksum complaints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmrun-acpi-'));
    try {
      const set = layoutAcpiTables({ ramBytes: RAM, cpuCount: 2 });
      for (const t of set.tables) {
        if (t.signature.startsWith('RSD')) continue;
        const f = join(dir, `${t.signature}.dat`);
        writeFileSync(f, t.bytes);
        const r = spawnSync('iasl', ['-d', f], { cwd: dir, encoding: 'utf8' });
        expect(r.status, `${t.signature}: ${r.stdout}${r.stderr}`).toBe(0);
        const dsl = readFileSync(join(dir, `${t.signature}.dsl`), 'utf8');
        expect(dsl, t.signature).not.toMatch(/Incorrect checksum|\*\*\*\* ACPI/);
      }
      const fadt = readFileSync(join(dir, 'FACP.dsl'), 'utf8');
      expect(fadt).toMatch(/Reset Register Supported \(V2\) : 1/);
      expect(fadt).toMatch(/PM Timer Block Address : 00000608/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the DSDT recompiles (no optimisation) to the same AML, with no warnings', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmrun-acpi-'));
    try {
      const dsdt = layoutAcpiTables({ ramBytes: RAM, cpuCount: 4 }).tables.find((t) => t.signature === 'DSDT')!.bytes;
      writeFileSync(join(dir, 'dsdt.dat'), dsdt);
      execFileSync('iasl', ['-d', 'dsdt.dat'], { cwd: dir, stdio: 'pipe' });
      const out = execFileSync('iasl', ['-oa', '-p', 'again', 'dsdt.dsl'], { cwd: dir, encoding: 'utf8' });
      expect(out).toMatch(/0 Errors, 0 Warnings/);
      const again = readFileSync(join(dir, 'again.aml'));
      const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
      expect(dsl).toMatch(/OperationRegion \(PIRQ, PCI_Config, 0x60, 0x04\)/);
      expect(dsl).toMatch(/Name \(_PRT, Package \(0x7C\)/); // slots 1-31 x INTA-INTD
      // The _PRT swizzle is the one the PIIX3 model routes INTx with.
      const prt = [...dsl.matchAll(/0x00([0-9A-F]{2})FFFF,\s*(Zero|One|0x0[23]),\s*(LNK[A-D])/g)];
      expect(prt.length).toBe(124);
      for (const m of prt) {
        const pin = m[2] === 'Zero' ? 0 : m[2] === 'One' ? 1 : parseInt(m[2], 16);
        expect(m[3]).toBe('LNK' + 'ABCD'[Piix3IsaBridge.pirqOf(parseInt(m[1], 16) << 3, pin)]);
      }
      // The header's compiler ID and checksum differ; the definition block must not.
      expect(Buffer.from(again.subarray(36)).equals(Buffer.from(dsdt.subarray(36)))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const hasAcpiexec = spawnSync('acpiexec', ['-v'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasAcpiexec)('DSDT methods run by ACPICA acpiexec', () => {
  it('interrupt links: _STA/_DIS/_SRS/_CRS over the PIRQ registers; _PIC, _S5_', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmrun-acpi-'));
    try {
      const dsdt = layoutAcpiTables({ ramBytes: RAM, cpuCount: 1 }).tables.find((t) => t.signature === 'DSDT')!.bytes;
      writeFileSync(join(dir, 'dsdt.dat'), dsdt);
      const cmds = [
        'evaluate \\_SB.LNKA._STA', 'evaluate \\_SB.LNKA._DIS', 'evaluate \\_SB.LNKA._STA',
        'evaluate \\_SB.LNKB._SRS (23 00 04 10 79 00)', 'evaluate \\_SB.PCI0.ISA.PRQB', 'evaluate \\_SB.LNKB._CRS',
        'evaluate \\_PIC 1', 'evaluate \\PICF', 'evaluate \\_S5_',
      ];
      const r = spawnSync('acpiexec', ['-b', cmds.join('; '), 'dsdt.dat'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      const out = r.stdout + r.stderr;
      // Each evaluation's result, in order, from lines like "[Integer] = 000...0B".
      const results = [...out.matchAll(/Evaluating (\S+)\n(?:.*\n)*?(?:\s+\[(\w+)\][^\n]*?= *([^\n]*)|No object was returned)/g)]
        .map((m) => `${m[1]} ${m[2] ?? 'none'} ${(m[3] ?? '').trim()}`);
      expect(out).not.toMatch(/AE_(?!OK)[A-Z_]+/);
      expect(results[0]).toMatch(/LNKA._STA Integer 0+B$/); // acpiexec's PCI_Config space reads 0: enabled, IRQ 0
      expect(results[1]).toMatch(/LNKA._DIS none/);
      expect(results[2]).toMatch(/LNKA._STA Integer 0+9$/);
      expect(results[4]).toMatch(/PRQB Integer 0+A$/); // IRQ 10 chosen through _SRS
      expect(results[5]).toMatch(/LNKB._CRS Buffer .*23 00 04 10 79 00/);
      expect(results[7]).toMatch(/PICF Integer 0+1$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
