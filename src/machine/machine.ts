import { PhysMem } from '../mmu/physmem.js';
import { IoBus } from '../devices/iobus.js';
import { VirtualClock } from '../devices/clock.js';
import { Cpu } from '../cpu/cpu.js';
import { Engine } from '../jit/engine.js';
import { createPcPlatform, type PcPlatform } from '../devices/pc.js';
import type { MachineControl } from '../devices/types.js';
import { deliverEvent, EventKind, TripleFault } from '../cpu/system/interrupts.js';
import { fault, Vec, type GuestFault } from '../cpu/exception.js';
import * as L from '../cpu/state-layout.js';
import { IF } from '../cpu/flags.js';
import { FEATURES } from '../cpu/system/cpuid.js';
import { applyBootState, resetCpu } from './reset.js';
import type { BootState } from '../loader/boot-state.js';
import { describeCpu } from './describe.js';
import { attachVirtioBlk } from '../devices/virtio/index.js';
import type { BlockDevice } from '../disk/block-device.js';

export interface MachineOptions {
  memMiB: number;
  serialOut?: (byte: number) => void;
  /** Disks, attached as virtio-blk PCI functions in slots 4, 5, … (guest: /dev/vda, /dev/vdb, …). */
  disks?: BlockDevice[];
  /** Execution engine: 'jit' (default: cold blocks, hot regions) or 'cold' (cold tier only). */
  engine?: EngineKind;
  /** Hot-tier threshold (executions of a block before its loop becomes a region); tests lower it. */
  hotThreshold?: number;
}

export type EngineKind = 'cold' | 'jit';

export type StopReason = 'exit' | 'timeout' | 'triple-fault' | 'reset' | 'poweroff' | 'halted' | 'expect' | 'limit' | 'internal-error';

/** Most instructions per dispatcher slice between device/timer/interrupt checks. */
const SLICE_INSNS = 20_000;

/**
 * A PC: RAM, the platform devices, one CPU and its execution engine, and the loop that runs them
 * on deterministic virtual time.
 */
export class Machine {
  readonly phys: PhysMem;
  readonly io = new IoBus();
  readonly clock = new VirtualClock();
  readonly cpu: Cpu;
  readonly engine: Engine;
  readonly platform: PcPlatform;
  exitValue: number | null = null;
  stopReason: StopReason | null = null;
  tripleFaultState: string | null = null;
  resetCount = 0;
  /** Guest time at which the running slice's instruction budget ends (see cpu.deviceKick). */
  private sliceEndNs = Infinity;

  constructor(opts: MachineOptions) {
    this.phys = new PhysMem(opts.memMiB * 1024 * 1024);
    this.cpu = new Cpu(this.phys.memory, this.phys, this.io);
    this.engine = new Engine(this.cpu, { hotTier: (opts.engine ?? 'jit') === 'jit', hotThreshold: opts.hotThreshold });
    this.phys.onWrite = (p, len) => {
      for (let page = p - (p % 4096); page < p + len; page += 4096) {
        if (!this.cpu.code.isCodePage(page)) continue;
        const lo = Math.max(p, page);
        this.cpu.code.invalidatePhys(lo, Math.min(p + len, page + 4096) - lo);
      }
    };
    const control: MachineControl = {
      requestExit: (v) => { this.exitValue = v; this.stop('exit'); },
      requestReset: () => { this.resetCount++; this.stop('reset'); },
      requestPowerOff: () => this.stop('poweroff'),
    };
    // ACPI tables live in the reserved BIOS area (0xF0000), so they cost bare-metal kernels nothing.
    this.platform = createPcPlatform({ io: this.io, mem: this.phys, clock: this.clock, control, ramBytes: this.phys.ramBytes, serialOut: opts.serialOut ?? (() => {}), acpi: true });
    (opts.disks ?? []).forEach((d, i) => attachVirtioBlk(this.platform, this.phys, d, { slot: 4 + i }));
    this.clock.setInstructionSource(() => this.cpu.st.icount);
    this.cpu.tscSource = () => this.clock.nowNs();
    // at 1 ns per instruction, generated code computes the TSC itself (see L.TSC_BASE)
    this.cpu.inlineTsc = this.clock.nsPerInstr === 1;
    this.clock.onSkip = () => this.mirrorTscBase();
    this.cpu.intc = this.platform.intc;
    const intc = this.platform.intc;
    // Most device accesses (a UART status poll, a virtio notify) change nothing the machine loop
    // must act on before the next block: return to it only when they do.
    this.cpu.deviceKick = () => this.cpu.stopRequested || intc.hasInterrupt() || intc.hasNmi() || this.clock.nextDeadline() < this.sliceEndNs;
    const lapic = this.platform.lapic;
    this.cpu.msrDevice = lapic.msrHooks(() => { throw fault(Vec.GP, 0); });
    this.cpu.setTpr = (v) => { lapic.taskPriority = v; };
    this.cpu.getTpr = () => lapic.taskPriority;
    this.cpu.tscOffsetChanged = (off) => lapic.setTscOffset(Number(off));
    FEATURES.apic = FEATURES.x2apic = FEATURES.tscDeadline = true;
    resetCpu(this.cpu);
  }

