// Divergences between vmrun and the host CPU that are understood and accepted.
// Each entry must name its reason (an SDM reference, a vendor difference, a
// deliberate vmrun choice) so that a mismatch is never silenced without one.
// Empty on purpose: add entries only with a justification in `why`.
import type { Diff } from './compare.js';
import type { Sequence } from './gen.js';

export interface Explanation {
  why: string;
  matches(seq: Sequence, diffs: readonly Diff[]): boolean;
}

export const EXPLAINED: readonly Explanation[] = [];

export function explain(seq: Sequence, diffs: Diff[]): string | undefined {
  return EXPLAINED.find((e) => e.matches(seq, diffs))?.why;
}
