// What a read returns when nothing drives the data lines: all ones, at the access width.

import type { IoSize } from './types.js';

export function allOnes(size: IoSize): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}
