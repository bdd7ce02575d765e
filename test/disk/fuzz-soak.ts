/** Long fuzz run: node dist/test/disk/fuzz-soak.js [CASES] [SEED] */
import { runFuzz } from './fuzz-core.js';

const cases = Number(process.argv[2] ?? 200_000);
const seed = Number(process.argv[3] ?? Date.now() % 1e9);
const t = Date.now();
const r = runFuzz(cases, seed, 200);
console.log(JSON.stringify({ seed, ...r, failures: r.failures.slice(0, 5), seconds: (Date.now() - t) / 1000 }));
if (r.failures.length) process.exitCode = 1;
