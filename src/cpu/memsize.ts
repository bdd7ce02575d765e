import { MemorySizeExt } from './iced.js';

/** Bytes accessed by each iced MemorySize value (0 when unknown/variable). */
export const MEMSIZE_BYTES: number[] = [];
for (let i = 0; i < 200; i++) {
  try { MEMSIZE_BYTES.push(MemorySizeExt.size(i)); } catch { MEMSIZE_BYTES.push(0); }
}
