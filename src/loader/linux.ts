import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import { CR0_ET, CR0_PE, CR0_PG, CR4_PAE, EFER_LMA, EFER_LME, type BootState } from './boot-state.js';
import {
  BOOT_CS, BOOT_DS, identityPageTables, memoryMap, placeInitrdHigh, reserveFirmwareRanges, writeLinuxGdt,
  type KernelOptions,
} from './bootparams.js';
import { Placer, HIGH_RAM_START } from './memory.js';

/**
 * Linux x86 boot protocol (Documentation/arch/x86/boot.rst), entered through the 64-bit entry
 * point: no real-mode setup code runs, so the loader does the setup code's job of filling in
 * the zero page (boot_params) itself.
 */

// Setup header fields, as offsets into the file and into the zero page alike.
const OFF_SETUP_SECTS = 0x1f1;
const OFF_SYSSIZE = 0x1f4;
const OFF_BOOT_FLAG = 0x1fe;
const OFF_JUMP = 0x200;
const OFF_HEADER = 0x202;
const OFF_VERSION = 0x206;
const OFF_TYPE_OF_LOADER = 0x210;
const OFF_LOADFLAGS = 0x211;
const OFF_RAMDISK_IMAGE = 0x218;
const OFF_RAMDISK_SIZE = 0x21c;
const OFF_HEAP_END_PTR = 0x224;
const OFF_CMD_LINE_PTR = 0x228;
const OFF_INITRD_ADDR_MAX = 0x22c;
const OFF_KERNEL_ALIGNMENT = 0x230;
const OFF_RELOCATABLE = 0x234;
const OFF_MIN_ALIGNMENT = 0x235;
const OFF_XLOADFLAGS = 0x236;
const OFF_CMDLINE_SIZE = 0x238;
const OFF_PAYLOAD_OFFSET = 0x248;
const OFF_PAYLOAD_LENGTH = 0x24c;
const OFF_SETUP_DATA = 0x250;
const OFF_PREF_ADDRESS = 0x258;
const OFF_INIT_SIZE = 0x260;
/** The header's last field in protocol 2.15 (kernel_info_offset) ends here. */
const HEADER_END_2_15 = 0x26c;

// Zero page fields outside the setup header (Documentation/arch/x86/zero-page.rst).
const ZP_ACPI_RSDP_ADDR = 0x070;
const ZP_EXT_RAMDISK_IMAGE = 0x0c0;
const ZP_EXT_RAMDISK_SIZE = 0x0c4;
const ZP_EXT_CMD_LINE_PTR = 0x0c8;
const ZP_ALT_MEM_K = 0x1e0;
const ZP_E820_ENTRIES = 0x1e8;
const ZP_E820_TABLE = 0x2d0;
const E820_MAX_ZEROPAGE = 128;
export const ZERO_PAGE_SIZE = 0x1000;

const HDRS_MAGIC = 0x53726448; // "HdrS"
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const XLF_KERNEL_64 = 0x01;
const LOADER_TYPE_UNDEFINED = 0xff;
/** Offset of startup_64 from the start of the protected-mode kernel, fixed by the protocol. */
export const STARTUP_64_OFFSET = 0x200;
const LOADER_STACK_BYTES = 0x1000;

export interface SetupHeader {
  version: number;
  setupSects: number;
  /** Size of the protected-mode kernel in bytes (syssize × 16). */
  sysBytes: number;
  /** File offset of the protected-mode kernel. */
  kernelOffset: number;
  loadflags: number;
  xloadflags: number;
  relocatable: boolean;
  kernelAlignment: number;
  minAlignment: number;
  prefAddress: number;
  initSize: number;
  cmdlineSize: number;
  initrdAddrMax: number;
  /** Compressed payload, relative to the protected-mode kernel (2.08+). */
  payloadOffset: number;
  payloadLength: number;
  /** Bytes of the header the kernel defines (copied to the zero page). */
  headerEnd: number;
}

/** A bzImage carries "HdrS" at 0x202; the boot sector signature alone is not enough (disk images have it). */
export function isBzImage(file: Uint8Array): boolean {
  return file.length >= OFF_HEADER + 4 && new DataView(file.buffer, file.byteOffset, file.byteLength).getUint32(OFF_HEADER, true) === HDRS_MAGIC;
}

