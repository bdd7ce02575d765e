import { TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_BANK_SIZE, RAM_BASE } from './layout.js';

/**
 * The software TLB in Wasm memory, read by the runtime module's fast paths. Entries are per 4 KiB
 * linear page, in two banks (CPL 0-2 and CPL 3). A tag of all ones never matches.
 * TypeScript fills entries after a page walk and flushes them on CR3/INVLPG/mode changes.
 */
export class Tlb {
  private readonly u32: Uint32Array;
  /** Per entry: 0 = not global, else the large-page mask used when filling (for INVLPG on large pages). */
  private readonly global = new Uint8Array(2 * TLB_ENTRIES);
  private readonly large = new Int32Array(2 * TLB_ENTRIES);
  private anyLarge = false;
  flushes = 0;

  constructor(memory: WebAssembly.Memory) {
    this.u32 = new Uint32Array(memory.buffer, TLB_BASE, (2 * TLB_BANK_SIZE) / 4);
    this.flushAll(true);
  }

  static bankBase(user: boolean): number {
    return TLB_BASE + (user ? TLB_BANK_SIZE : 0);
  }

  private w(bank: number, idx: number): number {
    return (bank * TLB_BANK_SIZE + idx * TLB_ENTRY_SIZE) >> 2;
  }

  /**
   * Map linear page (lo, hi) to guest-physical page `physPage` (RAM) in a bank, readable and optionally writable.
   */
  fill(bank: number, lo: number, hi: number, physPage: number, writable: boolean, global: boolean, pageMask: number): void {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    const w = this.w(bank, idx);
    const tagLo = (lo & ~0xfff) >>> 0;
    const u = this.u32;
    u[w] = tagLo; u[w + 1] = hi >>> 0;
    if (writable) { u[w + 2] = tagLo; u[w + 3] = hi >>> 0; } else { u[w + 2] = 0xffffffff; u[w + 3] = 0xffffffff; }
    // addend = host - linear (mod 2^64)
    const host = RAM_BASE + physPage;
    const aLo = (host - tagLo) >>> 0;
    const borrow = host < tagLo ? 1 : 0;
    u[w + 4] = aLo; u[w + 5] = (0 - hi - borrow) >>> 0;
    const e = bank * TLB_ENTRIES + idx;
    this.global[e] = global ? 1 : 0;
    this.large[e] = pageMask > 0xfff ? pageMask : 0;
    if (pageMask > 0xfff) this.anyLarge = true;
  }

  private invalidate(e: number): void {
    const w = e * (TLB_ENTRY_SIZE >> 2);
    const u = this.u32;
    u[w] = u[w + 1] = u[w + 2] = u[w + 3] = 0xffffffff;
    this.global[e] = 0;
    this.large[e] = 0;
  }

  /** Flush everything (includeGlobal) or every non-global entry (a CR3 write). */
  flushAll(includeGlobal: boolean): void {
    this.flushes++;
    for (let e = 0; e < 2 * TLB_ENTRIES; e++) if (includeGlobal || !this.global[e]) this.invalidate(e);
    if (includeGlobal) this.anyLarge = false;
  }

  /** INVLPG: drop the entry for this page, and every entry filled from a large page covering it. */
  flushPage(lo: number, hi: number): void {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    for (let bank = 0; bank < 2; bank++) this.invalidate(bank * TLB_ENTRIES + idx);
    if (!this.anyLarge) return;
    const u = this.u32;
    for (let e = 0; e < 2 * TLB_ENTRIES; e++) {
      const m = this.large[e];
      if (!m) continue;
      const w = e * (TLB_ENTRY_SIZE >> 2);
      if (u[w + 1] === hi >>> 0 && ((u[w] & ~m) >>> 0) === ((lo & ~m) >>> 0)) this.invalidate(e);
    }
  }

  /** Drop write permission from entries mapping physical page `physPage` (it now holds translated code). */
  protectPhysPage(physPage: number): void {
    const host = RAM_BASE + physPage;
    const u = this.u32;
    for (let e = 0; e < 2 * TLB_ENTRIES; e++) {
      const w = e * (TLB_ENTRY_SIZE >> 2);
      if (u[w + 2] === 0xffffffff && u[w + 3] === 0xffffffff) continue;
      if (((u[w + 2] + u[w + 4]) >>> 0) === host) { u[w + 2] = 0xffffffff; u[w + 3] = 0xffffffff; }
    }
  }
}
