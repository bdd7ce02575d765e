/**
 * Instruction-form coverage: how many iced-x86 `Code` values (one per encoding form) have
 * semantics in vmrun, by encoding. Prints JSON. Run: npx tsc -p . && node dist/bench/coverage.js
 */
import { Code, CodeExt, Mnemonic } from '../src/cpu/iced.js';
import { SEM } from '../src/cpu/sem/index.js';

const ENCODING = ['legacy', 'vex', 'evex', 'xop', '3dnow', 'mvex'];
const names: string[] = [];
for (const [k, v] of Object.entries(Mnemonic)) if (typeof v === 'number') names[v] = k;

const byEncoding: Record<string, { forms: number; implemented: number }> = {};
const missing = new Map<string, number>();
let total = 0, implemented = 0;
for (const [name, code] of Object.entries(Code)) {
  if (typeof code !== 'number') continue;
  const info = CodeExt.opCode(code);
  try {
    if (!info.isInstruction || name.startsWith('DeclareByte') || name.startsWith('Declare')) continue;
    const enc = ENCODING[info.encoding] ?? String(info.encoding);
    const e = (byEncoding[enc] ??= { forms: 0, implemented: 0 });
    e.forms++;
    total++;
    if (SEM[info.mnemonic] && enc === 'legacy') { e.implemented++; implemented++; }
    else if (enc === 'legacy') missing.set(names[info.mnemonic], (missing.get(names[info.mnemonic]) ?? 0) + 1);
  } finally {
    info.free();
  }
}
const top = [...missing].sort((a, b) => b[1] - a[1]);
process.stdout.write(JSON.stringify({ totalForms: total, implementedForms: implemented, byEncoding, missingLegacyMnemonics: top.length, missingLegacyExamples: top.slice(0, 60).map(([m]) => m) }, null, 2) + '\n');
