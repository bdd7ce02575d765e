import type { Gen } from './gen.js';

/** An instruction's semantics: emits Wasm for the decoded instruction in `g.insn`. */
export type Semantics = (g: Gen) => void;

/** Semantics by iced-x86 Mnemonic. Each group file registers its entries at import time. */
export const SEM: (Semantics | undefined)[] = [];

export function def(mnemonics: number | number[], fn: Semantics): void {
  for (const m of Array.isArray(mnemonics) ? mnemonics : [mnemonics]) SEM[m] = fn;
}
