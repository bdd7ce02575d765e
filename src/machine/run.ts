import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Machine, type StopReason, type EngineKind } from './machine.js';
import { HOT_ICOUNT as L_HOT_ICOUNT } from '../cpu/state-layout.js';
import { loadKernel } from '../loader/index.js';
import { UsageError } from '../cli/errors.js';
import { describeCpu } from './describe.js';
import { openImage, openSnapshot, DiskFormatError, type BlockDevice } from '../disk/index.js';
import { findBootEntry } from '../loader/diskboot.js';

export interface RunGuestOptions {
  /** Kernel to boot; without it the first disk's boot configuration is used (extlinux/syslinux/grub). */
  kernel?: string;
  append?: string;
  modules?: string[];
  /** Initial RAM disk for a Linux or PVH kernel (a last module named "initrd" for multiboot). */
  initrd?: string;
  memMiB?: number;
  timeoutSec?: number;
  /** Regular expressions the serial output must match, in order; when all matched the run stops with exit code 0. */
  expect?: RegExp[];
  /** Called with serial output as it arrives. */
  serialOut?: (text: string) => void;
  /** Bytes to type into COM1. */
  input?: AsyncIterable<Buffer | string> | null;
  /** Disk images attached as virtio-blk (/dev/vda, …). */
  disks?: string[];
  /** Open every disk through a temporary differencing overlay: the images are never written. */
  snapshot?: boolean;
  /** Non-fatal notices (e.g. a damaged partition table that was worked around). */
  warn?: (message: string) => void;
  /** Execution engine (default 'jit') and, for tests, the hot-tier threshold. */
  engine?: EngineKind;
  hotThreshold?: number;
  /** Lets the caller stop the run (e.g. the terminal escape Ctrl-A x). */
  onMachine?: (m: Machine) => void;
}

export interface RunStats {
  instructions: number;
  wallMs: number;
  /** Host milliseconds from process start to the first guest instruction (loading included). */
  startupMs: number;
  mips: number;
  blocksCompiled: number;
  modulesCompiled: number;
  compileMs: number;
  invalidations: number;
  /** Hot tier: regions compiled, blocks in them, instructions retired in them (the rest ran cold). */
  regionsCompiled: number;
  regionBlocks: number;
  hotInstructions: number;
  /** Returns from generated code to the engine, by reason (see EngineStats.exits). */
  exits: { budget: number; event: number; lookup: number; fault: number };
  tlbMisses: number;
  interrupts: number;
  exceptions: Record<number, number>;
  undefinedInstructions: Record<string, number>;
}

export interface RunGuestResult {
  /** CLI convention: (v << 1) | 1 for isa-debug-exit, 0 when every expect matched, 124 timeout, 3 triple fault. */
  exitCode: number;
  reason: StopReason;
  serial: string;
  stats: RunStats;
  /** CPU state at a triple fault or an internal error. */
  cpuState?: string;
  /** An emulator bug stopped the run (exit status 1). */
  internalError?: string;
}