const hex = (v: number) => `0x${v.toString(16)}`;
const protoName = (v: number) => `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;

/** Reads and checks the setup header of a bzImage. Throws UsageError for anything vmrun cannot boot. */
export function parseSetupHeader(file: Uint8Array): SetupHeader {
  if (!isBzImage(file)) throw new UsageError('kernel: not a Linux bzImage (no "HdrS" setup header at 0x202)');
  if (file.length < HEADER_END_2_15) throw new UsageError('kernel: truncated bzImage setup header');
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const u8 = (o: number) => dv.getUint8(o);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const u64 = (o: number, what: string) => {
    const hi = u32(o + 4);
    if (hi !== 0) throw new UsageError(`kernel: bzImage ${what} ${hex(hi)}${u32(o).toString(16).padStart(8, '0')} is above 4 GiB`);
    return u32(o);
  };
  const version = u16(OFF_VERSION);
  if (u16(OFF_BOOT_FLAG) !== 0xaa55) throw new UsageError('kernel: bzImage boot sector lacks the 0xAA55 signature');
  if (version < 0x206) throw new UsageError(`kernel: Linux boot protocol ${protoName(version)} is too old (2.06 or later needed)`);
  const xloadflags = version >= 0x20c ? u16(OFF_XLOADFLAGS) : 0;
  if (!(xloadflags & XLF_KERNEL_64)) {
    throw new UsageError(`kernel: bzImage has no 64-bit entry point (boot protocol ${protoName(version)}, XLF_KERNEL_64 ${version >= 0x20c ? 'clear' : 'needs 2.12'})`);
  }
  const loadflags = u8(OFF_LOADFLAGS);
  if (!(loadflags & LOADED_HIGH)) throw new UsageError('kernel: zImage (loaded low) is not supported, only bzImage');
  const setupSects = u8(OFF_SETUP_SECTS) || 4; // 0 means 4 for historical reasons
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= file.length) throw new UsageError(`kernel: bzImage truncated (setup code claims ${setupSects} sectors)`);
  const syssize = u32(OFF_SYSSIZE);
  // A signed image has its signature appended after syssize; without syssize load the rest.
  const sysBytes = syssize ? syssize * 16 : file.length - kernelOffset;
  if (kernelOffset + sysBytes > file.length) {
    throw new UsageError(`kernel: bzImage truncated (${file.length - kernelOffset} bytes of protected-mode kernel, header says ${sysBytes})`);
  }
  const kernelAlignment = u32(OFF_KERNEL_ALIGNMENT);
  const relocatable = u8(OFF_RELOCATABLE) !== 0;
  if (relocatable && (kernelAlignment < 0x1000 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw new UsageError(`kernel: bzImage kernel_alignment ${hex(kernelAlignment)} is not a power of two of at least 4 KiB`);
  }
  const initSize = u32(OFF_INIT_SIZE);
  if (initSize < sysBytes) throw new UsageError(`kernel: bzImage init_size ${hex(initSize)} is smaller than the kernel (${hex(sysBytes)})`);
  const jump = u8(OFF_JUMP + 1);
  return {
    version, setupSects, sysBytes, kernelOffset, loadflags, xloadflags, relocatable, kernelAlignment,
    minAlignment: u8(OFF_MIN_ALIGNMENT),
    prefAddress: u64(OFF_PREF_ADDRESS, 'pref_address'),
    initSize,
    cmdlineSize: u32(OFF_CMDLINE_SIZE),
    initrdAddrMax: u32(OFF_INITRD_ADDR_MAX),
    payloadOffset: u32(OFF_PAYLOAD_OFFSET),
    payloadLength: u32(OFF_PAYLOAD_LENGTH),
    headerEnd: Math.min(OFF_JUMP + 2 + jump, file.length, ZERO_PAGE_SIZE),
  };
}

/**
 * Where the protected-mode kernel goes: its preferred address when that fits, else (if it is
 * relocatable) the lowest suitably aligned address above 1 MiB that holds init_size bytes,
 * the space the decompressor works in.
 */
function chooseLoadAddress(h: SetupHeader, ramBytes: number): number {
  const fits = (a: number) => a >= HIGH_RAM_START && a + h.initSize <= ramBytes;
  if (fits(h.prefAddress)) return h.prefAddress;
  if (!h.relocatable) {
    throw new UsageError(`kernel: bzImage is not relocatable and needs ${hex(h.prefAddress)}-${hex(h.prefAddress + h.initSize)}: give the guest more memory`);
  }
  const align = Math.max(h.kernelAlignment, 2 ** h.minAlignment, 0x1000);
  const first = Math.ceil(HIGH_RAM_START / align) * align;
  if (fits(first)) return first;
  throw new UsageError(`kernel: no room for the kernel's ${h.initSize >> 20} MiB working area (init_size) in guest RAM: give the guest more memory`);
}

