import { UsageError } from '../cli/errors.js';
import type { PhysMem } from '../mmu/physmem.js';
import type { BootState } from './boot-state.js';
import { isElf } from './elf.js';
import { loadElf64 } from './elf64.js';
import { findMb1Header, loadMultiboot1 } from './multiboot1.js';
import { findMb2Header, loadMultiboot2 } from './multiboot2.js';
import type { LoadOptions } from './options.js';

export type { BootState } from './boot-state.js';
export type { LoadOptions } from './options.js';

/**
 * Detects the kernel's boot protocol and loads it into guest RAM. Multiboot v1 wins over v2 when
 * an image has both (as QEMU's -kernel does) unless `opts.protocol` says otherwise; an x86-64
 * ELF without either header uses vmrun's ELF64 convention. Any bad image throws UsageError.
 */
export function loadKernel(mem: PhysMem, file: Uint8Array, opts: LoadOptions = {}): BootState {
  try {
    return detectAndLoad(mem, file, opts);
  } catch (e) {
    // A loader bug must still not show the user a stack trace for what is most likely bad input.
    if (e instanceof RangeError) throw new UsageError(`kernel: malformed image (${e.message})`);
    throw e;
  }
}

function detectAndLoad(mem: PhysMem, file: Uint8Array, opts: LoadOptions): BootState {
  if (file.length === 0) throw new UsageError('kernel: file is empty');
  const mb1 = findMb1Header(file);
  const mb2 = findMb2Header(file);
  const want = opts.protocol;
  if (want === 'multiboot1' || (!want && mb1)) {
    if (!mb1) throw new UsageError('kernel: no multiboot v1 header in the first 8 KiB');
    return loadMultiboot1(mem, file, mb1, opts);
  }
  if (want === 'multiboot2' || (!want && mb2)) {
    if (!mb2) throw new UsageError('kernel: no multiboot2 header in the first 32 KiB');
    return loadMultiboot2(mem, file, mb2, opts);
  }
  if (isElf(file)) return loadElf64(mem, file, opts);
  throw new UsageError('kernel: unrecognised image (no multiboot header and not an ELF file)');
}
