import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { BootState } from './boot-state.js';
import type { KernelOptions } from './bootparams.js';
import { isElf } from './elf.js';
import { loadElf64 } from './elf64.js';
import { isBzImage, loadLinux } from './linux.js';
import { findMb1Header, loadMultiboot1 } from './multiboot1.js';
import { findMb2Header, loadMultiboot2 } from './multiboot2.js';
import type { LoadOptions as MultibootOptions } from './options.js';
import { findPvhEntry, loadPvh } from './pvh.js';

export type { BootState } from './boot-state.js';
export type { KernelOptions as LoadOptions } from './bootparams.js';

/**
 * Detects the kernel's boot protocol and loads it into guest RAM. Multiboot v1 wins over v2 when
 * an image has both (as QEMU's -kernel does) unless `opts.protocol` says otherwise; then a Linux
 * bzImage, then an x86-64 ELF with a PVH entry note, and an ELF without any of these uses
 * vmrun's ELF64 convention. Any bad image throws UsageError.
 */
export function loadKernel(mem: PhysMem, file: Uint8Array, opts: KernelOptions = {}): BootState {
  try {
    return detectAndLoad(mem, file, opts);
  } catch (e) {
    // A loader bug must still not show the user a stack trace for what is most likely bad input.
    if (e instanceof RangeError) throw new UsageError(`kernel: malformed image (${e.message})`);
    throw e;
  }
}

/** The multiboot loaders know nothing of an initrd: like QEMU, hand it over as the last module. */
function multibootOptions(opts: KernelOptions): MultibootOptions {
  const { initrd, rsdp: _rsdp, reserved: _reserved, protocol, ...rest } = opts;
  const modules = initrd ? [...(rest.modules ?? []), { name: 'initrd', data: initrd }] : rest.modules;
  return { ...rest, modules, protocol: protocol === 'linux' || protocol === 'pvh' ? undefined : protocol };
}

function detectAndLoad(mem: PhysMem, file: Uint8Array, opts: KernelOptions): BootState {
  if (file.length === 0) throw new UsageError('kernel: file is empty');
  const want = opts.protocol;
  if (want === 'linux') return loadLinux(mem, file, opts);
  if (want === 'pvh') {
    const entry = findPvhEntry(file);
    if (entry === null) throw new UsageError('kernel: no PVH entry note (Xen ELF note 18) in the kernel');
    return loadPvh(mem, file, entry, opts);
  }
  const mb1 = findMb1Header(file);
  const mb2 = findMb2Header(file);
  if (want === 'multiboot1' || (!want && mb1)) {
    if (!mb1) throw new UsageError('kernel: no multiboot v1 header in the first 8 KiB');
    return loadMultiboot1(mem, file, mb1, multibootOptions(opts));
  }
  if (want === 'multiboot2' || (!want && mb2)) {
    if (!mb2) throw new UsageError('kernel: no multiboot2 header in the first 32 KiB');
    return loadMultiboot2(mem, file, mb2, multibootOptions(opts));
  }
  if (!want && isBzImage(file)) return loadLinux(mem, file, opts);
  if (isElf(file)) {
    const pvh = want ? null : findPvhEntry(file);
    if (pvh !== null) return loadPvh(mem, file, pvh, opts);
    return loadElf64(mem, file, multibootOptions(opts));
  }
  throw new UsageError('kernel: unrecognised image (no multiboot or Linux setup header and not an ELF file)');
}
