import { TLB_BASE, TLB_ENTRIES, TLB_ENTRY_SIZE, TLB_BANK_SIZE, RAM_BASE, PAGE_MASKS } from './layout.js';

const WORDS = TLB_ENTRY_SIZE >> 2;
/** Large-page sizes (2 MiB, 4 MiB, 1 GiB) as offset masks; index 0 stands for a 4 KiB page. */
const LARGE_MASKS: readonly number[] = PAGE_MASKS;

/**
 * The software TLB in Wasm memory, read by the generated fast paths. Entries are per 4 KiB linear
 * page, in two banks (CPL 0-2 and CPL 3). A tag of all ones never matches. TypeScript fills entries
 * after a page walk and flushes them on CR3/INVLPG/mode changes; non-global and large-page entries
 * are tracked so that those flushes touch only what they must.
 */
export class Tlb {
  private readonly u32: Uint32Array;
  /** Per entry: 0 invalid, 1 filled from a non-global translation, 2 from a global one. */
  private readonly kind = new Uint8Array(2 * TLB_ENTRIES);
  /** Entries filled non-global since the last flush (may repeat or be stale: `kind` decides). */
  private nonGlobal: number[] = [];
  /**
   * Per entry: which large page it was filled from (index into LARGE_MASKS, 0: a 4 KiB page), so
   * INVLPG of any address inside a large page finds its entries among the few indices it can occupy.
   */
  private readonly large = new Uint8Array(2 * TLB_ENTRIES);
  private readonly largeCount = new Int32Array(LARGE_MASKS.length);
  /**
   * Per large-page size: the large pages (linear base >> 21, with the high half) that entries may
   * have been filled from since they were last flushed. INVLPG of an address in none of them — the
   * common case: Linux maps its direct map with 1 GiB pages but invalidates 4 KiB pages — scans nothing.
   */
  private readonly largeBases = LARGE_MASKS.map(() => new Set<number>());
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
    if (global) this.kind[e] = 2;
    else {
      if (this.kind[e] !== 1) this.nonGlobal.push(e);
      this.kind[e] = 1;
    }
    const code = pageMask > 0xfff ? LARGE_MASKS.indexOf(pageMask) : 0;
    this.setLarge(e, code);
    if (code) this.largeBases[code].add(Tlb.largeKey(lo & ~pageMask, hi));
  }

  private static largeKey(base: number, hi: number): number {
    return (hi >>> 0) * 2048 + Math.floor((base >>> 0) / 0x20_0000);
  }

  private setLarge(e: number, code: number): void {
    const old = this.large[e];
    if (old === code) return;
    this.largeCount[old]--;
    this.largeCount[code]++;
    this.large[e] = code;
  }

  private invalidate(e: number): void {
    const w = e * WORDS;
    const u = this.u32;
    u[w] = u[w + 1] = u[w + 2] = u[w + 3] = 0xffffffff;
    this.kind[e] = 0;
    this.setLarge(e, 0);
  }

  /** Flush everything (includeGlobal) or every non-global entry (a CR3 write). */
  flushAll(includeGlobal: boolean): void {
    this.flushes++;
    if (includeGlobal) {
      this.u32.fill(0xffffffff);
      this.kind.fill(0);
      this.large.fill(0);
      this.largeCount.fill(0);
      for (const b of this.largeBases) b.clear();
      this.nonGlobal = [];
      return;
    }
    for (const e of this.nonGlobal) if (this.kind[e] === 1) this.invalidate(e);
    this.nonGlobal = [];
  }

  /** INVLPG: drop the entry for this page, and every entry filled from a large page covering it. */
  flushPage(lo: number, hi: number): void {
    const idx = (lo >>> 12) & (TLB_ENTRIES - 1);
    for (let bank = 0; bank < 2; bank++) this.invalidate(bank * TLB_ENTRIES + idx);
    const u = this.u32;
    for (let code = 1; code < LARGE_MASKS.length; code++) {
      if (this.largeCount[code] === 0) continue;
      const m = LARGE_MASKS[code];
      const key = Tlb.largeKey(lo & ~m, hi);
      if (!this.largeBases[code].delete(key)) continue;
      // the 4 KiB pieces of the large page around `lo` sit at consecutive indices
      const first = (lo & ~m) >>> 12;
      const n = Math.min(TLB_ENTRIES, (m + 1) / 4096);
      for (let bank = 0; bank < 2; bank++) {
        for (let k = 0; k < n; k++) {
          const e = bank * TLB_ENTRIES + ((first + k) & (TLB_ENTRIES - 1));
          if (this.large[e] !== code) continue;
          const w = e * WORDS;
          if (u[w + 1] === hi >>> 0 && ((u[w] & ~m) >>> 0) === ((lo & ~m) >>> 0)) this.invalidate(e);
        }
      }
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