/**
 * Boots a bzImage through its 64-bit entry: long mode, 0-4 GiB identity mapped, the boot
 * protocol's GDT (__BOOT_CS 0x10, __BOOT_DS 0x18), RSI = zero page, interrupts off.
 */
export function loadLinux(mem: PhysMem, file: Uint8Array, opts: KernelOptions): BootState {
  const h = parseSetupHeader(file);
  if (opts.modules?.length) throw new UsageError('kernel: a Linux kernel takes --initrd, not multiboot modules');
  const reserved = opts.reserved ?? [];
  const placer = new Placer(mem.ramBytes);
  reserveFirmwareRanges(placer, mem.ramBytes, reserved);
  const load = chooseLoadAddress(h, mem.ramBytes);
  placer.reserve(load, h.initSize, 'Linux kernel (init_size)');
  mem.writeBytes(load, file.subarray(h.kernelOffset, h.kernelOffset + h.sysBytes));

  const cmdline = new TextEncoder().encode((opts.cmdline ?? '') + '\0');
  if (cmdline.length - 1 > h.cmdlineSize) {
    throw new UsageError(`kernel: command line is ${cmdline.length - 1} bytes, the kernel accepts at most ${h.cmdlineSize}`);
  }
  // Low memory for the loader's structures: Linux 6.x keeps the first MiB reserved, so none of
  // this is overwritten before the kernel has copied it.
  const zp = placer.alloc(ZERO_PAGE_SIZE, 0x1000, 'zero page');
  const cmdAddr = placer.alloc(cmdline.length, 16, 'kernel command line');
  mem.writeBytes(cmdAddr, cmdline);
  const gdt = writeLinuxGdt(mem, placer);
  const cr3 = identityPageTables(mem, placer);
  const stack = placer.alloc(LOADER_STACK_BYTES, 0x1000, 'boot stack');

  let initrdAddr = 0, initrdSize = 0;
  if (opts.initrd) {
    initrdSize = opts.initrd.length;
    initrdAddr = placeInitrdHigh(mem, placer, opts.initrd, h.initrdAddrMax + 1, load + h.initSize, reserved);
  }

  mem.fill(zp, ZERO_PAGE_SIZE, 0);
  mem.writeBytes(zp + OFF_SETUP_SECTS, file.subarray(OFF_SETUP_SECTS, h.headerEnd));
  mem.write8(zp + OFF_TYPE_OF_LOADER, LOADER_TYPE_UNDEFINED);
  mem.write8(zp + OFF_LOADFLAGS, h.loadflags | CAN_USE_HEAP);
  // What boot.rst's sample loader uses; only the 16-bit setup code reads it.
  mem.write16(zp + OFF_HEAP_END_PTR, 0xde00);
  mem.write32(zp + OFF_CMD_LINE_PTR, cmdAddr);
  mem.write32(zp + OFF_RAMDISK_IMAGE, initrdAddr);
  mem.write32(zp + OFF_RAMDISK_SIZE, initrdSize);
  mem.write64(zp + OFF_SETUP_DATA, 0);
  mem.write32(zp + ZP_EXT_RAMDISK_IMAGE, 0);
  mem.write32(zp + ZP_EXT_RAMDISK_SIZE, 0);
  mem.write32(zp + ZP_EXT_CMD_LINE_PTR, 0);
  if (opts.rsdp !== undefined) mem.write64(zp + ZP_ACPI_RSDP_ADDR, opts.rsdp);
  mem.write32(zp + ZP_ALT_MEM_K, Math.max(0, Math.floor((mem.ramBytes - HIGH_RAM_START) / 1024)));
  const map = memoryMap(mem.ramBytes, reserved);
  if (map.length > E820_MAX_ZEROPAGE) throw new UsageError(`kernel: memory map has ${map.length} entries, the zero page holds ${E820_MAX_ZEROPAGE}`);
  map.forEach((r, i) => {
    const e = zp + ZP_E820_TABLE + i * 20;
    mem.write64(e, r.base);
    mem.write64(e + 8, r.length);
    mem.write32(e + 16, r.type);
  });
  mem.write8(zp + ZP_E820_ENTRIES, map.length);

  return {
    format: 'linux', mode: 'long64', entry: load + STARTUP_64_OFFSET,
    regs: { rsi: zp, rsp: stack + LOADER_STACK_BYTES },
    gdt, selectors: { cs: BOOT_CS, ds: BOOT_DS },
    cr0: CR0_PE | CR0_ET | CR0_PG, cr4: CR4_PAE, efer: EFER_LME | EFER_LMA, cr3,
  };
}
