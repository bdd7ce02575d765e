import { TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_BANK_SIZE, RAM_BASE } from './layout.js';

const WORDS = TLB_ENTRY_SIZE >> 2;

/**
 * The software TLB in Wasm memory, read by the generated fast paths. Entries are per 4 KiB linear
 * page, in two banks (CPL 0-2 and CPL 3). A tag of all ones never matches. TypeScript fills entries
 * after a page walk and flushes them on CR3/INVLPG/mode changes; global and large-page entries are
 * tracked in sets so that those flushes touch only what they must.
 */
export class Tlb {
  private readonly u32: Uint32Array;
  /** Entries filled from global translations (they survive CR3 writes). */
  private readonly globals = new Set<number>();
  /** Entry → large-page mask, for INVLPG of any address inside a large page. */
  private readonly large = new Map<number, number>();
  flushes = 0;

  constructor(memory: WebAssembly.Memory) {
    this.u32 = new Uint32Array(memory.buffer, TLB_BASE, (2 * TLB_BANK_SIZE) / 4);
    this.flushAll(true);
  }

  static bankBase(user: boolean): number {
    return TLB_BASE + (user ? TLB_BANK_SIZE : 0);
  }

  /**
   * Map linear page (lo, hi) to guest-physical page `physPage` (RAM) in a bank, readable and optionally writable.
   */
  fill(bank: number, lo: number, hi: number, physPage: number, writable: boolean, global: boolean, pageMask: number): void {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    const e = bank * TLB_ENTRIES + idx;
    const w = e * WORDS;
    const tagLo = (lo & ~0xfff) >>> 0;
    const u = this.u32;
    u[w] = tagLo; u[w + 1] = hi >>> 0;
    if (writable) { u[w + 2] = tagLo; u[w + 3] = hi >>> 0; } else { u[w + 2] = 0xffffffff; u[w + 3] = 0xffffffff; }
    // addend = host - linear (mod 2^64)
    const host = RAM_BASE + physPage;
    const aLo = (host - tagLo) >>> 0;
    const borrow = host < tagLo ? 1 : 0;
    u[w + 4] = aLo; u[w + 5] = (0 - hi - borrow) >>> 0;
    if (global) this.globals.add(e); else this.globals.delete(e);
    if (pageMask > 0xfff) this.large.set(e, pageMask); else this.large.delete(e);
  }

  private invalidate(e: number): void {
    const w = e * WORDS;
    const u = this.u32;
    u[w] = u[w + 1] = u[w + 2] = u[w + 3] = 0xffffffff;
    this.globals.delete(e);
    this.large.delete(e);
  }

  /** Flush everything (includeGlobal) or every non-global entry (a CR3 write). */
  flushAll(includeGlobal: boolean): void {
    this.flushes++;
    if (includeGlobal || this.globals.size === 0) {
      this.u32.fill(0xffffffff);
      this.globals.clear();
      this.large.clear();
      return;
    }
    // keep the global entries: save them, wipe the whole array natively, put them back
    const keep: [number, Uint32Array, number | undefined][] = [];
    for (const e of this.globals) keep.push([e, this.u32.slice(e * WORDS, e * WORDS + WORDS), this.large.get(e)]);
    this.u32.fill(0xffffffff);
    this.large.clear();
    for (const [e, words, mask] of keep) {
      this.u32.set(words, e * WORDS);
      if (mask !== undefined) this.large.set(e, mask);
    }
  }

  /** INVLPG: drop the entry for this page, and every entry filled from a large page covering it. */
  flushPage(lo: number, hi: number): void {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    for (let bank = 0; bank < 2; bank++) this.invalidate(bank * TLB_ENTRIES + idx);
    if (this.large.size === 0) return;
    const u = this.u32;
    for (const [e, m] of this.large) {
      const w = e * WORDS;
      if (u[w + 1] === hi >>> 0 && ((u[w] & ~m) >>> 0) === ((lo & ~m) >>> 0)) this.invalidate(e);
    }
  }

  /** Drop write permission from entries mapping physical page `physPage` (it now holds translated code). */
  protectPhysPage(physPage: number): void {
    const host = RAM_BASE + physPage;
    const u = this.u32;
    for (let e = 0; e < 2 * TLB_ENTRIES; e++) {
      const w = e * WORDS;
      if (u[w + 2] === 0xffffffff && u[w + 3] === 0xffffffff) continue;
      if (((u[w + 2] + u[w + 4]) >>> 0) === host) { u[w + 2] = 0xffffffff; u[w + 3] = 0xffffffff; }
    }
  }
}