  /** Keep L.TSC_BASE equal to the clock's skipped time (a CPU reset clears the state block). */
  private mirrorTscBase(): void {
    this.cpu.st.setNum(L.TSC_BASE, Math.floor(this.clock.skippedNs));
  }

  stop(reason: StopReason): void {
    if (!this.stopReason) this.stopReason = reason;
    this.cpu.stopRequested = true;
    this.cpu.kick();
  }

  boot(bs: BootState): void {
    this.engine.flushAll();
    applyBootState(this.cpu, bs);
    this.mirrorTscBase();
  }

  private deliverFault = (f: GuestFault): void => {
    try {
      deliverEvent(this.cpu, f.vector, EventKind.Exception, f.errorCode);
    } catch (e) {
      if (e instanceof TripleFault) {
        this.tripleFaultState = describeCpu(this.cpu);
        this.stop('triple-fault');
        return;
      }
      throw e;
    }
  };

  /** Deliver a pending NMI or maskable interrupt if the CPU can take it now. */
  private checkInterrupts(): void {
    const cpu = this.cpu;
    const intc = cpu.intc;
    if (!intc || cpu.intShadow) return;
    try {
      if (intc.takeNmi()) { deliverEvent(cpu, 2, EventKind.External, -1); return; }
      if ((cpu.st.get32(L.RFLAGS) & IF) && intc.hasInterrupt()) {
        const v = intc.acknowledge();
        cpu.stats.interrupts++;
        deliverEvent(cpu, v, EventKind.External, -1);
      }
    } catch (e) {
      if (e instanceof TripleFault) { this.tripleFaultState = describeCpu(cpu); this.stop('triple-fault'); return; }
      if ((e as GuestFault).vector !== undefined) { this.deliverFault(e as GuestFault); return; }
      throw e;
    }
  }

  /**
   * Run synchronously for at most `wallMs` of host time (then return so the event loop can breathe).
   * Returns true while the machine can still make progress.
   */
  runSlice(wallMs: number): boolean {
    const cpu = this.cpu;
    const t0 = Date.now();
    let n = 0;
    while (!cpu.stopRequested) {
      this.clock.runDue();
      this.checkInterrupts();
      if (cpu.stopRequested) break;
      if (cpu.halted) {
        // HLT with interrupts off can never wake (NMIs are taken above); else jump to the next timer
        if (!(cpu.st.get32(L.RFLAGS) & IF)) { this.stop('halted'); break; }
        const next = this.clock.nextDeadline();
        if (next === Infinity) return true; // waiting for host input
        this.clock.skipTo(next);
        continue;
      }
      const before = this.engine.stats.blocksExecuted;
      // run until the next timer is due (virtual time is retired instructions), at most a slice
      const untilTimer = Math.ceil(this.clock.nextDeadline() - this.clock.nowNs());
      const budget = Math.max(1, Math.min(SLICE_INSNS, untilTimer));
      this.sliceEndNs = this.clock.nowNs() + budget * this.clock.nsPerInstr;
      this.engine.run(budget, this.deliverFault);
      if (this.engine.stats.blocksExecuted !== before) cpu.intShadow = false;
      if ((++n & 15) === 0 && Date.now() - t0 >= wallMs) break;
    }
    return !cpu.stopRequested;
  }
}

