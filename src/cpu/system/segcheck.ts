import type { Cpu } from '../cpu.js';
import { ATTR_UNUSABLE } from '../cpu.js';
import { fault, Vec } from '../exception.js';
import { Seg } from '../state-layout.js';
import { CR0_PE } from '../../mmu/paging.js';

/**
 * Limit and type check for a data access through a segment outside 64-bit mode, called by
 * generated code when the segment is not flat (SDM vol. 3 §5.3, §5.4). #SS for SS, else #GP(0).
 */
export function segCheck(cpu: Cpu, seg: number, off: number, size: number, write: boolean): void {
  const st = cpu.st;
  const vec = seg === Seg.SS ? Vec.SS : Vec.GP;
  const attr = st.segAttr(seg);
  const pm = (st.cr0 & CR0_PE) !== 0;
  if (pm) {
    if (attr & ATTR_UNUSABLE) throw fault(vec, 0);
    const type = attr & 0xf;
    if (type & 8) {
      // code segment: never writable; readable only with R
      if (write || !(type & 2)) throw fault(vec, 0);
    } else if (write && !(type & 2)) throw fault(vec, 0);
    if (!(type & 8) && (type & 4)) {
      // expand-down: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF
      const upper = attr & (1 << 14) ? 0xffffffff : 0xffff;
      const limit = st.segLimit(seg);
      if (off <= limit || off + size - 1 > upper) throw fault(vec, 0);
      return;
    }
  }
  const limit = st.segLimit(seg);
  if (off + size - 1 > limit) throw fault(vec, 0);
}