function readFileOrFail(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

function openDisk(path: string, snapshot: boolean): BlockDevice {
  try {
    return snapshot ? openSnapshot(path) : openImage(path).device;
  } catch (e) {
    if (e instanceof DiskFormatError) throw new UsageError(`${path}: ${e.message}`);
    throw e;
  }
}

/** Boot a kernel file and run it until it exits, matches its expectations, faults or times out. */
export async function runGuest(opts: RunGuestOptions): Promise<RunGuestResult> {
  const memMiB = opts.memMiB ?? 128;
  const disks = (opts.disks ?? []).map((path) => openDisk(path, opts.snapshot ?? false));
  let kernel: Uint8Array;
  let kernelName: string;
  let cmdline = opts.append ?? '';
  let diskInitrd: Uint8Array | undefined;
  if (opts.kernel !== undefined) {
    kernel = readFileOrFail(opts.kernel, 'kernel');
    kernelName = opts.kernel;
  } else {
    // pygrub-style: the kernel, initrd and command line come from the first disk's boot configuration
    if (!disks.length) throw new UsageError('nothing to boot: give a disk image or --kernel FILE');
    const entry = findBootEntry(disks[0], { name: basename(opts.disks![0]) });
    for (const w of entry.warnings) opts.warn?.(w);
    kernel = entry.kernel;
    kernelName = entry.configPath;
    diskInitrd = entry.initrd;
    cmdline = [entry.append, opts.append].filter((x) => x).join(' ');
  }
  const modules = (opts.modules ?? []).map((m) => {
    const [path, ...args] = m.split(' ');
    return { name: [basename(path), ...args].join(' '), data: readFileOrFail(path, 'module') };
  });
  const initrd = opts.initrd !== undefined ? readFileOrFail(opts.initrd, 'initrd') : diskInitrd;
  let serial = '';
  const expects = opts.expect ?? [];
  let expectIdx = 0;
  let scanFrom = 0;
  const decoder = new TextDecoder();
  let machine: Machine | null = null;
  const onByte = (b: number) => {
    const s = decoder.decode(new Uint8Array([b]), { stream: true });
    serial += s;
    opts.serialOut?.(s);
    if (b === 10) checkExpect();
  };
  // Patterns are tested at line ends and after every slice (prompts have no newline), not per byte.
  const checkExpect = () => {
    while (expectIdx < expects.length) {
      const m = expects[expectIdx].exec(serial.slice(scanFrom));
      if (!m) return;
      scanFrom += m.index + m[0].length;
      expectIdx++;
      if (expectIdx === expects.length) machine?.stop('expect');
    }
  };
  machine = new Machine({ memMiB, serialOut: onByte, disks, engine: opts.engine, hotThreshold: opts.hotThreshold });
  let bs;
  try {
    bs = loadKernel(machine.phys, kernel, {
      cmdline, kernelName, modules, initrd,
      // The tables sit in the BIOS area the memory map already reserves; only the pointer is passed.
      rsdp: machine.platform.rsdp || undefined,
    });
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${kernelName}: ${e.message.replace(/^kernel: /, '')}`);
    throw e;
  }
  machine.boot(bs);
  opts.onMachine?.(machine);
  if (opts.input) {
    void (async () => {
      for await (const chunk of opts.input!) machine!.platform.uart.pushInput(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    })();
  }
  const t0 = performance.now(); // performance.now() counts from process start
  const deadline = opts.timeoutSec ? Date.now() + opts.timeoutSec * 1000 : Infinity;
  let internalError: string | undefined;
  for (;;) {
    let more: boolean;
    try {
      more = machine.runSlice(50);
    } catch (e) {
      // A host-side bug must not take the process down with a stack trace: report it with the CPU state.
      internalError = e instanceof Error ? e.message : String(e);
      machine.tripleFaultState = describeCpu(machine.cpu);
      machine.stop('internal-error');
      break;
    }
    checkExpect();
    if (!more) break;
    if (Date.now() >= deadline) { machine.stop('timeout'); break; }
    await new Promise((r) => setImmediate(r));
  }
  const wallMs = performance.now() - t0;
  for (const d of disks) { try { d.flush(); d.close(); } catch { /* reported by the device as I/O errors */ } }
  const reason = machine.stopReason ?? 'timeout';
  let exitCode: number;
  switch (reason) {
    case 'exit': exitCode = ((machine.exitValue! << 1) | 1) & 0xff; break;
    case 'expect': exitCode = 0; break;
    case 'triple-fault': exitCode = 3; break;
    case 'internal-error': exitCode = 1; break;
    case 'poweroff': exitCode = expectIdx === expects.length ? 0 : 1; break;
    default: exitCode = 124;
  }
  const cpu = machine.cpu;
  const es = machine.engine.stats;
  const instructions = cpu.st.icount;
  const exceptions: Record<number, number> = {};
  cpu.stats.exceptions.forEach((n, v) => { if (n) exceptions[v] = n; });
  return {
    exitCode,
    reason,
    serial,
    cpuState: machine.tripleFaultState ?? undefined,
    internalError,
    stats: {
      instructions,
      wallMs,
      startupMs: t0,
      mips: instructions / wallMs / 1000,
      blocksCompiled: es.blocksCompiled,
      modulesCompiled: es.modulesCompiled,
      compileMs: es.compileMs,
      invalidations: es.invalidations,
      regionsCompiled: es.regionsCompiled,
      regionBlocks: es.regionBlocks,
      hotInstructions: cpu.st.num(L_HOT_ICOUNT),
      exits: { ...es.exits },
      tlbMisses: cpu.stats.tlbMisses,
      interrupts: cpu.stats.interrupts,
      exceptions,
      undefinedInstructions: Object.fromEntries(cpu.stats.ud),
    },
  };
}
